"""Fault schedules for the stand-in providers: which calls fail, how, and when.

Times are seconds after the schedule is armed (the runner arms it when it starts writing events), so a
scenario reads like a timeline: "Slack rate-limits workspace T1 from 0.5 s for 4 s, Retry-After 2".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    SLACK_RATELIMIT = "slack_ratelimit"  # HTTP 429 + Retry-After
    SLACK_5XX = "slack_5xx"  # HTTP 503 (a proxy or an outage)
    SLACK_ERROR = "slack_error"  # ok=false with `error` (e.g. channel_not_found) for a channel id
    GITHUB_SECONDARY = "github_secondary"  # 403 "secondary rate limit", with retry-after when > 0
    GITHUB_PRIMARY = "github_primary"  # 403 x-ratelimit-remaining: 0 + x-ratelimit-reset
    GITHUB_5XX = "github_5xx"  # HTTP 502
    SES_THROTTLE = "ses_throttle"  # 429 TooManyRequestsException (nothing sent)
    SES_QUOTA = "ses_quota"  # LimitExceededException: the 24-hour quota (nothing sent)
    SES_PAUSED = "ses_paused"  # SendingPausedException (nothing sent)
    SES_5XX_AFTER_SEND = "ses_5xx_after_send"  # the email goes out, then HTTP 500: an uncertain outcome
    SES_DROP_AFTER_SEND = "ses_drop_after_send"  # the email goes out, then the connection drops


SLACK_KINDS = frozenset({FaultKind.SLACK_RATELIMIT, FaultKind.SLACK_5XX, FaultKind.SLACK_ERROR})
GITHUB_KINDS = frozenset({FaultKind.GITHUB_SECONDARY, FaultKind.GITHUB_PRIMARY, FaultKind.GITHUB_5XX})
SES_KINDS = frozenset(
    {
        FaultKind.SES_THROTTLE,
        FaultKind.SES_QUOTA,
        FaultKind.SES_PAUSED,
        FaultKind.SES_5XX_AFTER_SEND,
        FaultKind.SES_DROP_AFTER_SEND,
    }
)


@dataclass(frozen=True)
class Fault:
    """One fault. `scope` narrows it: a Slack team id, a Slack channel id (SLACK_ERROR) or a GitHub token.

    `max_calls` ends the fault after it answered that many calls (deterministic sequences such as
    "one secondary limit, then one primary limit"), whatever the time.
    `methods` narrows it to some API methods (Slack method names like "chat.postMessage", GitHub
    "METHOD /path-template" like "POST /repos/{repo}/issues/{n}/comments"); empty means every call.
    """

    kind: FaultKind
    start_s: float = 0.0
    duration_s: float = float("inf")
    scope: str | None = None
    retry_after_s: float = 2.0
    error: str = "channel_not_found"
    methods: frozenset[str] = frozenset()
    max_calls: int | None = None

    def active(self, elapsed: float) -> bool:
        return self.start_s <= elapsed < self.start_s + self.duration_s

    def applies(self, elapsed: float, *, scopes: Iterable[str | None], method: str) -> bool:
        if not self.active(elapsed):
            return False
        if self.methods and method not in self.methods:
            return False
        return self.scope is None or self.scope in set(scopes)


class FaultSchedule:
    """The faults of one run; thread-safe to read (immutable list, one armed start time)."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self.faults: tuple[Fault, ...] = tuple(faults)
        self._armed_at: float | None = None
        self._hits = [0] * len(self.faults)
        self._lock = threading.Lock()

    def arm(self, at: float | None = None) -> None:
        """Start the timeline (idempotent: the first call wins)."""
        if self._armed_at is None:
            self._armed_at = time.time() if at is None else at

    @property
    def armed_at(self) -> float | None:
        return self._armed_at

    def elapsed(self, now: float) -> float:
        return now - self._armed_at if self._armed_at is not None else -1.0

    def first(
        self, kinds: frozenset[FaultKind], now: float, *, scopes: Iterable[str | None], method: str
    ) -> Fault | None:
        """The first fault of these kinds that answers this call (counted against its max_calls)."""
        elapsed = self.elapsed(now)
        scope_list = list(scopes)
        with self._lock:
            for index, fault in enumerate(self.faults):
                if fault.kind not in kinds or not fault.applies(elapsed, scopes=scope_list, method=method):
                    continue
                if fault.max_calls is not None and self._hits[index] >= fault.max_calls:
                    continue
                self._hits[index] += 1
                return fault
        return None

    def hits(self, fault: Fault) -> int:
        """How many calls this fault answered so far."""
        with self._lock:
            return self._hits[self.faults.index(fault)]
