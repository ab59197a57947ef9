"""Uncertain outcomes: a post that may have happened is looked for (by the event id in its metadata)
and recorded, never posted twice."""

from __future__ import annotations

import pytest

from consumers.runtime.channel import Prepared
from consumers.runtime.outcomes import Delivered, Retry, Skipped
from fanout.local.fakes.slack_faults import CallFault
from tests.consumers.steps import record

from .conftest import SlackEnv, make_event, writes


@pytest.mark.parametrize(
    "fault",
    [
        CallFault(lost="timeout", applied=True),
        CallFault(lost="dropped", applied=True),
        CallFault(error="fatal_error", applied=True),
        CallFault(error="internal_error", applied=True),
        CallFault(status=502, applied=True),
    ],
)
def test_an_uncertain_post_that_happened_is_found_not_repeated(slack_env: SlackEnv, fault: CallFault) -> None:
    mention = slack_env.slack.seed("C100")
    task_id = slack_env.put_task(meta={"slack_thread_ts": mention})
    event = make_event(task_id, "task_completed")
    slack_env.slack.fail("chat.postMessage", fault)
    first = slack_env.run(event)
    assert isinstance(first, Retry)
    assert first.uncertain
    assert slack_env.settle(event, first) == Delivered("reconciled")
    assert len(slack_env.slack.messages()) == 1
    assert slack_env.slack.methods().count("chat.postMessage") == 1
    root = slack_env.slack.message("C100", mention)
    assert root is not None
    assert root.reactions == {"white_check_mark"}  # the bookkeeping the lost answer skipped
    assert slack_env.meta(task_id)["slack_notified_terminal"] == event.event_id


def test_an_uncertain_post_that_did_not_happen_is_posted_once(slack_env: SlackEnv) -> None:
    mention = slack_env.slack.seed("C100")
    task_id = slack_env.put_task(meta={"slack_thread_ts": mention})
    event = make_event(task_id, "agent_error")
    slack_env.slack.fail("chat.postMessage", CallFault(status=503))
    first = slack_env.run(event)
    assert isinstance(first, Retry)
    assert first.uncertain
    assert slack_env.settle(event, first) == Delivered()
    assert len(slack_env.slack.messages()) == 1
    assert "conversations.replies" in slack_env.slack.methods()


