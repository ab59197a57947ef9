"""prepare: every gate is a counted skip with its reason, and makes no Slack call."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.runtime.channel import Prepared
from consumers.runtime.outcomes import Retry, Skipped, Terminal
from consumers.slack.channel import TARGET
from consumers.slack.tasks import SlackTarget

from .conftest import MakeSlackEnv, SlackEnv, make_event


def test_a_slack_task_is_prepared_with_the_workspace_rate_limit_key(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task(meta={"slack_thread_ts": "111.000001"})
    prepared = slack_env.channel.prepare(make_event(task_id, "task_created"))
    assert isinstance(prepared, Prepared)
    assert prepared.rate_limit_key == f"slack:{slack_env.team}"
    assert prepared.extras[TARGET] == SlackTarget(slack_env.team, "C100", "C100", "111.000001")
    assert prepared.task["task_id"] == task_id
    assert slack_env.slack.log.calls() == []


def test_a_missing_task_is_skipped(slack_env: SlackEnv) -> None:
    assert slack_env.run(make_event("task-gone", "task_created")) == Skipped("task_not_found")
    assert slack_env.slack.log.calls() == []


@pytest.mark.parametrize("source", ["api", "cli", "github", None])
def test_a_non_slack_task_makes_zero_slack_calls(slack_env: SlackEnv, source: str | None) -> None:
    task_id = slack_env.put_task(channel_source=source)
    for event_type in ("task_created", "session_started", "agent_error", "task_completed"):
        assert slack_env.run(make_event(task_id, event_type)) == Skipped("not_slack_task")
    assert slack_env.slack.log.calls() == []
    assert slack_env.meta(task_id).keys() == {"slack_team_id", "slack_channel_id"}


@pytest.mark.parametrize(
    "meta",
    [{"slack_team_id": None}, {"slack_channel_id": None}, {"slack_team_id": "  "}, {"slack_channel_id": 5}],
)
def test_missing_workspace_or_channel_is_skipped(slack_env: SlackEnv, meta: dict[str, Any]) -> None:
    task_id = slack_env.put_task()
    base = {"slack_team_id": slack_env.team, "slack_channel_id": "C100"}
    base.update(meta)
    slack_env.put_task(task_id=task_id, channel_metadata={k: v for k, v in base.items() if v is not None})
    assert slack_env.run(make_event(task_id, "task_created")) == Skipped("missing_slack_metadata")
    assert slack_env.slack.log.calls() == []


def test_a_workspace_without_a_bot_token_is_skipped(make_slack_env: MakeSlackEnv) -> None:
    env = make_slack_env(secret=None)
    task_id = env.put_task()
    assert env.run(make_event(task_id, "task_created")) == Skipped("no_bot_token")
    assert env.slack.log.calls() == []


@pytest.mark.parametrize(
    ("notifications", "event_type", "reason"),
    [
        ({"slack": {"enabled": False}}, "task_created", "channel_muted"),
        ({"slack": {"events": []}}, "task_completed", "channel_muted"),
        ({"slack": {"events": ["task_completed"]}}, "task_created", "not_subscribed"),
        ({"slack": {"events": ["default"]}}, "pr_created", "not_subscribed"),
    ],
)
def test_overrides_mute_or_unsubscribe(
    slack_env: SlackEnv, notifications: dict[str, Any], event_type: str, reason: str
) -> None:
    task_id = slack_env.put_task(notifications=notifications)
    assert slack_env.run(make_event(task_id, event_type)) == Skipped(reason)
    assert slack_env.slack.log.calls() == []


def test_an_empty_events_override_logs_its_warning(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task(notifications={"slack": {"events": []}})
    slack_env.run(make_event(task_id, "task_created"))
    assert "fanout.slack.override_warning" in slack_env.log_events()


def test_a_throttled_task_read_is_a_retry(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    slack_env.dynamodb.fail_when("get_item")
    outcome = slack_env.run(make_event(task_id, "task_created"))
    assert outcome == Retry(None, "task_read_failed:ThrottlingException")
    assert slack_env.slack.log.calls() == []


def test_a_task_read_that_can_never_succeed_is_terminal_at_once(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    slack_env.dynamodb.fail_when("get_item", code="ValidationException")
    outcome = slack_env.run(make_event(task_id, "task_created"))
    assert outcome == Terminal("task_read_failed", "ValidationException: slow down")
    assert slack_env.slack.log.calls() == []


@pytest.mark.parametrize("event_type", ["task_created", "session_started"])
def test_a_progress_event_redriven_after_the_terminal_message_is_superseded(
    slack_env: SlackEnv, event_type: str
) -> None:
    task_id = slack_env.put_task(
        meta={"slack_thread_ts": "111.000001", "slack_notified_terminal": "01JOLDTERMINALEVENT"}
    )
    assert slack_env.run(make_event(task_id, event_type)) == Skipped("superseded")
    assert slack_env.slack.log.calls() == []


def test_an_agent_error_after_the_terminal_message_is_still_posted(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task(
        meta={"slack_thread_ts": "111.000001", "slack_notified_terminal": "01JOLDTERMINALEVENT"}
    )
    assert slack_env.run(make_event(task_id, "agent_error", error_type="Crash")) != Skipped("superseded")
    assert slack_env.slack.methods().count("chat.postMessage") == 1


def test_a_spoofed_pr_link_never_becomes_a_button(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task(pr_url="https://github.com.evil.example/acme/widgets/pull/42", pr_number=42)
    prepared = slack_env.channel.prepare(make_event(task_id, "task_completed"))
    assert isinstance(prepared, Prepared)
    assert "pr_url" not in prepared.task
    assert "fanout.slack.untrusted_link" in slack_env.log_events()
