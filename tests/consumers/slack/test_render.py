from __future__ import annotations

import json
from typing import Any

import pytest

from consumers.slack.render import RENDERERS, message_metadata, render
from fanout import registry
from fanout.events import TaskEvent

TASK_ID = "task-render-1"


def event(event_type: str, **metadata: Any) -> TaskEvent:
    return TaskEvent(TASK_ID, "01JRENDER0000000000000001", event_type, "2027-01-15T08:00:00+00:00", metadata)


def task(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"task_id": TASK_ID, "repo": "acme/widgets", "task_description": "Fix login"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def all_text(message: Any) -> str:
    return message.text + "\n" + json.dumps(message.blocks)


def test_every_default_subscription_and_renderable_type_has_a_renderer() -> None:
    assert registry.SLACK.default_subscriptions <= RENDERERS.keys()
    assert registry.SLACK.renderable == RENDERERS.keys()


def test_task_created_shows_repo_description_and_task_id() -> None:
    message = render(event("task_created"), task())
    assert message.text.startswith(":rocket: *Task submitted* for `acme/widgets`")
    assert "Fix login" in message.text
    assert f"`{TASK_ID}`" in all_text(message)
    assert message.blocks[0]["type"] == "section"


def test_task_created_truncates_the_description_to_200_chars() -> None:
    message = render(event("task_created"), task(task_description="d" * 1000))
    description = message.blocks[1]["text"]["text"]
    assert len(description) == 200
    assert description.endswith("…")


@pytest.mark.parametrize("mention", ["<!channel>", "<!here>", "<@U123>", "<!subteam^S1>"])
def test_mentions_in_untrusted_text_never_reach_slack_unescaped(mention: str) -> None:
    t = task(task_description=f"hi {mention}", repo=f"acme/{mention}", error_message=f"boom {mention}")
    for event_type, meta in [
        ("task_created", {}),
        ("task_failed", {}),
        ("agent_error", {"message_preview": mention, "error_type": mention}),
        ("task_stranded", {"prior_status": mention}),
    ]:
        text = all_text(render(event(event_type, **meta), t))
        assert mention not in text
        assert "&lt;" in text


def test_session_started_has_a_danger_cancel_button_for_the_task() -> None:
    message = render(event("session_started"), task())
    assert message.text == ":hourglass_flowing_sand: Agent started working on `acme/widgets`"
    (button,) = message.blocks[-1]["elements"]
    assert button["style"] == "danger"
    assert button["action_id"] == f"cancel_task:{TASK_ID}"
    assert button["text"]["text"] == "Cancel Task"


def test_task_completed_shows_duration_cost_and_a_pr_button_without_an_inline_link() -> None:
    t = task(duration_s=252, cost_usd=1.3712, pr_url="https://github.com/acme/widgets/pull/7", pr_number=7)
    message = render(event("task_completed"), t)
    assert message.text.startswith(":white_check_mark: *Task completed* for `acme/widgets`")
    assert "4m 12s · $1.37" in all_text(message)
    button = message.blocks[-1]["elements"][0]
    assert button["text"]["text"] == "View PR #7"
    assert button["url"] == "https://github.com/acme/widgets/pull/7"
    assert "github.com" not in message.text  # no inline link, so nothing unfurls


def test_task_completed_takes_the_pr_number_from_the_url_and_omits_unknown_facts() -> None:
    message = render(event("task_completed"), task(pr_url="https://github.com/acme/widgets/pull/19"))
    assert message.blocks[-1]["elements"][0]["text"]["text"] == "View PR #19"
    assert "$" not in all_text(message)
    bare = render(event("task_completed"), task())
    assert [b["type"] for b in bare.blocks] == ["section"]


def test_task_completed_ignores_a_pr_url_that_is_not_http() -> None:
    message = render(event("task_completed"), task(pr_url="javascript:alert(1)"))
    assert all(b["type"] != "actions" for b in message.blocks)


@pytest.mark.parametrize(
    ("fields", "meta", "reason"),
    [
        ({"error_message": "tests failed"}, {"error": "meta error"}, "tests failed"),
        ({}, {"error": "meta error"}, "meta error"),
        ({}, {}, "Unknown error"),
    ],
)
def test_task_failed_reason_falls_back_from_error_message_to_metadata_to_unknown(
    fields: dict[str, Any], meta: dict[str, Any], reason: str
) -> None:
    message = render(event("task_failed", **meta), task(**fields))
    assert message.text.startswith(":x: *Task failed* for `acme/widgets`")
    assert reason in message.text


def test_task_failed_truncates_the_reason_to_300_chars() -> None:
    message = render(event("task_failed"), task(error_message="e" * 900))
    assert len(message.blocks[1]["text"]["text"]) == 300


def test_cancelled_timed_out_and_stranded() -> None:
    assert render(event("task_cancelled"), task()).text == ":no_entry_sign: Task cancelled for `acme/widgets`"
    timed = render(event("task_timed_out"), task(duration_s=3600 * 2 + 5 * 60))
    assert timed.text == ":hourglass: *Task timed out* for `acme/widgets` after 2h 5m"
    stranded = render(event("task_stranded", prior_status="RUNNING", code="STRANDED_NO_HEARTBEAT"), task())
    assert stranded.text == ":warning: *Task stranded* for `acme/widgets` (last status: RUNNING)"
    assert render(event("task_stranded"), task()).text == ":warning: *Task stranded* for `acme/widgets`"


def test_agent_error_with_and_without_metadata() -> None:
    full = render(event("agent_error", error_type="ToolError", message_preview="p" * 500), task())
    assert full.blocks[0]["text"]["text"] == ":rotating_light: *Agent error* during `acme/widgets`"
    assert full.blocks[1]["text"]["text"] == "_Type:_ `ToolError`"
    assert len(full.blocks[2]["text"]["text"]) == 200
    bare = render(event("agent_error"), task())
    assert "_Type:_" not in all_text(bare)
    assert len(bare.blocks) == 1


@pytest.mark.parametrize("event_type", sorted(RENDERERS))
def test_no_message_ever_says_none_or_undefined(event_type: str) -> None:
    sparse = {"task_id": TASK_ID, "repo": None, "task_description": None, "error_message": None}
    meta = {"error_type": None, "message_preview": "", "prior_status": None}
    for t in (sparse, {**sparse, "duration_s": None, "cost_usd": "n/a", "pr_url": None}):
        text = all_text(render(event(event_type, **meta), t))
        assert "None" not in text
        assert "undefined" not in text
        assert "null" not in text


def test_metadata_names_the_event_for_reconciliation() -> None:
    assert message_metadata(event("task_failed")) == {
        "event_type": "fanout_delivery",
        "event_payload": {"event_id": "01JRENDER0000000000000001", "task_id": TASK_ID, "type": "task_failed"},
    }


def test_blank_metadata_counts_as_absent() -> None:
    failed = all_text(render(event("task_failed", error="   "), task()))
    assert "Unknown error" in failed
    stranded = all_text(render(event("task_stranded", prior_status="  "), task()))
    assert "last status" not in stranded
    agent = all_text(render(event("agent_error", error_type=" ", message_preview="boom"), task()))
    assert "Type:" not in agent
    assert "boom" in agent


def test_formatting_in_untrusted_text_cannot_imitate_the_bots_own_lines() -> None:
    forged = "boom\n:white_check_mark: *Task completed* ~really~ _yes_ `ok`"
    message = render(event("task_failed"), task(error_message=forged, repo="acme/wid`gets"))
    head, reason = (block["text"]["text"] for block in message.blocks)
    assert head == ":x: *Task failed* for `acme/wid\u02cbgets`"  # the backtick cannot close the span
    assert "\n" not in reason
    for mark in "*_~`":
        assert mark not in reason


def test_an_oversized_task_id_never_makes_invalid_blocks() -> None:
    def with_id(task_id: str, event_type: str) -> TaskEvent:
        return TaskEvent(task_id, "01JRENDER0000000000000002", event_type, "2027-01-15T08:00:00+00:00", {})

    huge = "t" * 5000
    created = render(with_id(huge, "task_created"), task(task_description="d" * 10_000))
    started = render(with_id(huge, "session_started"), task())
    for message in (created, started):
        for block in message.blocks:
            texts = [block.get("text", {}).get("text", "")]
            texts += [e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), str)]
            assert all(len(text) <= 3000 for text in texts)
            for element in block.get("elements", []):
                assert len(element.get("action_id", "")) <= 255
    assert all(block["type"] != "actions" for block in started.blocks)  # no button that cannot name the task
    fits = render(with_id("t" * 200, "session_started"), task())
    assert fits.blocks[-1]["elements"][0]["action_id"] == "cancel_task:" + "t" * 200


def test_sections_are_cut_at_slacks_limit_without_splitting_an_entity() -> None:
    from consumers.slack.escape import bounded

    text = "a" * 2997 + "&amp;bbb"
    cut = bounded(text, 3000)
    assert len(cut) <= 3000
    assert cut.endswith("a…")