def test_root_task_created_is_found_in_history_and_its_thread_recorded(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    event = make_event(task_id, "task_created")
    slack_env.slack.fail("chat.postMessage", CallFault(lost="timeout", applied=True))
    first = slack_env.run(event)
    assert isinstance(first, Retry)
    assert slack_env.settle(event, first) == Delivered("reconciled")
    (root,) = slack_env.slack.messages()
    meta = slack_env.meta(task_id)
    assert meta["slack_thread_ts"] == meta["slack_created_msg_ts"] == root.ts
    assert root.reactions == {"eyes"}
    history = [c for c in slack_env.slack.log.calls() if c.api == "conversations.history"]
    assert history
    assert history[0].http_method == "GET"
    assert history[0].params["include_all_metadata"] == "true"
    assert float(history[0].params["oldest"]) > 0


def test_throttling_on_the_marker_write_after_the_post_never_posts_twice(slack_env: SlackEnv) -> None:
    mention = slack_env.slack.seed("C100")
    task_id = slack_env.put_task(meta={"slack_thread_ts": mention})
    event = make_event(task_id, "session_started")
    slack_env.dynamodb.fail_when("update_item", writes("slack_session_msg_ts"))
    first = slack_env.run(event)
    assert first == Retry(
        None, "record_write_failed:ThrottlingException", uncertain=True, costs_attempt=False
    )
    assert len(slack_env.slack.messages()) == 1
    assert "slack_session_msg_ts" not in slack_env.meta(task_id)
    assert slack_env.settle(event, first) == Delivered("reconciled")
    (message,) = slack_env.slack.messages()
    assert slack_env.meta(task_id)["slack_session_msg_ts"] == message.ts
    assert slack_env.slack.methods().count("chat.postMessage") == 1


def test_a_reconcile_that_finds_the_bookkeeping_done_only_confirms(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    event = make_event(task_id, "task_created")
    assert slack_env.run(event) == Delivered()  # the ledger completion was lost, say
    assert slack_env.run(event, reconcile=True) == Delivered("reconciled")
    assert slack_env.slack.methods().count("chat.postMessage") == 1


def test_reconcile_adopting_a_duplicate_deletes_it(slack_env: SlackEnv) -> None:
    mention = slack_env.slack.seed("C100")
    task_id = slack_env.put_task(meta={"slack_thread_ts": mention})
    lost, other = make_event(task_id, "task_created"), make_event(task_id, "task_created")
    slack_env.slack.fail("chat.postMessage", CallFault(lost="timeout", applied=True))
    assert isinstance(slack_env.run(lost), Retry)
    assert slack_env.run(other) == Delivered()  # the other event stored its ts first
    assert slack_env.run(lost, reconcile=True) == Skipped("task_created_already_posted")
    (kept,) = slack_env.slack.messages()
    assert kept.metadata is not None
    assert kept.metadata["event_payload"]["event_id"] == other.event_id


def test_reconcile_pages_through_a_long_thread(slack_env: SlackEnv) -> None:
    mention = slack_env.slack.seed("C100")
    task_id = slack_env.put_task(meta={"slack_thread_ts": mention})
    for _ in range(4):
        slack_env.run(make_event(task_id, "agent_error"))  # only the first posts; add noise below
    for n in range(5):
        slack_env.slack.seed("C100", "noise", ts=f"{1_800_000_100 + n}.000001", thread_ts=mention)
    slack_env.clock.advance(200)  # the lost post comes after the noise: replies are in ts order
    event = make_event(task_id, "task_failed")
    slack_env.slack.fail("chat.postMessage", CallFault(lost="timeout", applied=True))
    slack_env.slack.page_size = 2
    first = slack_env.run(event)
    assert slack_env.settle(event, first) == Delivered("reconciled")
    replies = [c for c in slack_env.slack.log.calls() if c.api == "conversations.replies"]
    assert len(replies) >= 3
    assert replies[1].params["cursor"] == "2"
    assert slack_env.slack.methods().count("chat.postMessage") == 2


def test_a_failed_lookup_stays_uncertain(slack_env: SlackEnv) -> None:
    mention = slack_env.slack.seed("C100")
    task_id = slack_env.put_task(meta={"slack_thread_ts": mention})
    event = make_event(task_id, "task_completed")
    slack_env.slack.fail(
        "conversations.replies", CallFault(status=429, error="ratelimited", headers={"Retry-After": "7"})
    )
    prepared = slack_env.channel.prepare(event)
    assert isinstance(prepared, Prepared)
    outcome = record(slack_env.dynamodb, slack_env.channel.reconcile(prepared))
    assert outcome == Retry(7.0, "reconcile:ratelimited", f"slack:{slack_env.team}", uncertain=True)
    assert slack_env.slack.messages() == []


def test_a_lookup_in_a_deleted_thread_finds_nothing(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task(meta={"slack_thread_ts": "123.000009"})
    prepared = slack_env.channel.prepare(make_event(task_id, "task_completed"))
    assert isinstance(prepared, Prepared)
    assert record(slack_env.dynamodb, slack_env.channel.reconcile(prepared)) is None


def test_a_search_cut_off_by_the_page_limit_stays_uncertain(
    slack_env: SlackEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consumers.slack import finder

    mention = slack_env.slack.seed("C100")
    task_id = slack_env.put_task(meta={"slack_thread_ts": mention})
    for n in range(5):
        slack_env.slack.seed("C100", "noise", ts=f"{1_800_000_100 + n}.000001", thread_ts=mention)
    slack_env.slack.page_size = 2
    monkeypatch.setattr(finder, "MAX_PAGES", 2)
    prepared = slack_env.channel.prepare(make_event(task_id, "task_completed"))
    assert isinstance(prepared, Prepared)

    outcome = record(slack_env.dynamodb, slack_env.channel.reconcile(prepared))

    # Unread pages may hold the post: not finding it there must not lead to a second post.
    assert outcome == Retry(None, "reconcile:search_truncated", uncertain=True)
    assert slack_env.slack.methods().count("conversations.replies") == 2
    assert "chat.postMessage" not in slack_env.slack.methods()
