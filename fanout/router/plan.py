"""Pure routing decisions for one stream batch: which message goes to which channel queue."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fanout import registry
from fanout.events import SkipRecord, TaskEvent, parse_stream_record

# At most this many non-terminal events per task and channel in one invocation; a runaway agent must not
# flood a Slack thread. Terminal events always pass: they carry the outcome users wait for.
SPAM_LIMIT_PER_TASK = 20
MAX_BODY_BYTES = 256 * 1024  # SQS's message size limit
# Renderers show at most a few hundred characters of any metadata text; an oversized event keeps this
# much of each string rather than being dropped.
TRUNCATED_TEXT_CHARS = 2000
MAX_NOTES = 20


@dataclass(frozen=True)
class OutboundMessage:
    record_index: int  # position of the stream record in the batch
    channel: str
    group_id: str
    dedup_id: str
    body: str


@dataclass
class BatchPlan:
    messages: list[OutboundMessage] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> records
    unrouted_types: Counter[str] = field(default_factory=Counter)  # event types no channel renders
    spam_dropped: Counter[str] = field(default_factory=Counter)  # channel -> events over the limit
    events: int = 0
    # Which records were skipped and why (the first MAX_NOTES of a batch), for one warning line per batch.
    notes: list[dict[str, str]] = field(default_factory=list)

    def note(self, record: Mapping[str, Any], reason: str, detail: str = "", **ids: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(
                {"record": str(record.get("eventID", "?")), "reason": reason, "detail": detail, **ids}
            )


def plan_batch(records: Sequence[Mapping[str, Any]], channels: Iterable[str]) -> BatchPlan:
    """Parse every record and plan one message per interested, enabled channel (in stream order)."""
    enabled = tuple(channels)
    plan = BatchPlan()
    routes: dict[str, list[str]] = {}  # event type -> channel names, computed once per batch
    non_terminal_seen: dict[tuple[str, str], int] = {}
    for index, record in enumerate(records):
        try:
            event = parse_stream_record(record)
        except SkipRecord as skip:
            plan.skipped[skip.reason] += 1
            plan.note(record, skip.reason, skip.detail[:200])
            continue
        plan.events += 1
        targets = routes.get(event.event_type)
        if targets is None:
            targets = [spec.name for spec in registry.channels_for(event.event_type, enabled)]
            routes[event.event_type] = targets
        if not targets:
            plan.unrouted_types[event.event_type] += 1
            continue
        body, cut = _fitted_body(event)
        if body is None:
            plan.skipped["oversized"] += 1
            plan.note(record, "oversized", task_id=event.task_id, event_id=event.event_id)
            continue
        if cut:
            plan.note(record, cut, task_id=event.task_id, event_id=event.event_id)
        terminal = event.is_terminal
        group_id, dedup_id = sqs_id(event.task_id), sqs_id(event.event_id)
        for channel in targets:
            if not terminal:
                key = (event.task_id, channel)
                seen = non_terminal_seen[key] = non_terminal_seen.get(key, 0) + 1
                if seen > SPAM_LIMIT_PER_TASK:
                    plan.spam_dropped[channel] += 1
                    if seen == SPAM_LIMIT_PER_TASK + 1:  # one note per task and channel
                        plan.note(record, "spam_guard", channel=channel, task_id=event.task_id)
                    continue
            plan.messages.append(OutboundMessage(index, channel, group_id, dedup_id, body))
    return plan


def sqs_id(value: str) -> str:
    """The value itself when SQS accepts it as a group/dedup id (1-128 printable ASCII characters),
    else a digest of it: still one id per value, so order and deduplication hold; the body keeps the
    real value."""
    if len(value) <= 128 and value.isascii() and value.isprintable() and " " not in value and value:
        return value
    return "sha256-" + hashlib.sha256(value.encode()).hexdigest()


def _fitted_body(event: TaskEvent) -> tuple[str | None, str]:
    """The message body and how it was cut to fit SQS's limit ("" when it was not): long metadata texts
    first, else the whole metadata (the consumer reads the task; the event still says what happened).
    None only when not even that fits (the record is skipped and counted, never retried in vain)."""
    body = event.to_body()
    if body_bytes(body) <= MAX_BODY_BYTES:
        return body, ""
    trimmed = replace(event, metadata={**_cut_texts(event.metadata), "fanout_truncated": True})
    body = trimmed.to_body()
    if body_bytes(body) <= MAX_BODY_BYTES:
        return body, "metadata_truncated"
    bare = replace(event, metadata={"fanout_metadata_dropped": True})
    body = bare.to_body()
    return (body, "metadata_dropped") if body_bytes(body) <= MAX_BODY_BYTES else (None, "")


def body_bytes(body: str) -> int:
    """The UTF-8 size, without encoding the (usual) all-ASCII body."""
    return len(body) if body.isascii() else len(body.encode())


def _cut_texts(value: Any) -> Any:
    if isinstance(value, str):
        return value[:TRUNCATED_TEXT_CHARS]
    if isinstance(value, Mapping):
        return {k: _cut_texts(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_cut_texts(v) for v in value]
    return value
