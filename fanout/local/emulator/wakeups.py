"""When a queue's messages become visible again, as its consumers set them.

Lambda's pollers long-poll a queue, so a message is received about as soon as its visibility timeout
ends. moto's long poll spins while invisible messages wait, so the emulated event source short-polls
with an idle backoff instead, which would add up to one backoff step to every visibility wait: a
message sent back for 1 s would come back up to 1.4 s later. The consumers' own SQS clients tell this
board each visibility timeout they set (a botocore hook, nothing in the consumer code), and an idle
poller wakes at the next one.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from typing import Any

# botocore events carrying the parameters of the consumers' visibility changes
EVENTS = (
    "provide-client-params.sqs.ChangeMessageVisibility",
    "provide-client-params.sqs.ChangeMessageVisibilityBatch",
)
# The timeout is counted from when the queue receives the request, a moment after the client sends it.
LATENCY_S = 0.02


class VisibilityWakeups:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._times: list[float] = []
        self._lock = threading.Lock()
        self._clock = clock

    def watch(self, sqs_client: Any) -> None:
        """Hear of every visibility timeout `sqs_client` sets."""
        for event in EVENTS:
            sqs_client.meta.events.register(event, self._heard)

    def note(self, seconds: float) -> None:
        now = self._clock()
        with self._lock:
            del self._times[: bisect.bisect_right(self._times, now)]  # kept short on a busy queue too
            bisect.insort(self._times, now + seconds + LATENCY_S)

    def next_after(self, now: float) -> float | None:
        """The earliest moment after `now` at which a message becomes visible again, if one is known."""
        with self._lock:
            del self._times[: bisect.bisect_right(self._times, now)]
            return self._times[0] if self._times else None

    def sooner_than(self, wait_s: float) -> float | None:
        """Seconds until the next message becomes visible again, when that is less than `wait_s`."""
        now = self._clock()
        due = self.next_after(now)
        return due - now if due is not None and due - now < wait_s else None

    def _heard(self, params: Any, **_: Any) -> None:
        """Returns None, so botocore sends the parameters unchanged. A malformed request is left to
        botocore's own validation: a hint for the poller is never worth an error in the consumer."""
        entries = params.get("Entries") if isinstance(params, dict) else None
        for entry in entries if isinstance(entries, list) else [params]:
            seconds = entry.get("VisibilityTimeout") if isinstance(entry, dict) else None
            if isinstance(seconds, int) and seconds > 0:
                self.note(seconds)
