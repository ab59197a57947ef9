"""cdk-nag: AwsSolutions checks on the app, and the findings we acknowledge, each with its reason.

Suppressions are attached to the exact resource and, for IAM5, to the exact wildcard (`applies_to`), so a
new wildcard anywhere else still fails the checks.
"""

from __future__ import annotations

from aws_cdk import Aspects, IAspect
from cdk_nag import AwsSolutionsChecks, NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct

from infra.function import FanoutFunction
from infra.notifications import FanoutNotifications

RUNTIME_REASON = (
    "Python 3.13 is the runtime the Lambda code, its pinned dependencies (pyproject requires-python <3.14) and "
    "the packaging (pip --python-version 3.13 wheels) are built and tested for; moving to a newer runtime is a "
    "deliberate upgrade of all three, not a drift to follow automatically."
)


def add_checks(scope: IConstruct, *, verbose: bool = True) -> IAspect:
    """AwsSolutions checks as an Aspect: every finding becomes an error annotation at synth."""
    checks = AwsSolutionsChecks(verbose=verbose)
    Aspects.of(scope).add(checks)
    return checks


def suppress_acknowledged_findings(notifications: FanoutNotifications) -> None:
    n = notifications
    functions: list[FanoutFunction] = [n.router.function, *(p.consumer for p in n.pipelines.values())]
    for fn in functions:
        _suppress(fn.function, "AwsSolutions-L1", RUNTIME_REASON)
    _suppress(
        n.router.failure_queue,
        "AwsSolutions-SQS3",
        "This queue is itself the dead-letter destination (on-failure destination) of the router's stream "
        "mapping; it receives only failed-batch descriptors, which an operator replays, so it needs no DLQ.",
    )
    _suppress(
        n.router.function.role,
        "AwsSolutions-IAM5",
        "dynamodb:ListStreams supports no resource-level permission (IAM requires Resource '*'), and the Lambda "
        "stream poller calls it; every other stream action is scoped to the events stream ARN.",
        applies_to=["Resource::*"],
    )


def suppress_operator_findings(role: IConstruct) -> None:
    _suppress(
        role,
        "AwsSolutions-IAM5",
        "cloudwatch:GetMetricStatistics supports no resource-level permission (IAM requires Resource '*'); "
        "`fanout status` reads only the queues' ApproximateAgeOfOldestMessage with it. DescribeStacks is "
        "scoped to this stack's name; the trailing /* is the stack id CloudFormation assigns at creation.",
        applies_to=[
            "Resource::*",
            RegexAppliesTo(regex=r"/^Resource::arn:.*:cloudformation:.*:stack\/.*\/\*$/"),
        ],
    )


def _suppress(
    construct: IConstruct, rule: str, reason: str, *, applies_to: list[str | RegexAppliesTo] | None = None
) -> None:
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=rule, reason=reason, applies_to=applies_to)],
        apply_to_children=True,
    )
