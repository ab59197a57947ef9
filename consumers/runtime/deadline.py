"""One record's deadline for its channel's calls, from the invocation's remaining time.

The per-record margin lets a record start with room for one provider call, but a delivery can make
several (reconcile paging, terminal cleanup), httpx's read timeout is per chunk and boto3 retries. So while
channel code runs, every call it makes (an httpx request, each AWS SDK send, retries included) first asks
the deadline: with less than MIN_CALL_S left before the settle time, the call is not made and
DeadlineReached ends the delivery, which the runtime turns into a wait that costs no attempt; otherwise
the call's own timeouts are cut to the time left. Nothing can then run into the function timeout.

The same hook remembers the credential each provider request carries (redact.py), so the actual token
values a consumer holds are redacted wherever they are echoed, whatever their format.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from consumers.runtime.redact import remember_secret
from fanout.registry import SETTLE_S

MIN_CALL_S = 1.0  # less than this left: no call is started (not even a connect would fit)
RemainingMs = Callable[[], int]


class DeadlineReached(Exception):
    """The record ran out of time before a provider call; nothing was sent by that call."""


class CallDeadline:
    def __init__(self) -> None:
        self._remaining: RemainingMs | None = None
        self._active = False

    def use(self, remaining_ms: RemainingMs | None) -> None:
        """How to ask Lambda for the time left in the current invocation (None: no limit)."""
        self._remaining = remaining_ms

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Channel code runs inside: its calls are checked. The runtime's own ledger and queue writes
        (which settle the message) run outside, on the settle time the deadline keeps free."""
        previous, self._active = self._active, True
        try:
            yield
        finally:
            self._active = previous

    def time_left(self) -> float | None:
        """Seconds channel calls may still take (None: no limit, or no channel code running)."""
        if not self._active or self._remaining is None:
            return None
        return self._remaining() / 1000.0 - SETTLE_S

    def check(self) -> float | None:
        left = self.time_left()
        if left is not None and left < MIN_CALL_S:
            raise DeadlineReached(f"{max(left, 0.0):.1f}s left before the settle time")
        return left

    # -- the hooks ----------------------------------------------------------------------------------------

    def install(self, http: Any, *aws_clients: Any) -> None:
        """Check every request of the injected httpx client and every send of the AWS clients."""
        if isinstance(http, httpx.Client):
            http.event_hooks = {**http.event_hooks, "request": [*http.event_hooks["request"], self._request]}
        for client in aws_clients:
            events = getattr(getattr(client, "meta", None), "events", None)
            if events is not None:
                events.register("before-send", self._before_send, unique_id=f"fanout-deadline-{id(self)}")

    def _request(self, request: httpx.Request) -> None:
        credential = request.headers.get("authorization", "")
        scheme, _, value = credential.partition(" ")
        remember_secret(value if value else scheme)
        left = self.check()
        if left is not None:
            timeout = dict(request.extensions.get("timeout") or {})
            request.extensions["timeout"] = {
                phase: left if timeout.get(phase) is None else min(float(timeout[phase]), left)
                for phase in ("connect", "read", "write", "pool")
            }

    def _before_send(self, **_: Any) -> None:
        self.check()
