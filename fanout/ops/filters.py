"""Which dead-lettered messages a client redrive moves: `--reason`, `--task-id`, `--event-type`,
`--older-than`. Every given filter must match; no filter matches everything."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from fanout.ops.errors import UsageError
from fanout.ops.messages import DeadLetter

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DIGITS = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit also takes "²"
_PART = re.compile(r"([0-9]+)\s*([smhdw])")


def parse_duration(text: str) -> timedelta:
    """'30m', '2h', '1d', '1h30m', '45s', or a bare number of seconds."""
    cleaned = text.strip().lower()
    bad = UsageError(f"bad duration {text!r}: use a number with s, m, h, d or w, e.g. 30m, 2h, 1d")
    if _DIGITS.fullmatch(cleaned):
        parts = [(cleaned, "s")]
    else:
        parts = _PART.findall(cleaned)
        if not cleaned or not parts or _PART.sub("", cleaned).strip():
            raise bad
    try:
        return timedelta(seconds=sum(int(n) * _UNITS[unit] for n, unit in parts))
    except OverflowError:
        raise bad from None


@dataclass(frozen=True)
class RedriveFilter:
    reason: str | None = None  # case-insensitive substring of the consumer's reason ("terminal:", "budget")
    task_id: str | None = None  # exact
    event_type: str | None = None  # exact
    older_than: timedelta | None = None  # dead-lettered at least this long ago

    def matches(self, letter: DeadLetter, now: datetime) -> bool:
        if self.reason is not None and self.reason.lower() not in (letter.reason or "").lower():
            return False
        if self.task_id is not None and letter.task_id != self.task_id:
            return False
        if self.event_type is not None and letter.event_type != self.event_type:
            return False
        if self.older_than is not None:
            age = letter.age(now)
            if age is None or age < self.older_than:
                return False
        return True

    def describe(self) -> str:
        parts = [
            f"reason~{self.reason!r}" if self.reason is not None else "",
            f"task_id={self.task_id}" if self.task_id is not None else "",
            f"event_type={self.event_type}" if self.event_type is not None else "",
            f"older_than={self.older_than}" if self.older_than is not None else "",
        ]
        return ", ".join(p for p in parts if p) or "all messages"

    @property
    def is_empty(self) -> bool:
        return self == RedriveFilter()
