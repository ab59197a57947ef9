"""Spacing of GitHub writes: at least one second between content-creating requests of one token.

GitHub asks integrations to wait at least a second between POST/PATCH/PUT/DELETE requests to avoid its
secondary rate limits. This is pacing, not retry backoff: the wait is at most `interval` and only ever
needed when one container sends several writes in a row.
"""

from __future__ import annotations

from collections.abc import Callable

from consumers.runtime.channel import Clock

WRITE_INTERVAL_S = 1.0


class Pacer:
    def __init__(
        self, clock: Clock, sleep: Callable[[float], None], interval: float = WRITE_INTERVAL_S
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._interval = interval
        self._last: dict[str, float] = {}

    def wait(self, key: str) -> float:
        """Block until `key` may write again, then take the slot. Returns the seconds waited."""
        now = self._clock()
        earliest = self._last.get(key, now - self._interval) + self._interval
        waited = min(self._interval, max(0.0, earliest - now))
        if waited > 0:
            self._sleep(waited)
        self._last[key] = max(self._clock(), now + waited)
        return waited
