"""In-process delivery counters of one consumer container (the local runtime reports them)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

COUNTERS = ("delivered", "skipped", "terminal", "retries", "rate_limited", "deferred", "dead_lettered")


@dataclass
class DeliveryStats:
    """Counts per outcome. `retries`: failed real attempts sent back for a retry; `rate_limited`: messages
    deferred by rate-limit memory without a call; `deferred`: other waits that cost no attempt (a claim
    held by another attempt, the ledger unavailable, a failed read in prepare); `terminal` messages are
    also counted in `dead_lettered`. `latencies_ms`: event timestamp to delivery, per delivered event."""

    delivered: int = 0
    skipped: int = 0
    terminal: int = 0
    retries: int = 0
    rate_limited: int = 0
    deferred: int = 0
    dead_lettered: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, counter: str, latency_ms: float | None = None) -> None:
        if counter not in COUNTERS:
            raise ValueError(f"unknown counter {counter!r}")
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)
            if latency_ms is not None:
                self.latencies_ms.append(latency_ms)

    def snapshot(self) -> dict[str, Any]:
        """Counters plus latency_ms {p50, p99} (None when nothing was delivered)."""
        with self._lock:
            values = sorted(self.latencies_ms)
            counts: dict[str, Any] = {name: getattr(self, name) for name in COUNTERS}
        counts["latency_ms"] = {"p50": percentile(values, 50), "p99": percentile(values, 99)}
        return counts

    @classmethod
    def combined(cls, parts: Iterable[DeliveryStats]) -> DeliveryStats:
        """One channel's totals over several containers."""
        total = cls()
        for part in parts:
            with part._lock:
                for name in COUNTERS:
                    setattr(total, name, getattr(total, name) + getattr(part, name))
                total.latencies_ms.extend(part.latencies_ms)
        return total


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]
