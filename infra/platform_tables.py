"""The platform's two tables: created (standalone) or referenced (attached to an existing platform)."""

from __future__ import annotations

from aws_cdk import Fn, RemovalPolicy, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from fanout.registry import EVENTS_TABLE_KEYS, TASK_TABLE_KEY, ChannelSpec

# The consumers read a task and write their bookkeeping fields, always conditionally.
TASK_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem")


class PlatformTables(Construct):
    """`events_table` (with its stream) and `task_table`; `created` says whether this stack owns them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        events_stream_arn: str | None = None,
        task_table_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.created = events_stream_arn is None
        self.events_table: dynamodb.ITable
        self.task_table: dynamodb.ITable
        if events_stream_arn is None or task_table_name is None:
            self.events_table = self._table("EventsTable", *EVENTS_TABLE_KEYS, stream=True)
            self.task_table = self._table("TaskTable", TASK_TABLE_KEY)
        else:
            self.events_table = dynamodb.Table.from_table_attributes(
                self,
                "EventsTable",
                table_name=events_table_name(events_stream_arn),
                table_stream_arn=events_stream_arn,
            )
            self.task_table = dynamodb.Table.from_table_name(self, "TaskTable", task_table_name)
        stream_arn = self.events_table.table_stream_arn
        if stream_arn is None:  # pragma: no cover - both branches set a stream
            raise ValueError("the events table has no stream")
        self.events_stream_arn: str = stream_arn

    def grant_task_access(self, grantee: iam.IGrantable, channel: ChannelSpec | None = None) -> None:
        """Read any task; with `channel`, update only the attributes that channel writes (its registry
        entry's `task_attributes`), never a task's status, repo or another channel's bookkeeping."""
        if channel is None:
            self.task_table.grant(grantee, *TASK_TABLE_ACTIONS)
            return
        self.task_table.grant(grantee, "dynamodb:GetItem")
        if not channel.task_attributes:  # a channel that keeps no bookkeeping on the task only reads it
            return
        written = sorted({TASK_TABLE_KEY, *channel.task_attributes})
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:UpdateItem"],
            resource_arns=[self.task_table.table_arn],
            conditions={
                "ForAllValues:StringEquals": {"dynamodb:Attributes": written},
                # No old values back: they would carry attributes outside the list.
                "StringEqualsIfExists": {"dynamodb:ReturnValues": "NONE"},
            },
        )

    def _table(
        self, construct_id: str, partition: str, sort: str | None = None, *, stream: bool = False
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(name=partition, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=sort, type=dynamodb.AttributeType.STRING) if sort else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            stream=dynamodb.StreamViewType.NEW_IMAGE if stream else None,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )


def events_table_name(stream_arn: str) -> str:
    """`arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>` -> `<name>` (tokens too)."""
    if Token.is_unresolved(stream_arn):
        return Fn.select(1, Fn.split("/", stream_arn))
    return stream_arn.split(":table/", 1)[1].split("/stream/", 1)[0]
