"""The library API the benchmark uses: workloads, faults, external provider URLs, validation."""

from __future__ import annotations

import json

import pytest

from fanout.local.events_file import parse_lines
from fanout.local.fakes.faults import Fault, FaultKind
from fanout.local.fakes.slack import SlackFake
from fanout.local.provision import local_slack_token
from fanout.local.runner import BadInput, RunOptions, plan_run
from fanout.local.writer import now_iso


def workload(team: str, *lines: dict) -> list:
    task = {
        "task_id": "t-lib",
        "repo": "acme/lib",
        "pr_number": 5,
        "pr_url": "https://github.com/acme/lib/pull/5",
        "channel_source": "slack",
        "channel_metadata": {"slack_team_id": team, "slack_channel_id": "CLIB"},
    }
    events = [
        {
            "event": {
                "task_id": "t-lib",
                "event_id": f"01LIB{n:021d}",
                "event_type": kind,
                "timestamp": now_iso(),
            }
        }
        for n, kind in enumerate(["task_created", "pr_created"])
    ]
    events[1]["event"]["event_type"] = "agent_milestone"
    events[1]["event"]["metadata"] = {"milestone": "pr_created"}
    return parse_lines(json.dumps(line) for line in [*lines, {"task": task}, *events])


def test_a_workload_with_its_own_secret_and_a_github_5xx(run_scenario):
    secret = {"secret": {"name": "bgagent/slack/TLIB", "value": json.dumps({"bot_token": "xoxb-given"})}}
    steps = workload("TLIB", secret)
    fault = Fault(FaultKind.GITHUB_5XX, max_calls=1)  # the POST may have landed: reconcile first

    result = run_scenario(steps=steps, faults=[fault])

    assert result.exit_code == 0
    assert result.slack is not None
    assert result.github is not None
    assert [(m.channel, m.team) for m in result.slack.messages()] == [("CLIB", "TLIB")]
    assert {c.scope for c in result.slack.log.calls()} == {"TLIB"}  # the given token was used
    [comment] = result.github.comments(repo="acme/lib", issue=5)
    assert "fanout:task_id=t-lib" in comment.body
    assert result.report["events_written"] == 2
    assert result.report["channels"]["github"]["retries"] >= 1


def test_external_slack_url_gets_the_calls_and_they_are_counted(run_scenario, served):
    external = SlackFake(tokens={local_slack_token("TEXT"): "TEXT"})
    url = served(external)

    result = run_scenario(steps=workload("TEXT"), slack_url=f"{url}/api")

    assert result.exit_code == 0
    assert result.slack is None  # no built-in stand-in for Slack
    assert [m.channel for m in external.messages()] == ["CLIB"]
    assert result.report["channels"]["slack"]["api_calls"] == len(external.log) > 0
    assert {c.container for c in external.log.calls()} <= {f"slack-{n}" for n in range(5)}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (RunOptions(settings_overrides={"teams": {"batch_size": 1}}), "unknown channels"),
        (RunOptions(settings_overrides={"slack": {"batch_size": 11}}), "batchSize 11"),
        (RunOptions(settings_overrides={"slack": {"nope": 1}}), "unknown setting"),
        (RunOptions(aws_endpoint="localhost:4566"), "--aws-endpoint"),
    ],
)
def test_bad_options_are_rejected_before_running(options, message):
    with pytest.raises(BadInput, match=message):
        plan_run(options)


def test_settings_overrides_reach_the_plan():
    plan = plan_run(RunOptions(settings_overrides={"github": {"max_concurrency": 3, "backoff_base_s": 0.5}}))
    assert plan.settings["github"].max_concurrency == 3
    assert plan.settings["github"].backoff_base_s == 0.5
