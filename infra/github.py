"""What the GitHub consumer needs beyond its queues, the ledger and the task table (the registry's
`infra_hook` for `github`): read-only access to the default token secret and to the per-repository
token secret patterns the operator listed, and the default secret's name in its environment.
"""

from __future__ import annotations

from aws_cdk import Annotations, Token
from cdk_nag import NagPackSuppression, NagSuppressions

from consumers.runtime.settings import ENV_GITHUB_TOKEN_SECRET
from infra.channel_pipeline import ChannelPipeline
from infra.secret_sources import SECRET_SUFFIX, grant_secret_reads, secret_arn
from infra.settings import ChannelConfig

NO_SECRET_WARNING = (
    "the GitHub consumer may read no token secret: set fanout:githubTokenSecretArn or "
    "fanout:githubTokenSecretName (and optionally fanout:githubTokenSecretArnPatterns) or every "
    "GitHub delivery fails as a configuration error"
)


def wire_github(pipeline: ChannelPipeline, config: ChannelConfig) -> None:
    sources = pipeline.props.secrets
    if sources.github_default:
        pipeline.function.add_environment(ENV_GITHUB_TOKEN_SECRET, sources.github_default)
    resources = [sources.github_default_arn] if sources.github_default_arn else []
    if sources.github_default_name:
        resources.append(secret_arn(pipeline, f"{sources.github_default_name}{SECRET_SUFFIX}"))
    resources += list(sources.github_arn_patterns)
    if not resources:
        Annotations.of(pipeline).add_warning_v2("fanout:githubTokenSecret", NO_SECRET_WARNING)
        return
    grant_secret_reads(pipeline.role, resources)
    wildcards = [p for p in resources if not Token.is_unresolved(p) and "*" in p]
    if wildcards:
        NagSuppressions.add_resource_suppressions(
            pipeline.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=(
                        "Read-only GetSecretValue on the per-repository GitHub token secret patterns the "
                        "operator listed in fanout:githubTokenSecretArnPatterns (a task names its token "
                        "secret at run time)."
                    ),
                    applies_to=[f"Resource::{p}" for p in wildcards],  # operator-given literals, exact
                )
            ],
            apply_to_children=True,
        )
