"""The conversation a task leaves in Slack: threading, the root, DM rewrite, reactions, cleanup."""

from __future__ import annotations

import pytest

from consumers.runtime.outcomes import Delivered
from consumers.slack.render import METADATA_EVENT_TYPE
from fanout.local.fakes.slack_faults import CallFault
from tests.consumers.steps import record

from .conftest import BASE_URL, TOKEN, SlackEnv, make_event


def test_the_mention_thread_ends_with_one_terminal_message_and_a_check_on_the_root(
    slack_env: SlackEnv,
) -> None:
    slack = slack_env.slack
    mention = slack.seed("C100")
    task_id = slack_env.put_task(meta={"slack_thread_ts": mention}, duration_s=252, cost_usd=1.37)
    events = [
        make_event(task_id, "task_created"),
        make_event(task_id, "session_started"),
        make_event(task_id, "task_completed"),
    ]
    for event in events:
        assert slack_env.run(event) == Delivered()

    posted = slack.messages(include_deleted=True)
    assert [m.thread_ts for m in posted] == [mention] * 3
    assert [m.deleted for m in posted] == [True, True, False]  # task_created and session_started replies
    (final,) = slack.messages()
    assert final.text.startswith(":white_check_mark: *Task completed*")
    assert "4m 12s · $1.37" in final.text
    root = slack.message("C100", mention)
    assert root is not None
    assert root.reactions == {"white_check_mark"}
    assert not root.deleted
    meta = slack_env.meta(task_id)
    assert meta["slack_thread_ts"] == mention
    assert meta["slack_created_msg_ts"] == posted[0].ts
    assert meta["slack_session_msg_ts"] == posted[1].ts
    assert meta["slack_notified_terminal"] == events[2].event_id


