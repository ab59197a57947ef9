"""Alarms and the dashboard: what an operator watches, per channel and for the router."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.channel_pipeline import ChannelPipeline
from infra.function import METRICS_NAMESPACE
from infra.router import Router

# The consumers' EMF metrics (consumers/runtime/telemetry.py): namespace Fanout, dimensions `channel` (the
# runtime's default dimension) and `service` (Powertools adds POWERTOOLS_SERVICE_NAME). CloudWatch identifies
# a metric by its whole dimension set, so the dashboard names both.
DELIVERED = "Delivered"
RETRIED = "Retried"
DEAD_LETTERED = "DeadLettered"
RATE_LIMITED = "RateLimited"
UNKNOWN_ERROR = "UnknownError"  # answers a channel does not classify yet: reclassify them
DELIVERY_LATENCY = "DeliveryLatency"
COUNT_METRICS = (DELIVERED, RETRIED, DEAD_LETTERED, RATE_LIMITED, UNKNOWN_ERROR)
ROUTER_ITERATOR_AGE_ALARM_MS = 5 * 60 * 1000
PERIOD = Duration.minutes(1)

RUNBOOK = "docs/operations.md"


@dataclass(frozen=True)
class AlarmKind:
    """One kind of alarm: its name after the prefix and the runbook section an operator opens first."""

    suffix: str  # `{channel}` (and `{metric}`) are replaced per channel (and metric)
    section: str  # the heading in docs/operations.md

    @property
    def anchor(self) -> str:
        return "#" + re.sub(r"[^a-z0-9 -]", "", self.section.lower()).replace(" ", "-")

    def key(self, channel: str = "", metric: str = "") -> str:
        """The alarm's key in `Observability.alarms` and its construct id: the name without the prefix."""
        return self.suffix.format(channel=channel, metric=metric)

    def name(self, prefix: str, channel: str = "", metric: str = "") -> str:
        return f"{prefix}-{self.key(channel, metric)}"


DLQ_NOT_EMPTY = AlarmKind("{channel}-dlq-not-empty", "Alarm: channel DLQ not empty")
DLQ_SEND_FAILED = AlarmKind("{channel}-dlq-send-failed", "Alarm: channel DLQ send failed")
OLDEST_MESSAGE_AGE = AlarmKind("{channel}-oldest-message-age", "Alarm: channel oldest message age")
ROUTER_ITERATOR_AGE = AlarmKind("router-iterator-age", "Alarm: router iterator age")
ROUTER_ON_FAILURE = AlarmKind("router-on-failure-not-empty", "Alarm: router on-failure queue not empty")
# A metric the channel's registry entry says pages on any occurrence (`alarm_metrics`).
CHANNEL_METRIC = AlarmKind("{channel}-{metric}", "Alarm: a channel's own metric")
ALARM_KINDS = (
    DLQ_NOT_EMPTY,
    DLQ_SEND_FAILED,
    OLDEST_MESSAGE_AGE,
    CHANNEL_METRIC,
    ROUTER_ITERATOR_AGE,
    ROUTER_ON_FAILURE,
)


def describe(what: str, kind: AlarmKind, first: str) -> str:
    """An alarm description: what it means, where the runbook is, and the first command to run."""
    return f"{what}. Runbook: {RUNBOOK}{kind.anchor} ({kind.section}). First: {first}"


class AlarmTopic(Construct):
    """An SNS topic for the alarms, encrypted with a key CloudWatch may use, HTTPS-only publishing."""

    def __init__(self, scope: Construct, construct_id: str, *, email: str | None) -> None:
        super().__init__(scope, construct_id)
        # The AWS-managed aws/sns key cannot be used by CloudWatch alarms: a customer key allows it.
        self.key = kms.Key(self, "Key", enable_key_rotation=True, description="fanout alarm topic")
        # Only this account's alarms: CloudWatch acts for whoever owns the alarm.
        own_alarms = {"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions=own_alarms,
            )
        )
        self.topic = sns.Topic(
            self, "Topic", master_key=self.key, enforce_ssl=True, display_name="fanout alarms"
        )
        # The topic policy CDK writes (for enforce_ssl) replaces SNS's default one, which is what lets
        # the account's own alarms publish: say so explicitly, or the alarms could never notify.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=own_alarms,
            )
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))


