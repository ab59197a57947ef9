"""Numbers as people read them in a notification, the same on every channel."""

from __future__ import annotations

import math


def duration(seconds: float) -> str:
    """`45s`, `4m 12s`, `1h 5m`: whole units, rounded down (a task that ran 59.9 s ran 59 s)."""
    total = max(0, math.floor(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
