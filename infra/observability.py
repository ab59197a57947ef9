"""Alarms and the dashboard: what an operator watches, per channel and for the router."""

from __future__ import annotations

from collections.abc import Sequence

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
    """`alarms` (by name) and `dashboard`; alarms notify `topic` when one is given."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipelines: Sequence[ChannelPipeline],
        router: Router,
        topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: dict[str, cw.Alarm] = {}
        for pipeline in pipelines:
            name = pipeline.channel.name
            self._alarm(
                f"{name}-dlq-not-empty",
                pipeline.dlq.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                threshold=0,
                description=(
                    f"fanout {name}: messages in the DLQ; inspect with "
                    f"`fanout dlq peek --channel {name} --stack {Stack.of(self).stack_name}`"
                ),
            )
            self._alarm(
                f"{name}-dlq-send-failed",
                consumer_metric(pipeline, "DeadLetterFailed"),
                threshold=0,
                description=f"fanout {name}: the DLQ refused messages; they stay on the queue (logs: dlq_send_failed)",
            )
            self._alarm(
                f"{name}-oldest-message-age",
                pipeline.queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
                threshold=pipeline.channel.age_alarm_s,
                evaluation_periods=5,
                description=(
                    f"fanout {name}: oldest message waiting over {pipeline.channel.age_alarm_s}s "
                    f"(dead-lettered by age at {pipeline.channel.settings.max_age_s}s)"
                ),
            )
            for metric in pipeline.channel.spec.alarm_metrics:  # the channel's own, from its registry entry
                self._alarm(
                    f"{name}-{metric}",
                    consumer_metric(pipeline, metric, period=PERIOD),
                    threshold=0,
                    description=f"fanout {name}: {metric} (see docs/operations.md)",
                )
        self._alarm(
            "router-iterator-age",
            router.function.function.metric("IteratorAge", period=PERIOD, statistic="Maximum"),
            threshold=ROUTER_ITERATOR_AGE_ALARM_MS,
            evaluation_periods=5,
            description="fanout router: falling behind the task-events stream",
        )
        self._alarm(
            "router-on-failure-not-empty",
            router.failure_queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
            threshold=0,
            description="fanout router: stream records given up after retries; replay them before the stream expires (24 h)",
        )
        if topic is not None:
            action = cw_actions.SnsAction(topic)
            for alarm in self.alarms.values():
                alarm.add_alarm_action(action)
        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        for pipeline in pipelines:
            self.dashboard.add_widgets(*_channel_widgets(pipeline))
        self.dashboard.add_widgets(*_router_widgets(router))

    def _alarm(
        self,
        name: str,
        metric: cw.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
    ) -> None:
        self.alarms[name] = cw.Alarm(
            self,
            name,
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
