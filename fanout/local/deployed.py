"""The deployed stack, read back from the endpoint: outputs, functions and event source mappings.

Everything a function runner needs comes from here, as Lambda would see it: the handler, the environment
variables, the timeout and the role of each function (Lambda's GetFunctionConfiguration), and the
settings of each event source mapping (ListEventSourceMappings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fanout import registry
from fanout.local.provision import ChannelResources, Resources

ROUTER_FUNCTION_NAME = "RouterFunctionName"  # infra/stack.py's output names (no CDK import here)
LEDGER_TABLE_NAME = "LedgerTableName"
TASK_TABLE_NAME = "TaskTableName"
EVENTS_TABLE_NAME = "EventsTableName"
OPERATOR_ROLE_ARN = "OperatorRoleArn"


@dataclass(frozen=True)
class DeployedMapping:
    uuid: str
    source_arn: str
    enabled: bool
    batch_size: int
    max_concurrency: int | None
    batching_window_s: int
    report_item_failures: bool
    bisect: bool
    retry_attempts: int | None  # None: until the record expires
    max_record_age_s: int | None
    on_failure_arn: str | None

    @classmethod
    def from_api(cls, m: dict[str, Any]) -> DeployedMapping:
        scaling = m.get("ScalingConfig") or {}
        destination = ((m.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        retries = m.get("MaximumRetryAttempts")
        age = m.get("MaximumRecordAgeInSeconds")
        return cls(
            uuid=str(m["UUID"]),
            source_arn=str(m.get("EventSourceArn", "")),
            enabled=str(m.get("State", "Enabled")) in {"Enabled", "Enabling", "Updating", "Creating"},
            batch_size=int(m.get("BatchSize") or 10),
            max_concurrency=scaling.get("MaximumConcurrency"),
            batching_window_s=int(m.get("MaximumBatchingWindowInSeconds") or 0),
            report_item_failures="ReportBatchItemFailures" in (m.get("FunctionResponseTypes") or []),
            bisect=bool(m.get("BisectBatchOnFunctionError")),
            retry_attempts=None if retries in (None, -1) else int(retries),
            max_record_age_s=None if age in (None, -1) else int(age),
            on_failure_arn=str(destination) if destination else None,
        )


@dataclass(frozen=True)
class DeployedFunction:
    name: str
    arn: str
    handler: str
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int
    role_arn: str
    mappings: tuple[DeployedMapping, ...]

    @property
    def mapping(self) -> DeployedMapping:
        if len(self.mappings) != 1:
            raise LookupError(f"function {self.name} has {len(self.mappings)} event source mappings, not one")
        return self.mappings[0]


def read_function(lam: Any, name: str) -> DeployedFunction:
    config = lam.get_function_configuration(FunctionName=name)
    mappings = [
        DeployedMapping.from_api(m)
        for page in lam.get_paginator("list_event_source_mappings").paginate(FunctionName=name)
        for m in page.get("EventSourceMappings", [])
    ]
    return DeployedFunction(
        name=str(config["FunctionName"]),
        arn=str(config["FunctionArn"]),
        handler=str(config["Handler"]),
        environment=dict((config.get("Environment") or {}).get("Variables") or {}),
        timeout_s=int(config.get("Timeout") or 3),
        memory_mb=int(config.get("MemorySize") or 128),
        role_arn=str(config["Role"]),
        mappings=tuple(mappings),
    )


@dataclass(frozen=True)
class DeployedStack:
    outputs: dict[str, str]
    router: DeployedFunction
    consumers: dict[str, DeployedFunction]  # channel -> its consumer
    resources: Resources

    @property
    def functions(self) -> list[DeployedFunction]:
        return [self.router, *self.consumers.values()]


def read_stack(
    lam: Any,
    dynamodb: Any,
    outputs: dict[str, str],
    settings: dict[str, registry.ChannelSettings],
    *,
    github_token_secret: str,
) -> DeployedStack:
    """The channels are those the registry knows and the stack has outputs for."""
    channels = [
        name for name in registry.CHANNELS if registry.output_key(name, registry.OUTPUT_QUEUE_URL) in outputs
    ]

    def out(channel: str, what: str) -> str:
        return outputs[registry.output_key(channel, what)]

    consumers = {name: read_function(lam, out(name, registry.OUTPUT_CONSUMER_NAME)) for name in channels}
    events_table = outputs[EVENTS_TABLE_NAME]
    stream_arn = dynamodb.describe_table(TableName=events_table)["Table"].get("LatestStreamArn", "")
    resources = Resources(
        task_table=outputs[TASK_TABLE_NAME],
        events_table=events_table,
        ledger_table=outputs[LEDGER_TABLE_NAME],
        stream_arn=str(stream_arn),
        channels={
            name: ChannelResources(
                name=name,
                queue_url=out(name, registry.OUTPUT_QUEUE_URL),
                queue_arn=out(name, registry.OUTPUT_QUEUE_ARN),
                dlq_url=out(name, registry.OUTPUT_DLQ_URL),
                dlq_arn=out(name, registry.OUTPUT_DLQ_ARN),
                settings=settings.get(name) or registry.get(name).settings,
            )
            for name in channels
        },
        github_token_secret=github_token_secret,
    )
    return DeployedStack(
        outputs=outputs,
        router=read_function(lam, outputs[ROUTER_FUNCTION_NAME]),
        consumers=consumers,
        resources=resources,
    )
