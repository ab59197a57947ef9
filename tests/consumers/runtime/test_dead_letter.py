from __future__ import annotations

from datetime import UTC, datetime

from consumers.runtime import dlq_attributes as attrs
from consumers.runtime.dead_letter import DeadLetter, message_attributes


def test_attributes_carry_the_history_as_sqs_values() -> None:
    letter = DeadLetter(
        reason="terminal:is_archived",
        last_error="is_archived",
        attempts=3,
        first_received_at=datetime(2026, 11, 18, 7, 33, 20, tzinfo=UTC).timestamp() + 0.5,
        channel="slack",
        task_id="task-1",
        event_type="task_completed",
    )

    got = message_attributes(letter)

    assert set(got) == set(attrs.ALL)
    assert got[attrs.ATTEMPTS] == {"DataType": "Number", "StringValue": "3"}
    assert got[attrs.FIRST_RECEIVED]["StringValue"] == "2026-11-18T07:33:20Z"
    assert got[attrs.REASON]["StringValue"] == "terminal:is_archived"


def test_unknown_fields_are_left_out_and_errors_are_bounded_and_redacted() -> None:
    letter = DeadLetter(
        reason=attrs.REASON_MALFORMED,
        last_error="token xoxb-1-2-3 " + "e" * 5000,
        attempts=0,
        first_received_at=0,
        channel="github",
    )

    got = message_attributes(letter)

    assert attrs.TASK_ID not in got
    assert attrs.EVENT_TYPE not in got
    error = got[attrs.LAST_ERROR]["StringValue"]
    assert len(error) <= 1000
    assert "xoxb" not in error
