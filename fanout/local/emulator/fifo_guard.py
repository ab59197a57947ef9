"""Keep each message group in order on an endpoint that does not (moto 5.2).

SQS FIFO never hands out a message while an earlier message of its group waits to be retried. moto
does when both become visible again at the same moment (e.g. a failed message and the siblings held
with the same delay): it delivers the later one first. The guard remembers, per group, the messages
handed out and not yet deleted, in the order they were first received (a group's first deliveries come
in queue order); a receive that returns a later message of such a group without the earlier one puts
it back at once (visibility 0) instead of invoking, so the group's head comes first, as in SQS.
(moto's SequenceNumber is random, so it cannot order anything.)
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

# A message the guard saw fail and never saw again was moved away (redrive to the DLQ); forget it after
# the longest wait the runtime sets (its backoff cap) so its group cannot stay blocked.
FORGET_AFTER_S = 900.0 + 60.0


def _group(message: dict[str, Any]) -> str | None:
    group = message.get("Attributes", {}).get("MessageGroupId")
    return group if isinstance(group, str) else None


class FifoOrderGuard:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._order: dict[str, int] = {}  # message id -> position of first sight
        self._waiting: dict[str, dict[str, float]] = {}  # group -> failed message id -> last seen
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self._clock = clock
        self.released = 0

    def admit(self, messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(messages to invoke, messages to put back because an earlier one of their group waits)."""
        batch_ids = {m["MessageId"] for m in messages}
        admitted: list[dict[str, Any]] = []
        released: list[dict[str, Any]] = []
        blocked: set[str] = set()
        now = self._clock()
        with self._lock:
            for message in messages:
                message_id = message["MessageId"]
                position = self._order.setdefault(message_id, next(self._counter))
                group = _group(message)
                if group is None:
                    admitted.append(message)
                    continue
                waiting = self._waiting.get(group, {})
                for other, seen in list(waiting.items()):
                    if now - seen > FORGET_AFTER_S:
                        del waiting[other]
                        self._order.pop(other, None)
                earlier = any(
                    other not in batch_ids and self._order.get(other, position) < position
                    for other in waiting
                )
                if group in blocked or earlier:
                    blocked.add(group)
                    released.append(message)
                else:
                    admitted.append(message)
            self.released += len(released)
        return admitted, released

    def settle(self, messages: Iterable[dict[str, Any]], failed_ids: set[str]) -> None:
        """After an invocation: failed messages wait for a retry, the others are gone."""
        now = self._clock()
        with self._lock:
            for message in messages:
                message_id = message["MessageId"]
                group = _group(message)
                if message_id in failed_ids and group is not None:
                    self._waiting.setdefault(group, {})[message_id] = now
                    continue
                self._order.pop(message_id, None)
                if group is not None:
                    self._waiting.get(group, {}).pop(message_id, None)
