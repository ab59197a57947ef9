"""The on-call story end to end: a poison run fills the DLQ, the cause is fixed, `dlq redrive` moves the
message back with the client engine, and the next run delivers it exactly once."""

from __future__ import annotations

from typing import Any

from fanout import registry
from fanout.dynamo import to_item
from fanout.local.runner import RunResult, run_local
from fanout.local.scenarios import GONE_CHANNEL, TEAM
from fanout.ops.filters import RedriveFilter
from fanout.ops.redrive_client import redrive_client

from .conftest import fresh_account, local_options

FIXED_CHANNEL = "CRESTORED"


def test_poison_then_fix_then_redrive_delivers_once(moto_endpoint: str) -> None:
    """Both runs deploy the same stack (fanout-local, the second updates it) in one account of the
    shared endpoint; the operator's calls go through the stack's outputs as in AWS."""
    account = fresh_account()

    def run(**overrides: Any) -> RunResult:
        return run_local(local_options(aws_endpoint=moto_endpoint, account=account, **overrides))

    poisoned = run(scenario="poison")
    assert poisoned.exit_code == 0
    reasons = sorted(
        letter["MessageAttributes"]["reason"]["StringValue"] for letter in poisoned.dead_letters["slack"]
    )
    assert reasons == ["malformed", "terminal:channel_not_found"]
    gone = [m for m in poisoned.slack.messages() if m.channel == GONE_CHANNEL] if poisoned.slack else []
    assert gone == []

    outputs = poisoned.runtime.deployment.outputs if poisoned.runtime.deployment else {}
    session = poisoned.runtime.endpoint.admin  # the account's own identity
    sqs = session.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    dlq = outputs[registry.output_key("slack", registry.OUTPUT_DLQ_URL)]
    queue = outputs[registry.output_key("slack", registry.OUTPUT_QUEUE_URL)]

    # The fix, made before the redrive as an operator would: the task's Slack channel was archived and
    # replaced, and its record now names the new one.
    fixed_task = {
        "task_id": "task-gone",
        "user_id": "u-1",
        "status": "RUNNING",
        "task_description": "Channel was deleted",
        "channel_source": "slack",
        "channel_metadata": {"slack_team_id": TEAM, "slack_channel_id": FIXED_CHANNEL},
    }
    dynamodb = session.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    dynamodb.put_item(TableName=outputs["TaskTableName"], Item=to_item(fixed_task))
    dry = redrive_client(sqs, dlq, queue, RedriveFilter(reason="terminal:"), dry_run=True)
    assert (dry.matched, dry.moved) == (1, 0)
    moved = redrive_client(sqs, dlq, queue, RedriveFilter(reason="terminal:"))
    assert (moved.matched, moved.moved, moved.failed) == (1, 1, [])

    # Nothing new is written; the run only drains (as `fanout local run --events-file empty.jsonl`
    # would): the fresh Slack stand-in learns the workspace's token from the endpoint's secret.
    redelivered = run(steps=[])
    assert redelivered.exit_code == 0
    assert redelivered.slack is not None
    posts = redelivered.slack.messages(channel=FIXED_CHANNEL, include_deleted=True)
    assert len(posts) == 1
    assert "Task submitted" in posts[0].text
    slack = redelivered.report["channels"]["slack"]
    assert (slack["delivered"], slack["dead_lettered"]) == (1, 0)
    # What did not match the filter stays where it was: the malformed message is still dead-lettered.
    left = [
        letter["MessageAttributes"]["reason"]["StringValue"] for letter in redelivered.dead_letters["slack"]
    ]
    assert left == ["malformed"]
