"""FanoutNotifications: the whole fan-out as one reusable construct.

Attached to an existing platform (its task-events stream ARN and task table name) or standalone (it then
creates both tables, the events table with a NEW_IMAGE stream). Every resource is an attribute; the
grants between them are wired here, where they meet.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.channel_pipeline import ChannelPipeline, ChannelPipelineProps
from infra.ledger import DeliveryLedger
from infra.observability import AlarmTopic, Observability
from infra.packaging import build_asset
from infra.platform_tables import PlatformTables
from infra.router import Router, RouterProps
from infra.secret_sources import SecretSources
from infra.settings import ChannelConfig, FanoutProps

# What the operations CLI does (fanout/ops): `status` reads queue attributes, samples the queue's oldest
# message (receive, then give back), reads the event source mapping and, when deployed, CloudWatch's
# oldest-age metric; `dlq peek` receives from the DLQ and gives the messages back; `dlq redrive` sends to
# the queue and deletes from the DLQ (client engine) or runs SQS's message move task (native engine);
# `channel pause|resume` updates the mapping. `--stack` reads the stack's outputs.
OPERATE_QUEUE_ACTIONS = (
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:SendMessage",
    "sqs:ListQueueTags",  # how the CLI recognises an embedded construct's queues (fanout/resource_tags.py)
)
OPERATE_DLQ_ACTIONS = (
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:SendMessage",  # a filtered client redrive parks what stays in a lane of the DLQ (fanout/ops/lanes.py)
    "sqs:ListQueueTags",
    "sqs:StartMessageMoveTask",
    "sqs:ListMessageMoveTasks",
    "sqs:CancelMessageMoveTask",
)
OPERATE_MAPPING_ACTIONS = ("lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping")
OPERATE_STACK_ACTIONS = ("cloudformation:DescribeStacks", "cloudformation:ListStackResources")
OPERATE_FUNCTION_ACTIONS = ("lambda:GetFunction",)  # the consumer's tags, in a stack without fanout's outputs
OPERATE_METRIC_ACTIONS = ("cloudwatch:GetMetricStatistics",)  # no resource-level permission: "*"


def _hook(path: str) -> Callable[[ChannelPipeline, ChannelConfig], None]:
    module, _, function = path.rpartition(".")
    hook: Callable[[ChannelPipeline, ChannelConfig], None] = getattr(
        importlib.import_module(module), function
    )
    return hook


def lambda_code() -> lambda_.Code:
    """The shared asset of every fanout function (dependencies for the Lambda platform + Lambda code)."""
    asset = build_asset()
    return lambda_.Code.from_asset(str(asset.path), asset_hash=asset.asset_hash)


class FanoutNotifications(Construct):
    """Router, one pipeline per enabled channel, ledger, tables, alarms and dashboard.

    Attributes: `router` (Router: `.function`, `.event_source`, `.failure_queue`), `pipelines` (channel name
    -> ChannelPipeline: `.queue`, `.dlq`, `.consumer`, `.event_source`), `ledger_table`, `events_table`,
    `task_table`, `tables_created`, `alarm_topic` (None without alarmEmail/alarmTopicArn), `alarms`,
    `dashboard`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: FanoutProps | None = None,
        code: lambda_.Code | None = None,
        router_props: RouterProps | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        p = props or FanoutProps()
        self.props = p
        lambda_asset = code or lambda_code()
        stack = Stack.of(self)
        prefix = p.name_prefix or stack.stack_name.lower()
        # Every fixed-name resource starts with this (queues here; alarms and dashboard read it too).
        self.name_prefix = prefix

        tables = PlatformTables(
            self, "Platform", events_stream_arn=p.events_stream_arn, task_table_name=p.task_table_name
        )
        self.tables_created = tables.created
        self.events_table: dynamodb.ITable = tables.events_table
        self.task_table: dynamodb.ITable = tables.task_table
        self.events_stream_arn = tables.events_stream_arn
        ledger = DeliveryLedger(self, "Ledger")
        self.ledger_table: dynamodb.Table = ledger.table

        secrets = SecretSources(
            slack_prefix=p.slack_secret_prefix,
            github_default_arn=p.github_token_secret_arn,
            github_default_name=p.github_token_secret_name,
            github_arn_patterns=tuple(p.github_token_secret_arn_patterns),
        )
        self.pipelines: dict[str, ChannelPipeline] = {}
        for channel in p.channels:
            pipeline = ChannelPipeline(
                self,
                f"{channel.name.capitalize()}Channel",
                props=ChannelPipelineProps(
                    channel=channel,
                    code=lambda_asset,
                    name_prefix=prefix,
                    task_table_name=self.task_table.table_name,
                    ledger_table_name=self.ledger_table.table_name,
                    secrets=secrets,
                    github_web_url=p.github_web_url,
                ),
            )
            ledger.grant_consumer(pipeline.role, channel.spec)
            tables.grant_task_access(pipeline.role, channel.spec)
            if channel.spec.infra_hook:  # what the channel's registry entry says it needs beyond the above
                _hook(channel.spec.infra_hook)(pipeline, channel)
            self.pipelines[channel.name] = pipeline

        self.router = Router(
            self,
            "Router",
            code=lambda_asset,
            events_table=self.events_table,
            channel_queues={name: pipeline.queue for name, pipeline in self.pipelines.items()},
            props=router_props or RouterProps(batching_window_s=p.router_batching_window_s),
        )

        self.alarm_topic: sns.ITopic | None = None
        if p.alarm_topic_arn:
            self.alarm_topic = sns.Topic.from_topic_arn(self, "AlarmTopic", p.alarm_topic_arn)
        elif p.alarm_email:
            self.alarm_topic = AlarmTopic(self, "AlarmTopic", email=p.alarm_email).topic
        observability = Observability(
            self,
            "Observability",
            pipelines=list(self.pipelines.values()),
            router=self.router,
            topic=self.alarm_topic,
            name_prefix=prefix,
        )
        self.alarms = observability.alarms
        self.dashboard = observability.dashboard

    def grant_operate(self, grantee: iam.IGrantable) -> None:
        """What the operations CLI needs against this deployment (status, dlq peek, dlq redrive, channel
        pause|resume, with --stack), nothing more."""
        stack = Stack.of(self)
        statements = [
            iam.PolicyStatement(
                actions=list(OPERATE_QUEUE_ACTIONS),
                resources=[p.queue.queue_arn for p in self.pipelines.values()],
            ),
            iam.PolicyStatement(
                actions=list(OPERATE_DLQ_ACTIONS),
                resources=[p.dlq.queue_arn for p in self.pipelines.values()],
            ),
            iam.PolicyStatement(
                actions=list(OPERATE_MAPPING_ACTIONS),
                resources=[p.event_source.event_source_mapping_arn for p in self.pipelines.values()],
            ),
            iam.PolicyStatement(
                actions=list(OPERATE_STACK_ACTIONS),
                resources=[
                    stack.format_arn(
                        service="cloudformation", resource="stack", resource_name=f"{stack.stack_name}/*"
                    )
                ],
            ),
            iam.PolicyStatement(
                actions=list(OPERATE_FUNCTION_ACTIONS),
                resources=[p.function.function_arn for p in self.pipelines.values()],
            ),
            iam.PolicyStatement(actions=list(OPERATE_METRIC_ACTIONS), resources=["*"]),
        ]
        for statement in statements:
            grantee.grant_principal.add_to_principal_policy(statement)
