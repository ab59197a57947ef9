"""FanoutStack: the FanoutNotifications construct, its stack outputs and the cdk-nag suppressions."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from fanout import registry
from infra.nag import suppress_acknowledged_findings, suppress_operator_findings
from infra.notifications import FanoutNotifications
from infra.settings import FanoutProps

ROUTER_FUNCTION_NAME = "RouterFunctionName"
ROUTER_FAILURE_QUEUE_URL = "RouterOnFailureQueueUrl"
LEDGER_TABLE_NAME = "LedgerTableName"
TASK_TABLE_NAME = "TaskTableName"
EVENTS_TABLE_NAME = "EventsTableName"
ALARM_TOPIC_ARN = "AlarmTopicArn"
DASHBOARD_NAME = "DashboardName"
OPERATOR_ROLE_ARN = "OperatorRoleArn"


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
        self.operator_role: iam.Role | None = None
        if resolved.operator_role:
            # Assumable by the account's principals that are allowed sts:AssumeRole on it; holds exactly
            # what the operations CLI needs, so a rehearsal with it proves that policy is enough.
            self.operator_role = iam.Role(
                self,
                "OperatorRole",
                assumed_by=iam.AccountRootPrincipal(),
                description="fanout operator: the operations CLI (status, dlq peek/redrive, channel pause/resume)",
            )
            self.notifications.grant_operate(self.operator_role)
            suppress_operator_findings(self.operator_role)
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
        if self.operator_role is not None:
            self._output(OPERATOR_ROLE_ARN, self.operator_role.role_arn, "operator role (operations CLI)")
        if n.alarm_topic is not None:
            self._output(ALARM_TOPIC_ARN, n.alarm_topic.topic_arn, "alarm topic")
