"""The events file (JSONL): parsed and validated whole before anything is written.

{"task": {...}}                               put (replace) an item in the task table, plain JSON
{"event": {...}}                              put an item in the task events table
{"sleep": 1.5}                                pause the writer
{"secret": {"name": "...", "value": "..."}}   create or replace a secret
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fanout import registry
from fanout.dynamo import to_item
from fanout.events import REQUIRED_FIELDS

MAX_SLEEP_S = 3600.0
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit
MAX_DEPTH = 32  # DynamoDB's nesting limit for maps and lists
NUMBER_BYTES = 21  # the most a number can take
# The router's required fields (fanout.events), so a typo is an error here, not a silently skipped record.
EVENT_FIELDS = REQUIRED_FIELDS


class EventsFileError(ValueError):
    """Bad input: `line` is 1-based, `reason` says what is wrong."""

    def __init__(self, line: int, reason: str, source: str = "events file") -> None:
        super().__init__(f"{source}: line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class PutTask:
    item: Mapping[str, Any]


@dataclass(frozen=True)
class PutEvent:
    item: Mapping[str, Any]
    # Scenario events are stamped when written, so latency is measured from the real write time.
    stamp_now: bool = False


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class PutSecret:
    name: str
    value: str = field(repr=False)


@dataclass(frozen=True)
class QueueMessage:
    """Scenario-only (not in the file format): a raw message put straight on a channel queue."""

    channel: str
    body: str
    group_id: str
    dedup_id: str


Step = PutTask | PutEvent | Sleep | PutSecret | QueueMessage


def load_events_file(path: str | Path) -> list[Step]:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EventsFileError(0, f"cannot read: {exc}", source) from exc
    # JSONL lines end at "\n" only: str.splitlines would also split inside a string holding U+2028,
    # U+0085 or a form feed, all legal in JSON text.
    return parse_lines((line.removesuffix("\r") for line in text.split("\n")), source=source)


def parse_lines(lines: Iterable[str], *, source: str = "events file") -> list[Step]:
    steps: list[Step] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            steps.append(_parse_line(raw))
        except _Invalid as exc:
            raise EventsFileError(number, str(exc), source) from None
    return steps


class _Invalid(ValueError):
    pass


def _parse_line(raw: str) -> Step:
    try:
        data = json.loads(raw, parse_float=Decimal)
    except ValueError as exc:
        raise _Invalid(f"not valid JSON ({exc.args[0] if exc.args else exc})") from None
    if not isinstance(data, dict) or len(data) != 1:
        raise _Invalid('expected an object with exactly one key: "task", "event", "sleep" or "secret"')
    ((kind, value),) = data.items()
    if kind == "task":
        item = _item(value, "task", (registry.TASK_TABLE_KEY,))
        return PutTask(item)
    if kind == "event":
        event = _item(value, "event", EVENT_FIELDS)
        try:
            datetime.fromisoformat(event["timestamp"])
        except ValueError:
            raise _Invalid("event timestamp must be ISO-8601 (e.g. 2026-11-26T10:00:00Z)") from None
        return PutEvent(event)
    if kind == "sleep":
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise _Invalid("sleep must be a number of seconds")
        seconds = float(value)
        if not 0 <= seconds <= MAX_SLEEP_S:
            raise _Invalid(f"sleep must be between 0 and {MAX_SLEEP_S:g} seconds")
        return Sleep(seconds)
    if kind == "secret":
        if not isinstance(value, dict) or set(value) != {"name", "value"}:
            raise _Invalid('secret must be {"name": "...", "value": "..."}')
        name, secret = value["name"], value["value"]
        if not isinstance(name, str) or not name.strip():
            raise _Invalid("secret name must be a non-empty string")
        if not isinstance(secret, str) or not secret:
            raise _Invalid("secret value must be a non-empty string")
        return PutSecret(name, secret)
    raise _Invalid(f'unknown key {kind!r}; expected "task", "event", "sleep" or "secret"')


def _item(value: Any, kind: str, required: tuple[str, ...]) -> dict[str, Any]:
    """`required`: the table's keys (a task) or the fields the router needs (an event)."""
    if not isinstance(value, dict):
        raise _Invalid(f"{kind} must be a JSON object")
    for name in required:
        if not isinstance(value.get(name), str) or not value[name]:
            raise _Invalid(f"{kind} needs a non-empty string {name!r}")
    try:
        item = to_item(value)
    except ValueError as exc:
        raise _Invalid(f"{kind}: {exc}") from None
    if _depth(value) > MAX_DEPTH:
        raise _Invalid(f"{kind} nests deeper than DynamoDB's {MAX_DEPTH} levels")
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise _Invalid(f"{kind} is about {size:,} bytes; DynamoDB takes at most {MAX_ITEM_BYTES:,}")
    return value


def item_size(item: Mapping[str, Any]) -> int:
    """The item's size as DynamoDB counts it (attribute names and values, UTF-8), numbers rounded up."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    ((tag, inner),) = value.items()
    if tag == "S":
        return len(inner.encode())
    if tag == "B":
        return len(inner)
    if tag == "N":
        return NUMBER_BYTES
    if tag in ("BOOL", "NULL"):
        return 1
    if tag == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if tag == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in inner.items())
    if tag == "SS":
        return sum(len(v.encode()) for v in inner)
    if tag == "BS":
        return sum(len(v) for v in inner)
    return NUMBER_BYTES * len(inner)  # NS


def _depth(value: Any) -> int:
    if isinstance(value, Mapping):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def slack_teams(steps: Iterable[Step]) -> list[str]:
    """Every slack_team_id the input's tasks mention, in order of first appearance."""
    teams: list[str] = []
    for step in steps:
        if isinstance(step, PutTask):
            meta = step.item.get("channel_metadata")
            team = meta.get("slack_team_id") if isinstance(meta, Mapping) else None
            if isinstance(team, str) and team and team not in teams:
                teams.append(team)
    return teams


def event_count(steps: Iterable[Step]) -> int:
    return sum(isinstance(step, PutEvent) for step in steps)
