"""Where the platform keeps the provider secrets the consumers read, as the stack's context gives them.

Every pipeline receives the same `SecretSources`; which of them a consumer reads is its channel's own
business (its registry `infra_hook`: infra/slack.py, infra/github.py), so nothing shared asks which
channel it is wiring.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from consumers.runtime.settings import DEFAULT_SLACK_SECRET_PREFIX

SECRET_READ_ACTIONS = ("secretsmanager:GetSecretValue",)
# Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
SECRET_SUFFIX = "-??????"


@dataclass(frozen=True, kw_only=True)
class SecretSources:
    slack_prefix: str = DEFAULT_SLACK_SECRET_PREFIX  # one secret per workspace: <prefix><team_id>
    github_default_arn: str | None = None
    github_default_name: str | None = None  # validated by FanoutProps: never both with the ARN
    github_arn_patterns: tuple[str, ...] = ()  # per-repository token secrets a task may name

    @property
    def github_default(self) -> str | None:
        """The default token secret as the consumer reads it (by ARN or by name alike)."""
        return self.github_default_arn or self.github_default_name


def secret_arn(scope: IConstruct, name: str) -> str:
    return Stack.of(scope).format_arn(
        service="secretsmanager",
        resource="secret",
        resource_name=name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def grant_secret_reads(role: iam.IRole, resources: list[str]) -> None:
    if resources:
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(SECRET_READ_ACTIONS), resources=resources)
        )
