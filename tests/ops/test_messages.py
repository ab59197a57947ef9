from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from consumers.runtime import dlq_attributes as attr
from fanout.events import TaskEvent
from fanout.ops.messages import (
    MAX_MESSAGE_ATTRIBUTES,
    REDRIVEN_ATTRIBUTE,
    give_back,
    parse_dead_letter,
    redrive_attributes,
)

SENT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.fixture
def received():
    """Factory: a ReceiveMessage entry as SQS returns it."""

    def make(*, body: str | None = None, group: str | None = "task-1", **attributes: str) -> dict:
        system = {"SentTimestamp": str(int(SENT.timestamp() * 1000))}
        if group is not None:
            system["MessageGroupId"] = group
        event = TaskEvent(
            task_id="task-1", event_id="evt-1", event_type="pr_created", timestamp="2026-11-27T09:00:00Z"
        )
        return {
            "MessageId": "m-1",
            "ReceiptHandle": "rh-1",
            "Body": event.to_body() if body is None else body,
            "Attributes": system,
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
            },
        }

    return make


def test_reads_the_consumers_attributes(received) -> None:
    letter = parse_dead_letter(
        received(
            reason="terminal:422", attempts="3", first_received="2026-11-27T08:00:00Z", last_error="boom"
        )
    )

    assert (letter.reason, letter.attempts, letter.last_error) == ("terminal:422", 3, "boom")
    assert letter.first_received == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert (letter.task_id, letter.event_type, letter.event_id, letter.group_id) == (
        "task-1",
        "pr_created",
        "evt-1",
        "task-1",
    )
    assert letter.age(SENT + timedelta(minutes=3)) == timedelta(minutes=3)
    assert letter.as_json(SENT + timedelta(minutes=3))["age_s"] == 180.0


def test_falls_back_to_the_body_then_the_group_and_never_raises(received) -> None:
    from_group = parse_dead_letter(received(body="not json", group="task-9", attempts="many"))

    assert (from_group.task_id, from_group.event_type, from_group.attempts) == ("task-9", None, None)
    assert parse_dead_letter(received(event_type="task_failed")).event_type == "task_failed"


def test_redrive_attributes_keep_everything_and_count_the_redrive(received) -> None:
    letter = parse_dead_letter(received(**{attr.REASON: "x", REDRIVEN_ATTRIBUTE: "2"}))

    copied = redrive_attributes(letter)

    assert copied[attr.REASON] == {"DataType": "String", "StringValue": "x"}
    assert copied[REDRIVEN_ATTRIBUTE] == {"DataType": "Number", "StringValue": "3"}


def test_redrive_attributes_respect_the_sqs_limit(received) -> None:
    full = {f"a{i}": "v" for i in range(MAX_MESSAGE_ATTRIBUTES)}

    copied = redrive_attributes(parse_dead_letter(received(**full)))

    assert set(copied) == set(full)  # no room for the count: the message's own attributes win


class FlakyVisibility:
    """change_message_visibility_batch that raises on the first call and fails one entry on the next."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def change_message_visibility_batch(self, *, QueueUrl: str, Entries: list[dict]) -> dict:
        self.calls.append(len(Entries))
        if len(self.calls) == 1:
            raise ClientError(
                {"Error": {"Code": "InternalError", "Message": "x"}}, "ChangeMessageVisibilityBatch"
            )
        return {"Successful": [{"Id": e["Id"]} for e in Entries[1:]], "Failed": [{"Id": Entries[0]["Id"]}]}


def test_give_back_never_raises_and_counts_what_stays_hidden() -> None:
    sqs = FlakyVisibility()

    failed = give_back(sqs, "url", [f"h{i}" for i in range(12)] + ["h0"])  # type: ignore[arg-type]

    assert sqs.calls == [10, 2]  # batches of ten, duplicates dropped
    assert failed == 11
