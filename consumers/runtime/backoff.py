"""How long a message waits before its next try: pure arithmetic, the random source injected.

The wait is carried by the message's visibility timeout (the consumer never sleeps). SQS refuses a
visibility timeout that would keep a message invisible beyond 12 hours, which we count from the message's
first receipt (ApproximateFirstReceiveTimestamp) to stay on the safe side of every reading of that rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from fanout.registry import FAST_RECEIVES, SQS_MAX_VISIBILITY_S

RandomSource = Callable[[], float]  # uniform in [0, 1), like random.random

MIN_DELAY_S = 1
# Clock skew between Lambda and SQS, and the time this invocation still runs after deciding.
VISIBILITY_MARGIN_S = 60
_MAX_EXPONENT = 62  # 2**62 seconds is beyond any cap; keeps the float arithmetic finite


def backoff_delay(attempt: int, *, base_s: float, cap_s: float, random: RandomSource) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**(attempt-1))], at least 1 s.

    `attempt` is the 1-based number of the try that just failed (values below 1 count as 1).
    """
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    ceiling = min(cap_s, base_s * 2.0**exponent)
    return max(float(MIN_DELAY_S), random() * ceiling)


def visibility_allowance(*, now: float, first_received_at: float) -> int:
    """Whole seconds of visibility SQS still allows this message (never negative)."""
    used = max(0.0, now - first_received_at)
    return max(0, math.floor(SQS_MAX_VISIBILITY_S - VISIBILITY_MARGIN_S - used))


def clamp_delay(delay_s: float, *, now: float, first_received_at: float) -> int:
    """A delay as SQS accepts it: whole seconds, at least 1 s, within the 12-hour allowance.

    Past the allowance (only reachable with a max age above 12 hours) the floor of 1 s wins: the message
    comes back at once and the age budget dead-letters it.
    """
    allowance = visibility_allowance(now=now, first_received_at=first_received_at)
    wanted = math.ceil(delay_s) if math.isfinite(delay_s) else SQS_MAX_VISIBILITY_S
    return max(MIN_DELAY_S, min(wanted, allowance))


def retry_delay(
    after_seconds: float | None,
    *,
    attempt: int,
    base_s: float,
    cap_s: float,
    now: float,
    first_received_at: float,
    random: RandomSource,
) -> int:
    """The provider's Retry-After when it gave one, else backoff on the attempt count; then clamped."""
    if after_seconds is not None and after_seconds >= 0:
        wanted = float(after_seconds)
    else:
        wanted = backoff_delay(attempt, base_s=base_s, cap_s=cap_s, random=random)
    return clamp_delay(wanted, now=now, first_received_at=first_received_at)


def wait_floor(delay_s: int, *, receive_count: int, min_wait_s: int) -> int:
    """`delay_s`, raised to `min_wait_s` once a message was received more than FAST_RECEIVES times."""
    return max(delay_s, min_wait_s) if receive_count > FAST_RECEIVES else delay_s
