"""A channel wrapper that records when each (channel, event) was delivered, the same way in both designs.

Both designs build their channels through these factories, so delivery times and service times come
from one place: the moment the channel's deliver (or reconcile) returned Delivered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consumers.runtime.channel import Channel, Prepared
from consumers.runtime.outcomes import Delivered, Outcome
from fanout.events import TaskEvent

Factory = Callable[..., Any]


@dataclass(frozen=True)
class Delivery:
    channel: str
    event_id: str
    event_type: str
    written_at: float  # the event's timestamp (stamped when the writer put it)
    delivered_at: float
    service_s: float  # how long the deliver (or reconcile) call took


def written_at(event: TaskEvent) -> float:
    return datetime.fromisoformat(event.timestamp.replace("Z", "+00:00")).timestamp()


class DeliveryLog:
    def __init__(self) -> None:
        self._items: list[Delivery] = []
        self._lock = threading.Lock()

    def add(self, item: Delivery) -> None:
        with self._lock:
            self._items.append(item)

    def items(self) -> list[Delivery]:
        with self._lock:
            return list(self._items)

    def first(self) -> dict[tuple[str, str], Delivery]:
        """The first delivery of each (channel, event id)."""
        found: dict[tuple[str, str], Delivery] = {}
        for item in sorted(self.items(), key=lambda d: d.delivered_at):
            found.setdefault((item.channel, item.event_id), item)
        return found


class RecordingChannel:
    def __init__(self, inner: Channel, log: DeliveryLog) -> None:
        self._inner = inner
        self._log = log
        self.name = inner.name

    def prepare(self, event: TaskEvent) -> Prepared | Outcome:
        return self._inner.prepare(event)

    def reconcile(self, prepared: Prepared) -> Delivered | Outcome | None:
        started = time.time()
        outcome = self._inner.reconcile(prepared)
        self._note(prepared, started, outcome)
        return outcome

    def deliver(self, prepared: Prepared) -> Outcome:
        started = time.time()
        outcome = self._inner.deliver(prepared)
        self._note(prepared, started, outcome)
        return outcome

    def _note(self, prepared: Prepared, started: float, outcome: Outcome | None) -> None:
        if isinstance(outcome, Delivered):
            now = time.time()
            event = prepared.event
            self._log.add(
                Delivery(self.name, event.event_id, event.event_type, written_at(event), now, now - started)
            )


def recording(factory: Factory, log: DeliveryLog) -> Factory:
    """`factory` (settings, clients, clock) -> Channel, wrapped so its deliveries land in `log`."""

    def build(*args: Any, **kwargs: Any) -> RecordingChannel:
        return RecordingChannel(factory(*args, **kwargs), log)

    return build
