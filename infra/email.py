"""What the email consumer needs beyond its queues, the ledger and the task table (the registry's
`infra_hook` for `email`, called where the pipeline meets the rest of the stack).

Least privilege: `ses:SendEmail` on the sender's identities (the address, and its domain, either of
which may be the verified identity) and on the configuration set when one is given, nothing else;
`cognito-idp:AdminGetUser` on the one user pool, only when it is configured; `ses:GetAccount` (the
send rate the channel paces itself under), which IAM only grants on `*`.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from cdk_nag import NagPackSuppression, NagSuppressions

from consumers.email.address import domain_of
from consumers.email.config import ENV_CONTAINERS
from infra.channel_pipeline import ChannelPipeline
from infra.settings import ChannelConfig

OPTION_FROM = "from"
OPTION_CONFIGURATION_SET = "configurationSet"
OPTION_USER_POOL_ID = "userPoolId"
GET_ACCOUNT_REASON = (
    "ses:GetAccount (read-only: the account's sending quota and maximum send rate, which the email consumer "
    "paces itself under) supports no resource-level permission, so IAM requires Resource '*'."
)


def identity_arns(stack: Stack, sender: str) -> list[str]:
    """The SES identities a send from `sender` may be authorised against: the address and its domain."""
    return [
        stack.format_arn(
            service="ses", resource="identity", resource_name=name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
        )
        for name in (sender, domain_of(sender))
    ]


def wire_email(pipeline: ChannelPipeline, config: ChannelConfig) -> None:
    stack = Stack.of(pipeline)
    sender = config.options[OPTION_FROM]  # required: the settings refused a config without it
    resources = identity_arns(stack, sender)
    configuration_set = config.options.get(OPTION_CONFIGURATION_SET)
    if configuration_set:
        resources.append(
            stack.format_arn(
                service="ses",
                resource="configuration-set",
                resource_name=configuration_set,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
        )
    role = pipeline.role
    role.add_to_principal_policy(iam.PolicyStatement(actions=["ses:SendEmail"], resources=resources))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["ses:GetAccount"], resources=["*"]))
    pool = config.options.get(OPTION_USER_POOL_ID)
    if pool:
        pool_arn = stack.format_arn(
            service="cognito-idp",
            resource="userpool",
            resource_name=pool,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["cognito-idp:AdminGetUser"], resources=[pool_arn])
        )
    # Each container takes an equal share of the account's send rate.
    pipeline.function.add_environment(ENV_CONTAINERS, str(config.settings.max_concurrency))
    NagSuppressions.add_resource_suppressions(
        role,
        [NagPackSuppression(id="AwsSolutions-IAM5", reason=GET_ACCOUNT_REASON, applies_to=["Resource::*"])],
        apply_to_children=True,
    )
