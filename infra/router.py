"""The router: the one and only reader of the task-events stream; it may only send to the channel queues."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from fanout import registry
from fanout.router import settings as router_settings
from infra.function import FanoutFunction, FunctionProps

HANDLER = "fanout.router.handler.handler"
SERVICE = "fanout-router"


@dataclass(frozen=True, kw_only=True)
class RouterProps:
    """Stream mapping knobs. Retries are bounded in attempts and age; a record that still fails goes to the
    on-failure queue (its shard and sequence numbers), well inside the stream's 24-hour retention."""

    batch_size: int = 100
    # Seconds the mapping gathers records before invoking (0: invoke as soon as records arrive). At low
    # traffic a window puts more events in each SendMessageBatch, for that much added latency
    # (docs/performance.md, "Router batching window").
    batching_window_s: int = 0
    retry_attempts: int = 10
    max_record_age_s: int = 6 * 3600
    memory_mb: int = 256
    timeout_s: int = 60


class Router(Construct):
    """`function` (FanoutFunction), `event_source` (the stream mapping) and `failure_queue`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        events_table: dynamodb.ITable,
        channel_queues: Mapping[str, sqs.IQueue],
        props: RouterProps | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        p = props or RouterProps()
        self.failure_queue = sqs.Queue(
            self,
            "OnFailureQueue",
            retention_period=Duration.days(14),
            # Explicit like the channel queues' (it holds small stream-record pointers, but no queue in the
            # stack is left at an implicit size that SQS may change).
            max_message_size_bytes=registry.SQS_MAX_MESSAGE_BYTES,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.function = FanoutFunction(
            self,
            "Router",
            props=FunctionProps(
                handler=HANDLER,
                code=code,
                service=SERVICE,
                memory_mb=p.memory_mb,
                timeout_s=p.timeout_s,
                environment=router_settings.environment_for(
                    {name: queue.queue_url for name, queue in channel_queues.items()}
                ),
                description="fanout router: task-events stream -> one FIFO queue per channel",
            ),
        )
        self.event_source = sources.DynamoEventSource(
            events_table,
            starting_position=lambda_.StartingPosition.LATEST,
            batch_size=p.batch_size,
            max_batching_window=Duration.seconds(p.batching_window_s) if p.batching_window_s else None,
            bisect_batch_on_error=True,
            retry_attempts=p.retry_attempts,
            max_record_age=Duration.seconds(p.max_record_age_s),
            on_failure=sources.SqsDlq(self.failure_queue),
            # One concurrent batch per shard: a task's records are never processed out of order.
            parallelization_factor=1,
            report_batch_item_failures=True,
        )
        self.function.function.add_event_source(self.event_source)
        # SendMessage covers SendMessageBatch; nothing else on the channel queues.
        self.function.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn for queue in channel_queues.values()],
            )
        )
