from __future__ import annotations

import json

from fanout.router.plan import MAX_BODY_BYTES, SPAM_LIMIT_PER_TASK, TRUNCATED_TEXT_CHARS, plan_batch

BOTH = ("slack", "github")


def test_one_message_per_interested_channel(stream_record) -> None:
    records = [
        stream_record(task_id="a", event_type="task_created"),
        stream_record(task_id="a", event_type="agent_milestone", metadata={"milestone": "pr_created"}),
        stream_record(task_id="a", event_type="task_completed"),
    ]
    plan = plan_batch(records, BOTH)
    assert [(m.record_index, m.channel) for m in plan.messages] == [
        (0, "slack"),
        (1, "github"),
        (2, "slack"),
        (2, "github"),
    ]
    message = plan.messages[1]
    assert message.group_id == "a"
    assert message.dedup_id == records[1]["dynamodb"]["NewImage"]["event_id"]["S"]
    assert json.loads(message.body)["event_type"] == "pr_created"


def test_disabled_channels_get_nothing(stream_record) -> None:
    plan = plan_batch([stream_record(event_type="task_failed")], ("github",))
    assert [m.channel for m in plan.messages] == ["github"]


def test_skips_and_unrouted_types_are_counted(stream_record) -> None:
    remove = stream_record(event_name="REMOVE")
    broken = stream_record()
    del broken["dynamodb"]["NewImage"]["event_type"]
    records = [
        remove,
        broken,
        stream_record(event_type="agent_milestone", metadata={"milestone": "nudge_acknowledged"}),
        stream_record(event_type="approval_requested"),
        stream_record(event_type="something_new"),
    ]
    plan = plan_batch(records, BOTH)
    assert plan.messages == []
    assert plan.skipped == {"remove": 1, "missing_fields": 1}
    assert plan.unrouted_types == {"agent_milestone": 1, "approval_requested": 1, "something_new": 1}


def test_spam_guard_caps_non_terminal_events_per_task_and_channel(stream_record) -> None:
    noisy = [stream_record(task_id="noisy", event_type="agent_error") for _ in range(SPAM_LIMIT_PER_TASK + 5)]
    calm = [stream_record(task_id="calm", event_type="agent_error")]
    terminal = [stream_record(task_id="noisy", event_type="task_failed")]
    plan = plan_batch(noisy + calm + terminal, BOTH)
    slack = [m for m in plan.messages if m.channel == "slack"]
    assert sum(m.group_id == "noisy" for m in slack) == SPAM_LIMIT_PER_TASK + 1  # 20 errors + the terminal
    assert sum(m.group_id == "calm" for m in slack) == 1
    assert plan.spam_dropped == {"slack": 5}
    assert json.loads(slack[-1].body)["event_type"] == "task_failed"


def test_ids_sqs_would_reject_become_stable_digests(stream_record) -> None:
    records = [
        stream_record(task_id="task with spaces ✓", event_type="task_created"),
        stream_record(task_id="task with spaces ✓", event_type="session_started"),
        stream_record(task_id="x" * 200, event_type="task_created"),
    ]
    plan = plan_batch(records, ("slack",))
    groups = [m.group_id for m in plan.messages]
    assert groups[0] == groups[1] != groups[2]
    assert all(g.startswith("sha256-") and len(g) <= 128 for g in groups)
    assert json.loads(plan.messages[0].body)["task_id"] == "task with spaces ✓"
    assert plan_batch([stream_record(task_id="ok-id_1")], ("slack",)).messages[0].group_id == "ok-id_1"


def test_oversized_metadata_is_cut_to_fit_else_dropped_and_noted(stream_record) -> None:
    big = stream_record(event_type="agent_error", metadata={"message_preview": "y" * 300_000})
    plan = plan_batch([big], ("slack",))
    body = json.loads(plan.messages[0].body)
    assert len(plan.messages[0].body.encode()) <= MAX_BODY_BYTES
    assert body["metadata"]["message_preview"] == "y" * TRUNCATED_TEXT_CHARS
    assert body["metadata"]["fanout_truncated"] is True

    assert plan.notes[0]["reason"] == "metadata_truncated"

    many = stream_record(event_type="task_failed", metadata={f"k{i}": i for i in range(40_000)})
    plan = plan_batch([many], ("slack",))
    (message,) = plan.messages  # a terminal event still goes out, without its metadata
    assert json.loads(message.body)["metadata"] == {"fanout_metadata_dropped": True}
    assert json.loads(message.body)["event_type"] == "task_failed"
    assert plan.skipped == {}
    assert plan.notes[0]["reason"] == "metadata_dropped"
    assert plan.notes[0]["event_id"] == json.loads(message.body)["event_id"]

    hopeless = stream_record(task_id="t" * 300_000, event_type="task_failed")
    plan = plan_batch([hopeless], ("slack",))
    assert plan.messages == []
    assert plan.skipped == {"oversized": 1}
    assert plan.notes[0]["reason"] == "oversized"


def test_a_skipped_record_is_noted_with_its_reason_and_detail(stream_record) -> None:
    record = stream_record(event_type="task_created")
    del record["dynamodb"]["NewImage"]["timestamp"]
    plan = plan_batch([record], ("slack",))
    assert plan.skipped == {"missing_fields": 1}
    (note,) = plan.notes
    assert note["reason"] == "missing_fields"
    assert "timestamp" in note["detail"]
    assert note["record"] == record["eventID"]


def test_the_spam_guard_notes_each_task_once(stream_record) -> None:
    records = [stream_record(task_id="busy", event_type="session_started") for _ in range(25)]
    plan = plan_batch(records, ("slack",))
    assert plan.spam_dropped == {"slack": 5}
    assert [n["reason"] for n in plan.notes] == ["spam_guard"]
    assert plan.notes[0]["task_id"] == "busy"


def test_a_body_carries_characters_sqs_refuses_as_json_escapes(stream_record) -> None:
    text = "tool output \uffff and \ufffe here, ✓ stays"
    plan = plan_batch(
        [stream_record(event_type="agent_error", metadata={"message_preview": text})], ("slack",)
    )
    body = plan.messages[0].body
    assert "\uffff" not in body
    assert "\ufffe" not in body
    assert "✓" in body
    assert json.loads(body)["metadata"]["message_preview"] == text
