"""Find a channel's queues, consumer and event source mapping: from a deployed stack (`--stack`) or from
the local naming scheme (`--queue-prefix`).

A stack is read through its outputs (the standalone FanoutStack has them); a stack that embeds the
FanoutNotifications construct has none of them, so its resources are listed and recognised by the tags
the construct puts on each queue, DLQ and consumer function (fanout/resource_tags.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanout import registry, resource_tags
from fanout.ops.errors import OpsError, UsageError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
else:
    CloudFormationClient = LambdaClient = SQSClient = Any


MAX_NESTING = 3  # nested stacks followed when looking for an embedded construct


@dataclass(frozen=True)
class ChannelTarget:
    channel: str
    queue_url: str
    dlq_url: str
    queue_arn: str | None = None
    dlq_arn: str | None = None
    consumer_name: str | None = None
    esm_id: str | None = None


@dataclass(frozen=True)
class Target:
    """What `--stack` or `--queue-prefix` selected."""

    source: str  # "stack" | "prefix"
    name: str
    channels: Mapping[str, ChannelTarget]

    @property
    def deployed(self) -> bool:
        return self.source == "stack"

    def channel(self, name: str) -> ChannelTarget:
        return self.channels[name]


def check_channels(names: Iterable[str] | None) -> list[str]:
    """The channels asked for (all when None), or UsageError naming the unknown one."""
    if names is None:
        return list(registry.CHANNELS)
    chosen = list(names)
    for name in chosen:
        if name not in registry.CHANNELS:
            raise UsageError(f"unknown channel {name!r}; channels: {', '.join(registry.CHANNELS)}")
    return chosen


def check_selector(stack: str | None, queue_prefix: str | None) -> None:
    if (stack is None) == (queue_prefix is None):
        raise UsageError("give exactly one of --stack NAME (a deployed stack) or --queue-prefix PREFIX")


def from_stack(
    cfn: CloudFormationClient,
    stack: str,
    channels: Iterable[str],
    *,
    skip_absent: bool = False,
    sqs: SQSClient | None = None,
    lam: LambdaClient | None = None,
) -> Target:
    """The channels' resources from the stack's outputs, else (given `sqs` and `lam`) from its tags.
    `skip_absent`: the channels were not named by the operator (all of the registry's), so those the
    stack does not deploy are left out rather than an error (a channel may be off in a deployment)."""
    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "ValidationError" in _codes(exc) and "does not exist" in str(exc):
            raise OpsError(f"stack {stack!r} not found (check --stack and --region)") from None
        raise
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for s in stacks for o in s.get("Outputs", [])}
    chosen = list(channels)
    if skip_absent:  # the stack's outputs name the channels it deploys
        chosen = [
            c for c in chosen if outputs.get(registry.output_key(c, registry.OUTPUT_QUEUE_URL))
        ] or chosen
    required = (registry.OUTPUT_QUEUE_URL, registry.OUTPUT_DLQ_URL)
    missing = [
        registry.output_key(c, w)
        for c in chosen
        for w in required
        if not outputs.get(registry.output_key(c, w))
    ]
    if missing and sqs is not None and lam is not None:
        return Target(
            source="stack",
            name=stack,
            channels=_from_tags(cfn, sqs, lam, stack, chosen, skip_absent=skip_absent),
        )
    if missing:
        raise OpsError(f"stack {stack!r} has no output {missing[0]}: is it a fanout stack?")

    def output(channel: str, what: str) -> str | None:
        return outputs.get(registry.output_key(channel, what)) or None

    found = {}
    for channel in chosen:
        found[channel] = ChannelTarget(
            channel=channel,
            queue_url=str(output(channel, registry.OUTPUT_QUEUE_URL)),
            dlq_url=str(output(channel, registry.OUTPUT_DLQ_URL)),
            queue_arn=output(channel, registry.OUTPUT_QUEUE_ARN),
            dlq_arn=output(channel, registry.OUTPUT_DLQ_ARN),
            consumer_name=output(channel, registry.OUTPUT_CONSUMER_NAME),
            esm_id=output(channel, registry.OUTPUT_EVENT_SOURCE_MAPPING_ID),
        )
    return Target(source="stack", name=stack, channels=found)


def _from_tags(
    cfn: CloudFormationClient,
    sqs: SQSClient,
    lam: LambdaClient,
    stack: str,
    channels: list[str],
    *,
    skip_absent: bool = False,
) -> dict[str, ChannelTarget]:
    """An embedded construct: the stack's queues and functions (nested stacks too), told apart by tags."""
    tagged: dict[str, dict[str, str]] = {}
    for kind, physical_id in _stack_resources(cfn, stack):
        if kind == "AWS::SQS::Queue":
            tags = sqs.list_queue_tags(QueueUrl=physical_id).get("Tags", {})
        elif kind == "AWS::Lambda::Function":
            tags = lam.get_function(FunctionName=physical_id).get("Tags", {})
        else:
            continue
        channel, role = tags.get(resource_tags.TAG_CHANNEL), tags.get(resource_tags.TAG_RESOURCE)
        if channel and role:
            tagged.setdefault(channel, {})[role] = physical_id
    found = {}
    if skip_absent:  # an embedded construct may deploy only some of the registry's channels
        channels = [c for c in channels if c in tagged] or channels
    for channel in channels:
        parts = tagged.get(channel, {})
        if resource_tags.QUEUE not in parts or resource_tags.DLQ not in parts:
            raise OpsError(
                f"stack {stack!r} has neither fanout's outputs nor queues tagged "
                f"{resource_tags.TAG_CHANNEL}={channel}: is channel {channel} deployed in it?"
            )
        found[channel] = ChannelTarget(
            channel=channel,
            queue_url=parts[resource_tags.QUEUE],
            dlq_url=parts[resource_tags.DLQ],
            consumer_name=parts.get(resource_tags.CONSUMER),
        )
    return found


def _stack_resources(cfn: CloudFormationClient, stack: str, depth: int = 0) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
        for summary in page.get("StackResourceSummaries", []):
            kind, physical_id = summary.get("ResourceType", ""), summary.get("PhysicalResourceId")
            if not physical_id:
                continue
            if kind == "AWS::CloudFormation::Stack" and depth < MAX_NESTING:
                out += _stack_resources(cfn, physical_id, depth + 1)
            else:
                out.append((kind, physical_id))
    return out


def from_prefix(sqs: SQSClient, prefix: str, channels: Iterable[str], *, skip_absent: bool = False) -> Target:
    found = {}
    for channel in channels:
        if skip_absent and not _queue_exists(sqs, registry.queue_name(prefix, channel)):
            continue
        found[channel] = ChannelTarget(
            channel=channel,
            queue_url=_queue_url(sqs, registry.queue_name(prefix, channel), prefix),
            dlq_url=_queue_url(sqs, registry.dlq_name(prefix, channel), prefix),
        )
    if not found:  # none there: the first one's missing queue says what is wrong
        _queue_url(sqs, registry.queue_name(prefix, next(iter(registry.CHANNELS))), prefix)
    return Target(source="prefix", name=prefix, channels=found)


def _queue_exists(sqs: SQSClient, name: str) -> bool:
    try:
        sqs.get_queue_url(QueueName=name)
    except ClientError as exc:
        if _codes(exc) & {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            return False
        raise
    return True


def with_arns(sqs: SQSClient, target: ChannelTarget) -> ChannelTarget:
    """The target with both queue ARNs known (outputs may omit them; a local run never has them)."""
    queue_arn = target.queue_arn or _queue_arn(sqs, target.queue_url)
    dlq_arn = target.dlq_arn or _queue_arn(sqs, target.dlq_url)
    return replace(target, queue_arn=queue_arn, dlq_arn=dlq_arn)


def event_source_mapping_id(lam: LambdaClient, sqs: SQSClient, target: ChannelTarget) -> str:
    """The consumer's event source mapping: the stack output, else the consumer's mapping for the queue."""
    if target.esm_id:
        return target.esm_id
    if not target.consumer_name:
        raise OpsError(
            f"the stack names neither the {target.channel} event source mapping nor its consumer function"
        )
    queue_arn = target.queue_arn or _queue_arn(sqs, target.queue_url)
    mappings = []
    paginator = lam.get_paginator("list_event_source_mappings")
    for page in paginator.paginate(FunctionName=target.consumer_name):
        mappings += page.get("EventSourceMappings", [])
    matching = [m["UUID"] for m in mappings if m.get("EventSourceArn") == queue_arn and "UUID" in m]
    if len(matching) != 1:
        raise OpsError(
            f"expected one event source mapping from {queue_arn} to {target.consumer_name}, "
            f"found {len(matching)}"
        )
    return matching[0]


def _queue_url(sqs: SQSClient, name: str, prefix: str) -> str:
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        if _codes(exc) & {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            raise OpsError(
                f"queue {name} not found: is a run with queue prefix {prefix!r} up at this endpoint?"
            ) from None
        raise


def _queue_arn(sqs: SQSClient, queue_url: str) -> str:
    values = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"]).get("Attributes", {})
    arn = values.get("QueueArn")
    if not arn:
        raise OpsError(f"no ARN reported for {queue_url}")
    return arn


def _codes(exc: ClientError) -> set[str]:
    error: Mapping[str, Any] = exc.response.get("Error", {})
    return {str(error[key]) for key in ("Code", "QueryErrorCode") if error.get(key)}
