"""One SQS record of a Lambda event, reduced to what the consumer needs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consumers.runtime.dlq_attributes import REDRIVEN


@dataclass(frozen=True)
class QueueMessage:
    """One SQS record, with the attributes the consumer decides on."""

    message_id: str
    receipt_handle: str
    body: str
    group_id: str | None
    receive_count: int
    first_received_at: float | None  # epoch seconds; None when SQS did not say
    redriven: int = 0  # the `redriven_from_dlq` message attribute, 0 when absent

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> QueueMessage:
        attributes = record.get("attributes") or {}
        return cls(
            message_id=str(record.get("messageId", "")),
            receipt_handle=str(record.get("receiptHandle", "")),
            body=body if isinstance(body := record.get("body"), str) else "",
            group_id=attributes.get("MessageGroupId") or None,
            receive_count=_int(attributes.get("ApproximateReceiveCount"), default=1),
            first_received_at=_epoch_ms(attributes.get("ApproximateFirstReceiveTimestamp")),
            redriven=_redriven(record.get("messageAttributes")),
        )

    def first_received_or(self, now: float) -> float:
        return self.first_received_at if self.first_received_at is not None else now

    def loose_fields(self) -> dict[str, str]:
        """task_id / event_type / event_id read from a body that failed to parse, when they are there."""
        try:
            data = json.loads(self.body)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
            return {}
        if not isinstance(data, dict):
            return {}
        names = ("task_id", "event_type", "event_id")
        return {n: v for n in names if isinstance(v := data.get(n), str) and v}


def _int(value: Any, *, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _epoch_ms(value: Any) -> float | None:
    try:
        return int(value) / 1000.0
    except (TypeError, ValueError):
        return None


def _redriven(message_attributes: Any) -> int:
    """Lambda spells message attributes {"stringValue": ..., "dataType": ...}."""
    if not isinstance(message_attributes, Mapping):
        return 0
    value = message_attributes.get(REDRIVEN)
    raw = value.get("stringValue") if isinstance(value, Mapping) else None
    return max(0, _int(raw, default=0))