def test_every_post_carries_metadata_auth_and_no_unfurl(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    event = make_event(task_id, "task_created")
    slack_env.run(event)
    post = next(c for c in slack_env.slack.log.calls() if c.api == "chat.postMessage")
    assert post.url == f"{BASE_URL}/chat.postMessage"
    assert post.http_method == "POST"
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert post.params["unfurl_links"] is False
    assert post.params["metadata"] == {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {"event_id": event.event_id, "task_id": task_id, "type": "task_created"},
    }
    assert post.params["blocks"][0]["type"] == "section"
    assert post.params["text"]


def test_without_a_mention_task_created_becomes_the_root(slack_env: SlackEnv) -> None:
    slack = slack_env.slack
    task_id = slack_env.put_task()
    created, started, failed = (
        make_event(task_id, "task_created"),
        make_event(task_id, "session_started"),
        make_event(task_id, "task_failed", error="agent crashed"),
    )
    assert slack_env.run(created) == Delivered()
    (root,) = slack.messages()
    assert root.thread_ts is None
    assert slack_env.meta(task_id)["slack_thread_ts"] == root.ts
    assert root.reactions == {"eyes"}

    assert slack_env.run(started) == Delivered()
    assert root.reactions == {"hourglass_flowing_sand"}
    assert slack_env.run(failed) == Delivered()

    remaining = slack.messages()
    assert [m.ts for m in remaining] == [root.ts, remaining[1].ts]  # the root stays; the session reply went
    assert remaining[1].thread_ts == root.ts
    assert "agent crashed" in remaining[1].text
    assert root.reactions == {"x"}
    assert len(slack.messages(include_deleted=True)) == 3


def test_a_dm_task_posts_to_the_user_and_reacts_in_the_real_channel(slack_env: SlackEnv) -> None:
    slack = slack_env.slack
    mention = slack.seed("D123")
    task_id = slack_env.put_task(
        meta={"slack_channel_id": "D123", "slack_user_id": "U123", "slack_thread_ts": mention}
    )
    for event_type in ("task_created", "task_cancelled"):
        assert slack_env.run(make_event(task_id, event_type)) == Delivered()
    posts = [c for c in slack.log.calls() if c.api == "chat.postMessage"]
    assert [p.params["channel"] for p in posts] == ["U123", "U123"]
    reactions = [c for c in slack.log.calls() if c.api.startswith("reactions.")]
    assert reactions
    assert {c.params["channel"] for c in reactions} == {"D123"}
    deletes = [c for c in slack.log.calls() if c.api == "chat.delete"]
    assert [c.params["channel"] for c in deletes] == ["D123"]
    root = slack.message("D123", mention)
    assert root is not None
    assert root.reactions == {"no_entry_sign"}
    assert [m.text.split("\n")[0] for m in slack.messages()] == [
        ":no_entry_sign: Task cancelled for `acme/widgets`"
    ]


def test_a_dm_without_a_user_id_posts_to_the_dm_channel(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task(meta={"slack_channel_id": "D777"})
    assert slack_env.run(make_event(task_id, "task_created")) == Delivered()
    assert [m.channel for m in slack_env.slack.messages()] == ["D777"]


def test_a_channel_description_with_channel_mention_never_pings(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task(task_description="<!channel> please <@U999> look at <!here>")
    slack_env.run(make_event(task_id, "task_created"))
    (message,) = slack_env.slack.messages()
    for text in (message.text, str(message.blocks)):
        assert "<!channel>" not in text
        assert "<!here>" not in text
        assert "<@U999>" not in text
    assert "&lt;!channel&gt;" in message.text


def test_reaction_failures_never_fail_the_delivery_and_are_logged(slack_env: SlackEnv) -> None:
    from fanout.local.fakes.slack_faults import CallFault

    mention = slack_env.slack.seed("C100")
    task_id = slack_env.put_task(meta={"slack_thread_ts": mention})
    slack_env.slack.fail(
        "reactions.add", CallFault(status=429, error="ratelimited", headers={"Retry-After": "9"})
    )
    outcome = slack_env.run(make_event(task_id, "task_created"))
    # Delivered all the same; the runtime is told of the workspace's limit so it holds it back.
    assert outcome == Delivered(rate_limit_key=f"slack:{slack_env.team}", after_seconds=9.0)
    assert "fanout.slack.reaction_failed" in slack_env.log_events()
    assert slack_env.slack.methods().count("reactions.add") == 1  # never retried


def test_already_reacted_and_no_reaction_are_success(slack_env: SlackEnv) -> None:
    mention = slack_env.slack.seed("C100")
    root = slack_env.slack.message("C100", mention)
    assert root is not None
    root.reactions.add("white_check_mark")  # already there; eyes and hourglass are not
    task_id = slack_env.put_task(meta={"slack_thread_ts": mention})
    assert slack_env.run(make_event(task_id, "task_completed")) == Delivered()
    methods = slack_env.slack.methods()
    assert methods.count("reactions.remove") == 2
    assert methods.count("reactions.add") == 1
    assert "fanout.slack.reaction_failed" not in slack_env.log_events()
    assert root.reactions == {"white_check_mark"}


def test_terminal_cleanup_deletes_what_the_earlier_messages_persisted_without_reading_the_task_again(
    slack_env: SlackEnv,
) -> None:
    slack = slack_env.slack
    mention = slack.seed("C100")
    task_id = slack_env.put_task(meta={"slack_thread_ts": mention})
    # FIFO order: the earlier messages are settled before the terminal one is handed over.
    assert slack_env.run(make_event(task_id, "task_created")) == Delivered()
    assert slack_env.run(make_event(task_id, "session_started")) == Delivered()
    persisted = slack_env.meta(task_id)
    earlier = sorted([persisted["slack_created_msg_ts"], persisted["slack_session_msg_ts"]])
    gone = slack.message("C100", persisted["slack_session_msg_ts"])
    assert gone is not None
    gone.deleted = True  # someone removed it already: message_not_found counts as deleted
    terminal = make_event(task_id, "task_timed_out")
    prepared = slack_env.channel.prepare(terminal)
    reads_in_prepare = slack_env.dynamodb.calls.count("get_item")
    assert record(slack_env.dynamodb, slack_env.channel.deliver(prepared)) == Delivered()  # type: ignore[arg-type]
    assert slack_env.dynamodb.calls.count("get_item") == reads_in_prepare  # prepare's read is the one
    deleted = [c.params["ts"] for c in slack.log.calls() if c.api == "chat.delete"]
    assert sorted(deleted) == earlier
    assert "fanout.slack.cleanup_delete_failed" not in slack_env.log_events()
    assert [m.text.split("\n")[0] for m in slack.messages()] == [
        ":hourglass: *Task timed out* for `acme/widgets`"
    ]


@pytest.mark.parametrize("unusable", ["", "   ", 1700000000.5])
def test_an_unusable_thread_ts_is_replaced_by_the_root_task_created_posts(
    slack_env: SlackEnv, unusable: object
) -> None:
    task_id = slack_env.put_task(meta={"slack_thread_ts": unusable})
    assert slack_env.run(make_event(task_id, "task_created")) == Delivered()
    (root,) = slack_env.slack.messages(include_deleted=True)  # posted once, and kept
    assert root.thread_ts is None
    assert slack_env.meta(task_id)["slack_thread_ts"] == root.ts
    assert slack_env.run(make_event(task_id, "session_started")) == Delivered()
    assert slack_env.slack.messages()[-1].thread_ts == root.ts


def test_a_reaction_answer_httpx_cannot_decode_does_not_fail_the_terminal_delivery(
    slack_env: SlackEnv,
) -> None:
    slack = slack_env.slack
    task_id = slack_env.put_task(meta={"slack_thread_ts": slack.seed("C100")})
    slack.fail("reactions.add", CallFault(lost="undecodable"))
    assert slack_env.run(make_event(task_id, "task_completed")) == Delivered()
    assert len(slack.messages()) == 1
    assert "fanout.slack.reaction_failed" in slack_env.log_events()


def test_a_rate_limited_best_effort_call_ends_the_best_effort_calls(slack_env: SlackEnv) -> None:
    slack = slack_env.slack
    task_id = slack_env.put_task(meta={"slack_thread_ts": slack.seed("C100")})
    for event_type in ("task_created", "session_started"):
        assert slack_env.run(make_event(task_id, event_type)) == Delivered()
    start = len(slack.log)
    slack.fail("reactions.remove", CallFault(status=429, error="ratelimited", headers={"Retry-After": "30"}))

    limited = Delivered(rate_limit_key=f"slack:{slack_env.team}", after_seconds=30.0)
    assert slack_env.run(make_event(task_id, "task_completed")) == limited

    # The runtime holds back the whole workspace after a 429, and so does the delivery: no second remove,
    # no add, no cleanup delete inside the window; a 429 on a cleanup delete stops the rest likewise.
    assert slack.methods()[start:] == ["chat.postMessage", "reactions.remove"]
    assert "fanout.slack.cleanup_skipped" in slack_env.log_events()
    other = slack_env.put_task(meta={"slack_thread_ts": slack.seed("C100")})
    for event_type in ("task_created", "session_started"):
        assert slack_env.run(make_event(other, event_type)) == Delivered()
    start = len(slack.log)
    slack.fail("chat.delete", CallFault(status=429, error="ratelimited", headers={"Retry-After": "30"}))
    assert slack_env.run(make_event(other, "task_completed")) == limited
    assert slack.methods()[start:].count("chat.delete") == 1
    assert "fanout.slack.cleanup_delete_failed" in slack_env.log_events()
