"""Pacing sends under the account's maximum send rate (SES GetAccount: SendQuota.MaxSendRate).

The rate is the whole account's (per region); each of `containers` consumers takes an equal share, so
together they stay under it. This is pacing, not retry backoff: the wait before one send is at most one
interval (a second in the sandbox's 1 email/s), and only when a container sends several in a row. The
rate is read once and then every REFRESH_S; when it cannot be read, the sandbox rate is assumed, which
is slow but never over the limit of any account.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from consumers.runtime.channel import Clock

SANDBOX_RATE = 1.0  # emails per second, the lowest rate an SES account has
REFRESH_S = 600.0
MAX_WAIT_S = 5.0  # a rate below a fifth of an email per second per container is not waited for in full


class SendPacer:
    def __init__(
        self,
        ses: Any,
        *,
        clock: Clock,
        sleep: Callable[[float], None],
        containers: int = 1,
        on_error: Callable[[str], None] = lambda error: None,
    ) -> None:
        self._ses = ses
        self._clock = clock
        self._sleep = sleep
        self._containers = max(1, containers)
        self._on_error = on_error
        self._rate: float | None = None
        self._read_at = -math.inf
        self._last: float | None = None

    @property
    def interval(self) -> float:
        rate = self._rate if self._rate else SANDBOX_RATE
        return self._containers / rate

    def wait(self) -> float:
        """Block until this container may send again, then take the slot. Returns the seconds waited."""
        now = self._clock()
        if now - self._read_at >= REFRESH_S:
            self._refresh(now)
        interval = self.interval
        waited = 0.0
        if self._last is not None:
            waited = min(MAX_WAIT_S, max(0.0, self._last + interval - now))
        if waited > 0:
            self._sleep(waited)
        self._last = max(self._clock(), now + waited)
        return waited

    def _refresh(self, now: float) -> None:
        self._read_at = now
        try:
            quota = self._ses.get_account().get("SendQuota") or {}
            rate = float(quota.get("MaxSendRate") or 0.0)
        except (ClientError, BotoCoreError) as exc:
            with contextlib.suppress(Exception):
                self._on_error(f"{type(exc).__name__}: {exc}"[:300])
            return
        if math.isfinite(rate) and rate > 0:
            self._rate = rate
