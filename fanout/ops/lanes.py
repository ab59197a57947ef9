"""Lanes: how a filtered client redrive keeps a task's messages in order while it steps past the ones
that stay in the DLQ.

SQS shows no message of a FIFO group while an earlier one of the group is in flight, so a message that
stays (it does not match the filter, or it is `malformed`) would hide everything behind it. The redrive
therefore *parks* it: sends a copy to the DLQ under the group `<task group>~<n>` (a lane) and then
deletes the original, which unlocks the rest of the group.

A task's messages are the concatenation of its lanes, highest lane number first: lane 0 is where the
consumer dead-letters; each redrive parks into one lane above every lane it found for the task, and walks
the lanes from the highest down. Whatever point a redrive stops at (done, --limit, Ctrl-C, a crash
between two calls), the parked lane holds exactly the walked prefix, in order, and the lanes below hold
the rest: the task's order survives every interruption, and the next redrive walks it the same way.

A parked copy carries one attribute, `redrive_parked`: the task's group, the lane, the id of the message
as first dead-lettered (the origin: a copy of a copy keeps it) and when it was first dead-lettered
(so `--older-than` and ages survive parking). Moving a message back to the queue drops the attribute.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PARKED_ATTRIBUTE = "redrive_parked"
LANE_SEPARATOR = "~"
_DEDUP_NAMESPACE = uuid.UUID("4f1c2a8e-8a57-4d2b-9a7e-6f0d2b1c9e31")


@dataclass(frozen=True)
class Lane:
    group: str  # the task's own FIFO group (the one the channel queue uses)
    number: int  # 0: dead-lettered by the consumer; n > 0: parked by a redrive

    @property
    def group_id(self) -> str:
        return self.group if self.number == 0 else f"{self.group}{LANE_SEPARATOR}{self.number}"


@dataclass(frozen=True)
class Parked:
    group: str
    lane: int
    origin: str
    sent_ms: int | None

    def encode(self) -> str:
        return json.dumps(
            {"group": self.group, "lane": self.lane, "origin": self.origin, "sent": self.sent_ms},
            separators=(",", ":"),
        )


def parse_parked(attributes: Mapping[str, Mapping[str, Any]]) -> Parked | None:
    """The park record of a message, or None (not parked, or a record this code did not write)."""
    text = attributes.get(PARKED_ATTRIBUTE, {}).get("StringValue")
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    group, lane, origin, sent = data.get("group"), data.get("lane"), data.get("origin"), data.get("sent")
    if not (isinstance(group, str) and isinstance(lane, int) and lane > 0 and isinstance(origin, str)):
        return None
    return Parked(group=group, lane=lane, origin=origin, sent_ms=sent if isinstance(sent, int) else None)


def lane_of(group_id: str | None, parked: Parked | None) -> Lane:
    if parked is not None:
        return Lane(parked.group, parked.lane)
    return Lane(group_id or "", 0)


def move_dedup_id(origin: str) -> str:
    """The queue send's deduplication id: the same for every copy of one dead-lettered message, so a
    move repeated after a crash (within SQS's five-minute window) does not duplicate. Never the event's
    own id, which SQS could still be deduplicating against."""
    return str(uuid.uuid5(_DEDUP_NAMESPACE, origin))


def park_dedup_id(message_id: str) -> str:
    """The park send's deduplication id: one per DLQ message, so a park repeated after a crash is
    absorbed too."""
    return str(uuid.uuid5(_DEDUP_NAMESPACE, f"park:{message_id}"))
