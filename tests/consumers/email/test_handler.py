"""The email consumer as Lambda runs it: settings from the environment the stack sets, clients built by
the runtime, a batch from the real queue on moto, the email in moto's SES, the ledger completed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from consumers.email.channel import build_email_channel
from consumers.email.config import ENV_FROM, ENV_USER_POOL_ID
from consumers.runtime.clients import default_clients
from consumers.runtime.lambda_entry import make_handler
from consumers.runtime.settings import SettingsError, environment_for, load_settings
from fanout import registry
from tests.consumers.runtime.conftest import lambda_record, provision

from .conftest import SENDER, create_task_table, make_event, moto_sent, put_task


@pytest.fixture(autouse=True)
def _quiet_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")


def test_a_batch_through_the_lambda_entry_sends_the_email_and_completes_the_ledger(
    moto_endpoint: str, aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
) -> None:
    queue_url, queue_arn, dlq_url, ledger = provision(aws_client, unique_name)
    dynamodb, sqs, ses = aws_client("dynamodb"), aws_client("sqs"), aws_client("sesv2")
    ses.create_email_identity(EmailIdentity=SENDER)
    table = create_task_table(dynamodb, unique_name("tasks"))
    env = environment_for(
        registry.EMAIL,
        registry.EMAIL.settings,
        queue_url=queue_url,
        dlq_url=dlq_url,
        task_table=table,
        ledger_table=ledger,
    )
    env[ENV_FROM] = SENDER  # what the stack sets from fanout:email:from
    settings = load_settings(env)
    handler = make_handler(build_email_channel, settings, default_clients(endpoint_url=moto_endpoint))
    address = f"{unique_name('handler')}@example.com"
    event = make_event(put_task(dynamodb, table, notification_email=address), "task_failed", error="boom")
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=event.to_body(),
        MessageGroupId=event.task_id,
        MessageDeduplicationId=event.event_id,
    )
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])[
        "Messages"
    ]

    response = handler({"Records": [lambda_record(m, queue_arn) for m in messages]}, None)

    assert response == {"batchItemFailures": []}
    [sent] = [m for m in moto_sent(moto_endpoint) if address in str(m["destinations"])]
    assert sent["subject"] == "Task failed: acme/widgets"
    item = dynamodb.get_item(
        TableName=ledger, Key={"pk": {"S": f"email#{event.event_id}"}}, ConsistentRead=True
    )
    assert item["Item"]["state"] == {"S": "done"}


def test_the_channel_refuses_to_start_without_its_sender(moto_endpoint: str) -> None:
    env = environment_for(
        registry.EMAIL, registry.EMAIL.settings, queue_url="q", dlq_url="d", task_table="t", ledger_table="l"
    )
    settings = load_settings(env)
    with pytest.raises(SettingsError, match=f"{ENV_FROM} is not set"):
        build_email_channel(settings, default_clients(endpoint_url=moto_endpoint), lambda: 0.0)
    bad = load_settings({**env, ENV_FROM: SENDER, ENV_USER_POOL_ID: "no pool"})
    with pytest.raises(SettingsError, match=f"{ENV_USER_POOL_ID}: 'no pool' is not a Cognito user pool id"):
        build_email_channel(bad, default_clients(endpoint_url=moto_endpoint), lambda: 0.0)
