"""The task event: parsed from a DynamoDB stream record, carried as a versioned JSON message body."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from fanout import event_types
from fanout.dynamo import AttributeValueError, from_item

BODY_VERSION = 1
REQUIRED_FIELDS = ("task_id", "event_id", "event_type", "timestamp")


class SkipRecord(ValueError):
    """A stream record that carries no routable event; `reason` is a stable counter key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class MalformedMessage(ValueError):
    """A queue message body that is not a TaskEvent of a version this code understands."""


@dataclass(frozen=True)
class TaskEvent:
    """One lifecycle event. `event_type` is the effective type (agent_milestone(pr_created) -> pr_created)."""

    task_id: str
    event_id: str
    event_type: str
    timestamp: str
    metadata: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    source_type: str | None = None  # the stored type when it differs from event_type

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", _freeze(self.metadata))

    @property
    def is_terminal(self) -> bool:
        return event_types.is_terminal(self.event_type)

    def meta_str(self, key: str) -> str | None:
        """A metadata value as text, or None when absent, empty or blank (never the string "None")."""
        value = self.metadata.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value if isinstance(value, str) else json.dumps(_thaw(value), default=str)

    def to_body(self) -> str:
        body: dict[str, Any] = {
            "v": BODY_VERSION,
            "task_id": self.task_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "timestamp": self.timestamp,
        }
        if self.metadata:
            body["metadata"] = self.metadata  # frozen maps are thawed by _json_default as they are met
        if self.source_type is not None:
            body["source_type"] = self.source_type
        text = _BODY_ENCODER.encode(body)
        if text.isascii() or not _SQS_UNSAFE.search(text):
            return text
        return _SQS_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

    @classmethod
    def from_body(cls, body: str) -> TaskEvent:
        try:
            data = json.loads(body)
        except (TypeError, ValueError) as exc:
            raise MalformedMessage(f"body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise MalformedMessage("body is not a JSON object")
        if data.get("v") != BODY_VERSION:
            raise MalformedMessage(f"unsupported body version {data.get('v')!r}")
        values = _required_strings(data)
        missing = [name for name in REQUIRED_FIELDS if name not in values]
        if missing:
            raise MalformedMessage(f"missing or non-string fields: {', '.join(missing)}")
        metadata = data.get("metadata", {})
        source_type = data.get("source_type")
        if not isinstance(metadata, dict):
            raise MalformedMessage("metadata is not an object")
        if source_type is not None and not isinstance(source_type, str):
            raise MalformedMessage("source_type is not a string")
        return cls(metadata=metadata, source_type=source_type, **values)


def parse_stream_record(record: Mapping[str, Any]) -> TaskEvent:
    """A DynamoDB stream record (Lambda shape) to a TaskEvent, or SkipRecord with the reason."""
    event_name = record.get("eventName")
    if event_name == "REMOVE":
        raise SkipRecord("remove")
    dynamodb = record.get("dynamodb")
    # Concrete dict checks first (ABC checks are slow, and this runs for every stream record).
    image = dynamodb.get("NewImage") if isinstance(dynamodb, dict | Mapping) else None
    if not isinstance(image, dict | Mapping):
        raise SkipRecord("no_new_image")
    try:
        item = from_item(image)
    except AttributeValueError as exc:
        raise SkipRecord("malformed_attribute", str(exc)) from exc
    values = _required_strings(item)
    missing = [name for name in REQUIRED_FIELDS if name not in values]
    if missing:
        raise SkipRecord("missing_fields", ", ".join(missing))
    metadata = item.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise SkipRecord("malformed_metadata", f"metadata is {type(metadata).__name__}")
    stored_type = values["event_type"]
    effective_type = effective_event_type(stored_type, metadata)
    values["event_type"] = effective_type
    return TaskEvent(
        metadata=metadata,
        source_type=stored_type if stored_type != effective_type else None,
        **values,
    )


def _required_strings(data: Mapping[str, Any]) -> dict[str, str]:
    return {name: v for name in REQUIRED_FIELDS if isinstance(v := data.get(name), str) and v}


def effective_event_type(stored_type: str, metadata: Mapping[str, Any]) -> str:
    if stored_type == event_types.AGENT_MILESTONE:
        milestone = metadata.get("milestone")
        if isinstance(milestone, str) and milestone in event_types.ROUTABLE_MILESTONES:
            return milestone
    return stored_type


def _freeze(value: Any) -> Any:
    if isinstance(value, dict | Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, MappingProxyType | dict):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_thaw(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, MappingProxyType):
        return dict(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# One encoder for every body: json.dumps with options builds a new encoder on each call.
# Characters SQS refuses in a message body although DynamoDB stores them (the noncharacters U+FFFE and
# U+FFFF; lone surrogates cannot come from DynamoDB but are covered too). JSON's escapes carry them: the
# parsed body is the same. The encoder already escapes control characters.
_SQS_UNSAFE = re.compile("[\ud800-\udfff\ufffe\uffff]")
_BODY_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default)
