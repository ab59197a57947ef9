"""What the Slack consumer needs beyond its queues, the ledger and the task table (the registry's
`infra_hook` for `slack`): read-only access to the per-workspace bot token secrets, and their prefix.
"""

from __future__ import annotations

import re

from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo

from consumers.runtime.settings import ENV_SLACK_SECRET_PREFIX
from infra.channel_pipeline import ChannelPipeline
from infra.secret_sources import grant_secret_reads, secret_arn
from infra.settings import ChannelConfig


def slack_secret_finding(prefix: str) -> RegexAppliesTo:
    """How cdk-nag names the secret pattern: partition, region and account are tokens in an
    environment-agnostic stack and literals once the CLI resolves them."""
    return RegexAppliesTo(
        regex=(
            r"/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):secretsmanager:(<AWS::Region>|[a-z0-9-]+):"
            r"(<AWS::AccountId>|\d{12}):secret:" + re.escape(prefix).replace("/", r"\/") + r"\*$/"
        )
    )


def wire_slack(pipeline: ChannelPipeline, config: ChannelConfig) -> None:
    prefix = pipeline.props.secrets.slack_prefix
    pipeline.function.add_environment(ENV_SLACK_SECRET_PREFIX, prefix)
    grant_secret_reads(pipeline.role, [secret_arn(pipeline, f"{prefix}*")])
    NagSuppressions.add_resource_suppressions(
        pipeline.role,
        [
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason=(
                    f"Read-only GetSecretValue on {prefix}*: one secret per Slack workspace is created at "
                    f"onboarding ({prefix}<team_id>), so the set of secret names is not known at deploy time; "
                    "the prefix (fanout:slackSecretPrefix) is the platform's naming contract."
                ),
                applies_to=[slack_secret_finding(prefix)],
            )
        ],
        apply_to_children=True,
    )
