"""The delivery ledger: one item per (channel, event id), the claim that makes delivery once-only."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from fanout.registry import LEDGER_PARTITION_KEY, LEDGER_TTL_ATTRIBUTE, ChannelSpec, ledger_key_patterns

# What a consumer does with the ledger: read an entry, claim (conditional put), complete, release.
# ConditionCheckItem: a hot key's claim checks, in its transaction, that no sibling's window is open.
LEDGER_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
)


class DeliveryLedger(Construct):
    """On-demand table keyed by `pk`, TTL on the claim expiry, point-in-time recovery on."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=LEDGER_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=LEDGER_TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Losing the ledger would re-deliver redriven events: keep it when the stack goes.
            removal_policy=RemovalPolicy.RETAIN,
        )

    def grant_consumer(self, grantee: iam.IGrantable, channel: ChannelSpec | None = None) -> None:
        """The ledger actions, on the rows of `channel` only (its delivery entries and coordination items,
        by `dynamodb:LeadingKeys`): one consumer can neither read nor reset another channel's rows."""
        if channel is None:  # the whole table: only for tools that are not a channel's consumer
            self.table.grant(grantee, *LEDGER_ACTIONS)
            return
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(LEDGER_ACTIONS),
            resource_arns=[self.table.table_arn],
            conditions={
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(ledger_key_patterns(channel.name))}
            },
        )
