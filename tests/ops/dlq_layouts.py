"""DLQ layouts for the redrive tests: many tasks, mixed reasons, interleaved, written the way consumers
dead-letter (batched sends, so hundreds of messages stay cheap), and read back per task."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from consumers.runtime import dlq_attributes as attr
from fanout.events import TaskEvent
from fanout.ops.lanes import parse_parked

BUDGET, TERMINAL, MALFORMED = attr.REASON_BUDGET, "terminal:channel_not_found", attr.REASON_MALFORMED


@dataclass(frozen=True)
class Letter:
    task: str
    event_id: str
    reason: str


def write_layout(sqs: Any, dlq_url: str, letters: Sequence[Letter]) -> None:
    """Dead-letter `letters` in this order (the order within a task is the order of the list)."""
    entries = [_entry(i, letter) for i, letter in enumerate(letters)]
    for start in range(0, len(entries), 10):
        answer = sqs.send_message_batch(QueueUrl=dlq_url, Entries=entries[start : start + 10])
        assert not answer.get("Failed"), answer


def _entry(i: int, letter: Letter) -> dict[str, Any]:
    event = TaskEvent(
        task_id=letter.task,
        event_id=letter.event_id,
        event_type="task_completed",
        timestamp="2026-11-26T10:00:00Z",
    )
    values = {
        attr.REASON: letter.reason,
        attr.ATTEMPTS: "3",
        attr.CHANNEL: "github",
        attr.TASK_ID: letter.task,
        attr.EVENT_TYPE: "task_completed",
    }
    return {
        "Id": str(i),
        "MessageBody": event.to_body(),
        "MessageGroupId": letter.task,
        "MessageDeduplicationId": letter.event_id,
        "MessageAttributes": {
            k: {"DataType": "Number" if k == attr.ATTEMPTS else "String", "StringValue": v}
            for k, v in values.items()
        },
    }


def drain_by_task(sqs: Any, url: str) -> dict[str, list[str]]:
    """Empty the queue; per task, its event ids in the task's order (lanes highest first, then FIFO)."""
    lanes: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            break
        for message in got:
            parked = parse_parked(message.get("MessageAttributes") or {})
            body = json.loads(message["Body"])
            lanes[body["task_id"]][parked.lane if parked else 0].append(body["event_id"])
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return {
        task: [e for n in sorted(by_lane, reverse=True) for e in by_lane[n]]
        for task, by_lane in lanes.items()
    }


def per_task(letters: Sequence[Letter]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for letter in letters:
        out[letter.task].append(letter.event_id)
    return dict(out)
