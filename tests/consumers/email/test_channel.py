"""The email channel against moto's SES and DynamoDB over HTTP: what is sent, to whom, and what is a
counted skip instead (channels.md, Email)."""

from __future__ import annotations

import pytest

from consumers.email.channel import REQUEST
from consumers.runtime.channel import Prepared
from consumers.runtime.outcomes import Delivered, Skipped

from .conftest import SENDER, EmailEnv, make_event, moto_sent


def sent_to(env: EmailEnv, address: str) -> list[dict[str, object]]:
    return [m for m in moto_sent(env.endpoint) if address in str(m.get("destinations"))]


def test_a_completed_task_is_emailed_to_its_notification_address(email_env: EmailEnv) -> None:
    address = "owner-completed@example.com"
    task_id = email_env.put_task(notification_email=address)
    outcome = email_env.run(make_event(task_id, "task_completed"))
    assert isinstance(outcome, Delivered)
    assert outcome.detail.startswith("ses_message_id:")
    [message] = sent_to(email_env, address)
    assert message["source"] == SENDER
    assert message["subject"] == "Task completed: acme/widgets"
    assert "4m 12s · $1.37" in str(message["body"])
    assert 'href="https://github.com/acme/widgets/pull/42"' in str(message["body"])


def test_the_request_carries_both_bodies_and_the_configuration_set(make_email_env) -> None:
    env = make_email_env(configuration_set="fanout-events")
    task_id = env.put_task()
    prepared = env.channel.prepare(make_event(task_id, "task_failed", error="boom"))
    assert isinstance(prepared, Prepared)
    kwargs = prepared.extras[REQUEST].as_kwargs()
    assert kwargs["ConfigurationSetName"] == "fanout-events"
    assert kwargs["Destination"] == {"ToAddresses": ["dev@example.com"]}
    body = kwargs["Content"]["Simple"]["Body"]
    assert "Reason: boom" in body["Text"]["Data"]
    assert "Reason: boom" in body["Html"]["Data"]
    assert kwargs["EmailTags"] == [{"Name": "fanout_event_id", "Value": prepared.event.event_id}]


@pytest.mark.parametrize("event_type", ["task_created", "pr_created", "task_cancelled", "task_stranded"])
def test_only_the_default_outcomes_are_sent_unless_the_task_asks(
    email_env: EmailEnv, event_type: str
) -> None:
    task_id = email_env.put_task(notification_email="quiet@example.com")
    assert email_env.run(make_event(task_id, event_type)) == Skipped("not_subscribed")
    assert sent_to(email_env, "quiet@example.com") == []


def test_an_override_adds_task_timed_out(email_env: EmailEnv) -> None:
    task_id = email_env.put_task(
        notification_email="timeouts@example.com",
        notifications={"email": {"events": ["default", "task_timed_out"]}},
    )
    assert isinstance(email_env.run(make_event(task_id, "task_timed_out")), Delivered)
    [message] = sent_to(email_env, "timeouts@example.com")
    assert message["subject"] == "Task timed out: acme/widgets"


def test_a_task_whose_overrides_mute_email_sends_nothing(email_env: EmailEnv) -> None:
    task_id = email_env.put_task(
        notification_email="muted@example.com", notifications={"email": {"enabled": False}}
    )
    assert email_env.run(make_event(task_id, "task_completed")) == Skipped("channel_muted")
    assert sent_to(email_env, "muted@example.com") == []


def test_a_task_without_an_address_and_no_user_pool_is_a_counted_skip(email_env: EmailEnv) -> None:
    task_id = email_env.put_task(notification_email=None)
    assert email_env.run(make_event(task_id)) == Skipped("no_recipient")


@pytest.mark.parametrize(
    "address",
    [
        '"Your bank" <attacker@evil.example>',
        "victim@example.com <attacker@evil.example>",
        "victim@example.com, attacker@evil.example",
        "victim@example.com\r\nBcc: attacker@evil.example",
        "not-an-address",
    ],
)
def test_an_invalid_notification_email_is_a_skip_never_a_send(email_env: EmailEnv, address: str) -> None:
    before = len(moto_sent(email_env.endpoint))
    task_id = email_env.put_task(notification_email=address)
    assert email_env.run(make_event(task_id)) == Skipped("invalid_recipient")
    assert len(moto_sent(email_env.endpoint)) == before
    [line] = [entry for entry in email_env.logs() if entry.get("event") == "fanout.email.invalid_recipient"]
    assert line["task_id"] == task_id
    assert "attacker" not in str(line)  # the problem is logged, not the untrusted address


def test_a_missing_task_is_skipped(email_env: EmailEnv) -> None:
    assert email_env.run(make_event("task-that-never-was")) == Skipped("task_not_found")
