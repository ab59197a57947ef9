"""One channel's pipeline: FIFO queue, FIFO DLQ, consumer Lambda and its SQS event source mapping."""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from consumers.runtime import settings as consumer_settings
from fanout import registry, resource_tags
from infra.function import FanoutFunction, FunctionProps
from infra.secret_sources import SecretSources
from infra.settings import ChannelConfig

RETENTION = Duration.days(14)  # SQS's maximum: a stuck channel loses nothing for two weeks


@dataclass(frozen=True, kw_only=True)
class ChannelPipelineProps:
    channel: ChannelConfig
    code: lambda_.Code
    name_prefix: str
    task_table_name: str
    ledger_table_name: str
    secrets: SecretSources = field(default_factory=SecretSources)  # read by the channels' infra hooks
    github_web_url: str = consumer_settings.DEFAULT_GITHUB_WEB_URL  # validated by FanoutProps


class ChannelPipeline(Construct):
    """`queue`, `dlq`, `consumer` (FanoutFunction) and `event_source` for one registry channel.

    The consumer may receive, delete and change the visibility of its own queue's messages and send to its
    own DLQ; table and secret grants are wired by the caller, where the resources meet.
    """

    def __init__(self, scope: Construct, construct_id: str, *, props: ChannelPipelineProps) -> None:
        super().__init__(scope, construct_id)
        channel = props.channel
        settings = channel.spec.validate(channel.settings)
        self.channel = channel
        self.props = props
        queue_name = registry.queue_name(props.name_prefix, channel.name)
        # The DLQ may only be redriven from its own source queue. Its ARN is built from the fixed name, not
        # referenced, because the source queue already references the DLQ (redrive policy): no cycle.
        source_arn = Stack.of(self).format_arn(service="sqs", resource=queue_name)
        self.dlq = sqs.Queue(
            self,
            "Dlq",
            queue_name=registry.dlq_name(props.name_prefix, channel.name),
            fifo=True,
            retention_period=RETENTION,
            # Explicit, and the same as the source queue's: the DLQ takes every body the queue took, plus
            # the consumer's attributes (dead_letter.fitted keeps those within the limit).
            max_message_size_bytes=registry.SQS_MAX_MESSAGE_BYTES,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            redrive_allow_policy=sqs.RedriveAllowPolicy(
                redrive_permission=sqs.RedrivePermission.BY_QUEUE,
                source_queues=[sqs.Queue.from_queue_arn(self, "SourceQueueRef", source_arn)],
            ),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=queue_name,
            fifo=True,
            # The router sets MessageDeduplicationId = event id; high-throughput FIFO keeps order per task.
            content_based_deduplication=False,
            deduplication_scope=sqs.DeduplicationScope.MESSAGE_GROUP,
            fifo_throughput_limit=sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
            visibility_timeout=Duration.seconds(settings.visibility_timeout_s),
            retention_period=RETENTION,
            max_message_size_bytes=registry.SQS_MAX_MESSAGE_BYTES,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dlq, max_receive_count=settings.max_receive_count
            ),
        )
        environment = consumer_settings.environment_for(
            channel.spec,
            settings,
            queue_url=self.queue.queue_url,
            dlq_url=self.dlq.queue_url,
            task_table=props.task_table_name,
            ledger_table=props.ledger_table_name,
            api_base_url=channel.api_base_url,
        )
        # Every channel renders PR links, and only on the configured GitHub host (GitHub Enterprise too).
        environment[consumer_settings.ENV_GITHUB_WEB_URL] = props.github_web_url
        environment.update(channel.option_environment())  # the registry's options for this channel
        self.consumer = FanoutFunction(
            self,
            "Consumer",
            props=FunctionProps(
                handler=channel.spec.handler,
                code=props.code,
                service=channel.name,
                memory_mb=settings.memory_mb,
                timeout_s=settings.timeout_s,
                reserved_concurrency=settings.reserved_concurrency,
                environment=environment,
                description=f"fanout {channel.name} consumer: delivers {queue_name} to "
                f"{channel.api_base_url or 'its AWS service'}",
            ),
        )
        self.event_source = sources.SqsEventSource(
            self.queue,
            batch_size=settings.batch_size,
            max_concurrency=settings.max_concurrency,
            report_batch_item_failures=True,
        )
        self.consumer.function.add_event_source(self.event_source)
        self.dlq.grant_send_messages(self.consumer.role)
        # What the ops CLI finds in any stack that embeds the construct (fanout/resource_tags.py).
        for scope, kind, what in (
            (self.queue, "AWS::SQS::Queue", resource_tags.QUEUE),
            (self.dlq, "AWS::SQS::Queue", resource_tags.DLQ),
            (self.consumer.function, "AWS::Lambda::Function", resource_tags.CONSUMER),
        ):
            Tags.of(scope).add(resource_tags.TAG_CHANNEL, channel.name, include_resource_types=[kind])
            Tags.of(scope).add(resource_tags.TAG_RESOURCE, what, include_resource_types=[kind])

    @property
    def function(self) -> lambda_.Function:
        return self.consumer.function

    @property
    def role(self) -> iam.IRole:
        return self.consumer.role
