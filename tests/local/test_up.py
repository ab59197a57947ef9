"""`fanout local up`: the operator rehearses the runbooks against it with the operator role only."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from fanout.cli.main import app
from fanout.local.runtime import LocalRuntime, stable_port
from fanout.local.up import UpInfo, describe, start_up

from .conftest import fresh_account

runner = CliRunner()


@pytest.fixture(scope="module")
def up() -> Iterator[tuple[LocalRuntime, UpInfo]]:
    salt = os.environ.get("PYTEST_XDIST_WORKER", "main")
    ports = {name: stable_port(name, salt) for name in ("slack", "github")}
    runtime, info = start_up(0, stand_in_ports=ports, account=fresh_account())
    try:
        yield runtime, info
    finally:
        runtime.stop()


def ops(info: UpInfo, *args: str) -> Any:
    """An operations command as the operator runs it: the operator role's credentials only."""
    env = {**info.operator.as_env(), "AWS_DEFAULT_REGION": "us-east-1"}
    return runner.invoke(app, [*args, "--endpoint-url", info.endpoint, "--stack", info.stack], env=env)


def test_up_prints_where_everything_is_and_what_to_try(up):
    _, info = up
    text = "\n".join(describe(info))
    assert info.endpoint in text
    assert "stack:         fanout-local" in text
    assert f"export AWS_ACCESS_KEY_ID={info.operator.access_key_id}" in text
    assert f"fanout channel pause slack --endpoint-url {info.endpoint} --stack fanout-local" in text
    assert "AWS::CloudWatch::Alarm" in text  # named, not dropped


def test_the_operator_policy_is_enough_for_status_peek_redrive_and_pause(up):
    runtime, info = up
    status = ops(info, "status", "--json")
    assert status.exit_code == 0, status.output
    channels = json.loads(status.output)["channels"]
    assert channels["slack"]["event_source_state"] == "Enabled"

    # A dead letter as the consumer leaves one (written by the runtime's own identity).
    assert runtime.resources is not None
    dlq = runtime.resources.channels["slack"].dlq_url
    runtime.endpoint.client("sqs").send_message(
        QueueUrl=dlq,
        MessageBody=json.dumps({"task_id": "t-up", "event_id": "01UP", "event_type": "task_created"}),
        MessageGroupId="t-up",
        MessageDeduplicationId="01UP",
        MessageAttributes={"reason": {"DataType": "String", "StringValue": "terminal:channel_not_found"}},
    )
    peek = ops(info, "dlq", "peek", "--channel", "slack", "--json")
    assert peek.exit_code == 0, peek.output
    assert "t-up" in peek.output
    dry = ops(info, "dlq", "redrive", "--channel", "slack", "--engine", "client", "--dry-run")
    assert dry.exit_code == 0, dry.output
    # A filtered redrive parks what stays (a send to the DLQ): the operator policy covers it.
    kept = ops(info, "dlq", "redrive", "--channel", "slack", "--engine", "client", "--reason", "budget")
    assert kept.exit_code == 0, kept.output

    paused = ops(info, "channel", "pause", "slack")
    assert paused.exit_code == 0, paused.output
    deadline = time.monotonic() + 10
    while not runtime.pollers["slack"].paused and time.monotonic() < deadline:
        time.sleep(0.2)
    assert runtime.pollers["slack"].paused  # the runners honour the deployed mapping's state
    resumed = ops(info, "channel", "resume", "slack")
    assert resumed.exit_code == 0, resumed.output
    deadline = time.monotonic() + 10
    while runtime.pollers["slack"].paused and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not runtime.pollers["slack"].paused


def test_the_operator_cannot_do_more_than_operate(up):
    runtime, info = up
    from botocore.exceptions import ClientError

    from fanout.local.endpoint import session_of

    dynamodb = session_of(info.operator).client("dynamodb", endpoint_url=info.endpoint)
    assert runtime.resources is not None
    with pytest.raises(ClientError) as denied:
        dynamodb.get_item(TableName=runtime.resources.task_table, Key={"task_id": {"S": "t"}})
    assert "AccessDenied" in str(denied.value)
