"""Pure routing decisions for one stream batch: which message goes to which channel queue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fanout import registry
from fanout.events import SkipRecord, TaskEvent, parse_stream_record

# At most this many non-terminal events per task and channel in one invocation; a runaway agent must not
# flood a Slack thread. Terminal events always pass: they carry the outcome users wait for.
SPAM_LIMIT_PER_TASK = 20


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


def plan_batch(records: Sequence[Mapping[str, Any]], channels: Iterable[str]) -> BatchPlan:
    """Parse every record and plan one message per interested, enabled channel (in stream order)."""
    enabled = tuple(channels)
    plan = BatchPlan()
    routes: dict[str, list[str]] = {}  # event type -> channel names, computed once per batch
    non_terminal_seen: Counter[tuple[str, str]] = Counter()
    for index, record in enumerate(records):
        try:
            event = parse_stream_record(record)
        except SkipRecord as skip:
            plan.skipped[skip.reason] += 1
            continue
        plan.events += 1
        targets = routes.get(event.event_type)
        if targets is None:
            targets = [spec.name for spec in registry.channels_for(event.event_type, enabled)]
            routes[event.event_type] = targets
        if not targets:
            plan.unrouted_types[event.event_type] += 1
            continue
        body = event.to_body()
        for channel in targets:
            if not event.is_terminal:
                key = (event.task_id, channel)
                non_terminal_seen[key] += 1
                if non_terminal_seen[key] > SPAM_LIMIT_PER_TASK:
                    plan.spam_dropped[channel] += 1
                    continue
            plan.messages.append(_message(index, channel, event, body))
    return plan


def _message(index: int, channel: str, event: TaskEvent, body: str) -> OutboundMessage:
    return OutboundMessage(
        record_index=index,
        channel=channel,
        # SQS limits both ids to 128 characters of [A-Za-z0-9!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~].
        group_id=event.task_id[:128],
        dedup_id=event.event_id[:128],
        body=body,
    )