class Observability(Construct):
    """`alarms` (keyed `<channel>-dlq-not-empty` ..., named `<prefix>-<key>`) and `dashboard` (named `<prefix>`);
    alarms notify `topic` when one is given. Each alarm's description names its runbook section in
    docs/operations.md and the first command to run."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipelines: Sequence[ChannelPipeline],
        router: Router,
        topic: sns.ITopic | None = None,
        name_prefix: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self).stack_name
        prefix = name_prefix or stack.lower()
        self.alarms: dict[str, cw.Alarm] = {}
        for pipeline in pipelines:
            name = pipeline.channel.name
            self._alarm(
                DLQ_NOT_EMPTY.key(name),
                DLQ_NOT_EMPTY.name(prefix, name),
                pipeline.dlq.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                threshold=0,
                description=describe(
                    f"fanout {name}: messages in the dead-letter queue",
                    DLQ_NOT_EMPTY,
                    f"fanout dlq peek --channel {name} --stack {stack}",
                ),
            )
            self._alarm(
                DLQ_SEND_FAILED.key(name),
                DLQ_SEND_FAILED.name(prefix, name),
                consumer_metric(pipeline, "DeadLetterFailed"),
                threshold=0,
                description=describe(
                    f"fanout {name}: the DLQ refused messages; they stay on the queue",
                    DLQ_SEND_FAILED,
                    f"aws logs tail /aws/lambda/{pipeline.function.function_name} --since 30m "
                    "--filter-pattern dlq_send_failed",
                ),
            )
            self._alarm(
                OLDEST_MESSAGE_AGE.key(name),
                OLDEST_MESSAGE_AGE.name(prefix, name),
                pipeline.queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
                threshold=pipeline.channel.age_alarm_s,
                evaluation_periods=5,
                description=describe(
                    f"fanout {name}: oldest message waiting over {pipeline.channel.age_alarm_s}s "
                    f"(dead-lettered by age at {pipeline.channel.settings.max_age_s}s)",
                    OLDEST_MESSAGE_AGE,
                    f"fanout status --channel {name} --stack {stack}",
                ),
            )
            for metric in pipeline.channel.spec.alarm_metrics:  # the channel's own, from its registry entry
                self._alarm(
                    CHANNEL_METRIC.key(name, metric),
                    CHANNEL_METRIC.name(prefix, name, metric),
                    consumer_metric(pipeline, metric, period=PERIOD),
                    threshold=0,
                    description=describe(
                        f"fanout {name}: the consumer counted {metric}",
                        CHANNEL_METRIC,
                        f"fanout status --channel {name} --stack {stack}",
                    ),
                )
        router_fn = router.function.function
        self._alarm(
            ROUTER_ITERATOR_AGE.key(),
            ROUTER_ITERATOR_AGE.name(prefix),
            router_fn.metric("IteratorAge", period=PERIOD, statistic="Maximum"),
            threshold=ROUTER_ITERATOR_AGE_ALARM_MS,
            evaluation_periods=5,
            description=describe(
                "fanout router: falling behind the task-events stream (records expire after 24 h)",
                ROUTER_ITERATOR_AGE,
                f"aws logs tail /aws/lambda/{router_fn.function_name} --since 30m",
            ),
        )
        self._alarm(
            ROUTER_ON_FAILURE.key(),
            ROUTER_ON_FAILURE.name(prefix),
            router.failure_queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
            threshold=0,
            description=describe(
                "fanout router: stream records given up after retries; replay them before the stream "
                "expires (24 h)",
                ROUTER_ON_FAILURE,
                f"aws sqs receive-message --queue-url {router.failure_queue.queue_url} "
                "--max-number-of-messages 10 --visibility-timeout 30",
            ),
        )
        if topic is not None:
            action = cw_actions.SnsAction(topic)
            for alarm in self.alarms.values():
                alarm.add_alarm_action(action)
        self.dashboard = cw.Dashboard(
            self, "Dashboard", dashboard_name=prefix, default_interval=Duration.hours(3)
        )
        for pipeline in pipelines:
            self.dashboard.add_widgets(*_channel_widgets(pipeline))
        self.dashboard.add_widgets(*_router_widgets(router))

    def _alarm(
        self,
        key: str,
        name: str,
        metric: cw.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
    ) -> None:
        self.alarms[key] = cw.Alarm(
            self,
            key,
            alarm_name=name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )


def consumer_metric(
    pipeline: ChannelPipeline, name: str, statistic: str = "Sum", *, period: Duration | None = None
) -> cw.Metric:
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"channel": pipeline.channel.name, "service": pipeline.consumer.service},
        statistic=statistic,
        period=period or Duration.minutes(5),
    )


def _channel_widgets(pipeline: ChannelPipeline) -> list[cw.IWidget]:
    name = pipeline.channel.name
    return [
        cw.GraphWidget(
            title=f"{name}: delivered / retried / dead-lettered / rate-limited",
            left=[
                consumer_metric(pipeline, metric)
                for metric in (*COUNT_METRICS, *pipeline.channel.spec.alarm_metrics)
            ],
            width=8,
        ),
        cw.GraphWidget(
            title=f"{name}: delivery latency (ms)",
            left=[consumer_metric(pipeline, DELIVERY_LATENCY, stat) for stat in ("p50", "p99")],
            width=8,
        ),
        cw.GraphWidget(
            title=f"{name}: queue",
            left=[
                pipeline.queue.metric_approximate_number_of_messages_visible(statistic="Maximum"),
                pipeline.dlq.metric_approximate_number_of_messages_visible(statistic="Maximum"),
            ],
            right=[pipeline.queue.metric_approximate_age_of_oldest_message(statistic="Maximum")],
            width=8,
        ),
    ]


def _router_widgets(router: Router) -> list[cw.IWidget]:
    fn = router.function.function
    return [
        cw.GraphWidget(
            title="router: iterator age (ms)", left=[fn.metric("IteratorAge", statistic="Maximum")], width=8
        ),
        cw.GraphWidget(
            title="router: invocations / errors", left=[fn.metric_invocations(), fn.metric_errors()], width=8
        ),
        cw.GraphWidget(
            title="router: on-failure queue",
            left=[router.failure_queue.metric_approximate_number_of_messages_visible(statistic="Maximum")],
            width=8,
        ),
    ]
