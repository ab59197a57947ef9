"""Once-only rules: one terminal message per task, one agent_error alert, lifecycle posts under
attribute_not_exists with duplicates deleted, and no slot kept by a failed post."""

from __future__ import annotations

import pytest

from consumers.runtime.channel import Prepared
from consumers.runtime.outcomes import Delivered, Retry, Skipped, Terminal
from fanout.local.fakes.slack_faults import CallFault
from tests.consumers.steps import record

from .conftest import SlackEnv, make_event


def test_task_stranded_after_task_failed_posts_nothing(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    failed = make_event(task_id, "task_failed", error="heartbeat lost")
    stranded = make_event(task_id, "task_stranded", prior_status="RUNNING")
    assert slack_env.run(failed) == Delivered()
    calls_before = len(slack_env.slack.log)
    assert slack_env.run(stranded) == Skipped("slack_notified_terminal_taken")
    assert len(slack_env.slack.log) == calls_before
    assert len(slack_env.slack.messages()) == 1
    assert slack_env.meta(task_id)["slack_notified_terminal"] == failed.event_id


@pytest.mark.parametrize("second", ["task_completed", "task_failed", "task_cancelled", "task_timed_out"])
def test_the_five_terminal_types_share_one_slot(slack_env: SlackEnv, second: str) -> None:
    task_id = slack_env.put_task()
    assert slack_env.run(make_event(task_id, "task_stranded")) == Delivered()
    assert slack_env.run(make_event(task_id, second)) == Skipped("slack_notified_terminal_taken")
    assert len(slack_env.slack.messages()) == 1


def test_a_slot_set_by_the_earlier_design_is_respected(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task(meta={"slack_notified_terminal": True})
    assert slack_env.run(make_event(task_id, "task_completed")) == Skipped("slack_notified_terminal_taken")
    assert slack_env.slack.log.calls() == []


def test_the_slot_guard_holds_against_a_stale_read(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    completed, failed = make_event(task_id, "task_completed"), make_event(task_id, "task_failed")
    stale = slack_env.channel.prepare(failed)  # read before the other terminal took the slot
    assert slack_env.run(completed) == Delivered()
    assert isinstance(stale, Prepared)
    assert record(slack_env.dynamodb, slack_env.channel.deliver(stale)) == Skipped(
        "slack_notified_terminal_taken"
    )
    assert len(slack_env.slack.messages()) == 1


def test_agent_error_alerts_once_and_never_blocks_the_terminal(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    first = make_event(task_id, "agent_error", error_type="ToolError", message_preview="boom")
    again = make_event(task_id, "agent_error", error_type="ToolError", message_preview="boom again")
    assert slack_env.run(first) == Delivered()
    assert slack_env.run(again) == Skipped("slack_dispatched_agent_error_taken")
    assert slack_env.run(make_event(task_id, "task_completed")) == Delivered()
    texts = [m.text.split("\n")[0] for m in slack_env.slack.messages()]
    assert texts == [
        ":rotating_light: *Agent error* during `acme/widgets`",
        ":white_check_mark: *Task completed* for `acme/widgets`",
    ]
    meta = slack_env.meta(task_id)
    assert meta["slack_dispatched_agent_error"] == first.event_id


@pytest.mark.parametrize(
    "fault",
    [
        CallFault(status=429, error="ratelimited", headers={"Retry-After": "30"}),
        CallFault(error="service_unavailable"),
        CallFault(lost="refused"),
        CallFault(error="channel_not_found"),
    ],
)
def test_a_post_that_surely_failed_leaves_the_slot_free(slack_env: SlackEnv, fault: CallFault) -> None:
    task_id = slack_env.put_task()
    event = make_event(task_id, "task_failed")
    slack_env.slack.fail("chat.postMessage", fault)
    outcome = slack_env.run(event)
    assert isinstance(outcome, Retry | Terminal)
    assert "slack_notified_terminal" not in slack_env.meta(task_id)
    assert slack_env.slack.messages() == []
    assert slack_env.run(event) == Delivered()  # the retry (or the redrive) is not skipped
    assert len(slack_env.slack.messages()) == 1


def test_429_retry_after_30_is_a_rate_limit_retry_for_the_workspace(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    slack_env.slack.fail(
        "chat.postMessage", CallFault(status=429, error="ratelimited", headers={"Retry-After": "30"})
    )
    outcome = slack_env.run(make_event(task_id, "task_created"))
    assert outcome == Retry(30.0, "ratelimited", rate_limit_key=f"slack:{slack_env.team}")
    assert slack_env.slack.messages() == []


def test_an_uncertain_post_keeps_the_slot_for_its_own_retry(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    event = make_event(task_id, "task_completed")
    slack_env.slack.fail("chat.postMessage", CallFault(error="internal_error"))
    outcome = slack_env.run(event)
    assert isinstance(outcome, Retry)
    assert outcome.uncertain
    assert slack_env.meta(task_id)["slack_notified_terminal"] == event.event_id
    assert slack_env.run(make_event(task_id, "task_stranded")) == Skipped("slack_notified_terminal_taken")
    assert slack_env.settle(event, outcome) == Delivered()
    assert len(slack_env.slack.messages()) == 1


def test_a_failed_slot_release_is_logged_and_the_retry_still_posts(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    event = make_event(task_id, "agent_error")
    slack_env.slack.fail("chat.postMessage", CallFault(error="service_unavailable"))
    slack_env.dynamodb.fail_when("update_item", lambda kw: kw["UpdateExpression"].startswith("REMOVE"))
    assert isinstance(slack_env.run(event), Retry)
    assert "fanout.slack.slot_release_failed" in slack_env.log_events()
    assert slack_env.run(event) == Delivered()
    assert len(slack_env.slack.messages()) == 1


def test_a_redelivered_lifecycle_event_whose_ts_is_stored_posts_nothing(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    event = make_event(task_id, "task_created")
    assert slack_env.run(event) == Delivered()
    calls = len(slack_env.slack.log)
    assert slack_env.run(event) == Skipped("task_created_already_posted")
    assert len(slack_env.slack.log) == calls


@pytest.mark.parametrize("event_type", ["task_created", "session_started"])
def test_a_lost_race_deletes_the_duplicate(slack_env: SlackEnv, event_type: str) -> None:
    mention = slack_env.slack.seed("C100")
    task_id = slack_env.put_task(meta={"slack_thread_ts": mention})
    winner, loser = make_event(task_id, event_type), make_event(task_id, event_type)
    stale = slack_env.channel.prepare(loser)
    assert slack_env.run(winner) == Delivered()
    assert isinstance(stale, Prepared)
    assert record(slack_env.dynamodb, slack_env.channel.deliver(stale)) == Skipped(
        f"{event_type}_already_posted"
    )
    (kept,) = slack_env.slack.messages()
    assert kept.metadata is not None
    assert kept.metadata["event_payload"]["event_id"] == winner.event_id
    assert len(slack_env.slack.messages(include_deleted=True)) == 2
    assert "fanout.slack.dup_delete_failed" not in slack_env.log_events()


def test_a_failed_duplicate_delete_is_logged(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    winner, loser = make_event(task_id, "task_created"), make_event(task_id, "task_created")
    stale = slack_env.channel.prepare(loser)
    slack_env.run(winner)
    slack_env.slack.fail("chat.delete", CallFault(error="cant_delete_message"))
    assert isinstance(stale, Prepared)
    assert record(slack_env.dynamodb, slack_env.channel.deliver(stale)) == Skipped(
        "task_created_already_posted"
    )
    assert len(slack_env.slack.messages()) == 2
    (line,) = [entry for entry in slack_env.logs() if entry["event"] == "fanout.slack.dup_delete_failed"]
    assert line["reason"] == "cant_delete_message"
    assert line["task_id"] == task_id


def test_a_duplicate_already_gone_counts_as_deleted(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    winner, loser = make_event(task_id, "task_created"), make_event(task_id, "task_created")
    stale = slack_env.channel.prepare(loser)
    slack_env.run(winner)
    slack_env.slack.fail("chat.delete", CallFault(error="message_not_found"))
    assert isinstance(stale, Prepared)
    assert record(slack_env.dynamodb, slack_env.channel.deliver(stale)) == Skipped(
        "task_created_already_posted"
    )
    assert "fanout.slack.dup_delete_failed" not in slack_env.log_events()


def test_a_throttled_slot_write_waits_without_calling_slack_or_costing_an_attempt(
    slack_env: SlackEnv,
) -> None:
    from .conftest import writes

    task_id = slack_env.put_task()
    event = make_event(task_id, "task_completed")
    slack_env.dynamodb.fail_when("update_item", writes("slack_notified_terminal"))
    outcome = slack_env.run(event)
    assert outcome == Retry(None, "slot_write_failed:ThrottlingException", costs_attempt=False)
    assert slack_env.slack.log.calls() == []
    assert slack_env.run(event) == Delivered()
    assert len(slack_env.slack.messages()) == 1


def test_an_ok_answer_without_a_ts_is_an_uncertain_retry(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    event = make_event(task_id, "task_created")
    slack_env.slack.fail("chat.postMessage", CallFault(body={"ok": True}, applied=True))
    outcome = slack_env.run(event)
    assert outcome == Retry(None, "post_without_ts", uncertain=True)
    assert "slack_created_msg_ts" not in slack_env.meta(task_id)
    assert slack_env.settle(event, outcome) == Delivered("reconciled")  # found by its metadata
    assert slack_env.meta(task_id)["slack_created_msg_ts"] == slack_env.slack.messages()[0].ts
