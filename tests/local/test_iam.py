"""IAM in the rehearsal: the functions run with their own roles, and a missing grant fails the run."""

from __future__ import annotations

from typing import Any

from fanout.local.iam import iam_match
from fanout.local.runner import run_local
from fanout.local.scenarios import DM_TEAM, TEAM

from .conftest import local_options

SECRET_READ = "secretsmanager:GetSecretValue"


def without_slack_secret_grant(template: dict[str, Any]) -> dict[str, Any]:
    """The stack as it would be if the construct forgot the Slack consumer's secret grant."""
    removed = 0
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy" or "SlackChannel" not in str(
            resource["Properties"]["Roles"]
        ):
            continue
        document = resource["Properties"]["PolicyDocument"]
        kept = [s for s in document["Statement"] if SECRET_READ not in str(s["Action"])]
        removed += len(document["Statement"]) - len(kept)
        document["Statement"] = kept
    assert removed == 1
    return template


def test_a_grant_missing_from_the_stack_ends_the_run_naming_function_action_and_resource():
    result = run_local(
        local_options(scenario="happy", template_hook=without_slack_secret_grant, timeout_s=60)
    )

    assert result.exit_code == 1
    local = result.report["local"]
    assert local["iam_enforced"] is True
    slack_function = result.runtime.stack.consumers["slack"].name if result.runtime.stack else None
    expected = {
        f"AccessDenied: function {slack_function} may not {SECRET_READ} on bgagent/slack/{team}"
        for team in (TEAM, DM_TEAM)
    }
    assert local["access_denied"]
    assert set(local["access_denied"]) <= expected  # exactly that failure, nothing else denied
    assert result.report["wall_seconds"] < 30  # ended on the denial, not by the timeout


def test_iam_wildcards_match_as_in_aws():
    assert iam_match(
        "arn:aws:secretsmanager:r:1:secret:bgagent/github/default-??????",
        "arn:aws:secretsmanager:r:1:secret:bgagent/github/default-AbCdEf",
    )
    assert not iam_match(
        "arn:aws:secretsmanager:r:1:secret:bgagent/github/default-??????",
        "arn:aws:secretsmanager:r:1:secret:bgagent/github/default-AbC",
    )
    assert iam_match("arn:aws:sqs:*:1:q.fifo", "arn:aws:sqs:us-east-1:1:q.fifo")
    assert not iam_match("arn:aws:sqs:*:1:q.fifo", "arn:aws:sqs:us-east-1:1:qxfifo")  # the dot is literal
