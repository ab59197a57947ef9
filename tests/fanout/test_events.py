from __future__ import annotations

import json

import pytest

from fanout.events import MalformedMessage, SkipRecord, TaskEvent, parse_stream_record


def test_parses_a_full_record(stream_record) -> None:
    record = stream_record(
        task_id="t-9",
        event_id="01JEVENT",
        event_type="agent_error",
        metadata={"error_type": "Tool", "message_preview": "boom", "nested": {"n": [1, 2.5, None, True]}},
    )
    event = parse_stream_record(record)
    assert event.task_id == "t-9"
    assert event.event_id == "01JEVENT"
    assert event.event_type == "agent_error"
    assert event.metadata["nested"]["n"] == (1, 2.5, None, True)
    assert event.source_type is None


def test_event_is_frozen_including_metadata(stream_record) -> None:
    event = parse_stream_record(stream_record(metadata={"a": {"b": 1}}))
    with pytest.raises(AttributeError):
        event.task_id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        event.metadata["a"]["b"] = 2  # type: ignore[index]


def test_pr_created_milestone_unwraps(stream_record) -> None:
    event = parse_stream_record(
        stream_record(event_type="agent_milestone", metadata={"milestone": "pr_created"})
    )
    assert event.event_type == "pr_created"
    assert event.source_type == "agent_milestone"


@pytest.mark.parametrize(
    "milestone", ["nudge_acknowledged", "repo_setup_complete", "task_completed", None, 5]
)
def test_other_milestones_keep_their_type(stream_record, milestone) -> None:
    event = parse_stream_record(
        stream_record(event_type="agent_milestone", metadata={"milestone": milestone})
    )
    assert event.event_type == "agent_milestone"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r.update(eventName="REMOVE"), "remove"),
        (lambda r: r["dynamodb"].pop("NewImage"), "no_new_image"),
        (lambda r: r.pop("dynamodb"), "no_new_image"),
        (lambda r: r["dynamodb"]["NewImage"].pop("timestamp"), "missing_fields"),
        (lambda r: r["dynamodb"]["NewImage"].update(event_id={"N": "5"}), "missing_fields"),
        (lambda r: r["dynamodb"]["NewImage"].update(task_id={"S": ""}), "missing_fields"),
        (lambda r: r["dynamodb"]["NewImage"].update(metadata={"S": "x"}), "malformed_metadata"),
        (lambda r: r["dynamodb"]["NewImage"].update(metadata={"Z": "x"}), "malformed_attribute"),
    ],
)
def test_unroutable_records_are_skipped_with_a_reason(stream_record, mutate, reason) -> None:
    record = stream_record()
    mutate(record)
    with pytest.raises(SkipRecord) as info:
        parse_stream_record(record)
    assert info.value.reason == reason


def test_unknown_extra_attributes_are_tolerated(stream_record) -> None:
    record = stream_record()
    record["dynamodb"]["NewImage"]["surprise"] = {"SS": ["x"]}
    assert parse_stream_record(record).event_type == "task_created"


def test_body_round_trips_and_is_compact(stream_record) -> None:
    event = parse_stream_record(
        stream_record(event_type="agent_milestone", metadata={"milestone": "pr_created", "cost": 1.5, "n": 3})
    )
    body = event.to_body()
    assert " " not in body
    assert json.loads(body)["v"] == 1
    again = TaskEvent.from_body(body)
    assert again == event
    assert again.source_type == "agent_milestone"


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"v": 2, "task_id": "t", "event_id": "e", "event_type": "x", "timestamp": "z"}',
        '{"v": 1, "task_id": "t", "event_id": "e", "event_type": "x"}',
        '{"v": 1, "task_id": "t", "event_id": "e", "event_type": "x", "timestamp": "z", "metadata": []}',
    ],
)
def test_malformed_bodies_raise(body: str) -> None:
    with pytest.raises(MalformedMessage):
        TaskEvent.from_body(body)


def test_meta_str_never_returns_none_text(stream_record) -> None:
    event = parse_stream_record(stream_record(metadata={"a": None, "b": "", "c": "x", "d": 5}))
    assert event.meta_str("a") is None
    assert event.meta_str("b") is None
    assert event.meta_str("missing") is None
    assert event.meta_str("c") == "x"
    assert event.meta_str("d") == "5"
