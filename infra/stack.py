"""FanoutStack: the FanoutNotifications construct, its stack outputs and the cdk-nag suppressions."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from fanout import registry
from infra.nag import suppress_acknowledged_findings
from infra.notifications import FanoutNotifications
from infra.settings import FanoutProps

ROUTER_FUNCTION_NAME = "RouterFunctionName"
ROUTER_FAILURE_QUEUE_URL = "RouterOnFailureQueueUrl"
LEDGER_TABLE_NAME = "LedgerTableName"
TASK_TABLE_NAME = "TaskTableName"
EVENTS_TABLE_NAME = "EventsTableName"
ALARM_TOPIC_ARN = "AlarmTopicArn"
DASHBOARD_NAME = "DashboardName"


class FanoutStack(Stack):
    """Props default to the app's CDK context (cdk.json and -c overrides)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        props: FanoutProps | None = None,
        code: lambda_.Code | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        resolved = props or FanoutProps.from_context(self.node.get_all_context())
        self.notifications = FanoutNotifications(self, "Fanout", props=resolved, code=code)
        self._outputs()
        suppress_acknowledged_findings(self.notifications)

    def _output(self, key: str, value: str, description: str) -> None:
        output = CfnOutput(self, key, value=value, description=description)
        output.override_logical_id(key)  # the ops CLI looks outputs up by these exact names

    def _outputs(self) -> None:
        n = self.notifications
        for name, pipeline in n.pipelines.items():
            values = {
                registry.OUTPUT_QUEUE_URL: pipeline.queue.queue_url,
                registry.OUTPUT_QUEUE_ARN: pipeline.queue.queue_arn,
                registry.OUTPUT_DLQ_URL: pipeline.dlq.queue_url,
                registry.OUTPUT_DLQ_ARN: pipeline.dlq.queue_arn,
                registry.OUTPUT_CONSUMER_NAME: pipeline.function.function_name,
                registry.OUTPUT_EVENT_SOURCE_MAPPING_ID: pipeline.event_source.event_source_mapping_id,
            }
            for what, value in values.items():
                self._output(registry.output_key(name, what), value, f"{name} channel: {what}")
        self._output(ROUTER_FUNCTION_NAME, n.router.function.function.function_name, "router function")
        self._output(ROUTER_FAILURE_QUEUE_URL, n.router.failure_queue.queue_url, "router on-failure queue")
        self._output(LEDGER_TABLE_NAME, n.ledger_table.table_name, "delivery ledger table")
        self._output(TASK_TABLE_NAME, n.task_table.table_name, "platform task table")
        self._output(EVENTS_TABLE_NAME, n.events_table.table_name, "platform task-events table")
        self._output(DASHBOARD_NAME, n.dashboard.dashboard_name, "CloudWatch dashboard")
        if n.alarm_topic is not None:
            self._output(ALARM_TOPIC_ARN, n.alarm_topic.topic_arn, "alarm topic")
