"""A channel wrapper that records when each (channel, event) was delivered, the same way in both designs.

Both designs build their channels through these factories, so delivery times and service times come
from one place: the moment the channel's deliver (or reconcile) returned Delivered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
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


@dataclass(frozen=True)
class AwsCall:
    channel: str
    operation: str  # "sqs.ChangeMessageVisibility", "dynamodb.UpdateItem", ...
    started_at: float
    duration_s: float


class AwsCallLog:
    """Every AWS call a channel's containers make (ledger, visibility, secrets), timed at the client: the
    isolation benchmark's evidence of what a fault costs the shared endpoint, and how long it answers."""

    def __init__(self) -> None:
        self._items: list[AwsCall] = []
        self._lock = threading.Lock()

    def watch(self, channel: str, client: Any) -> None:
        service = client.meta.service_model.service_name

        def before(context: dict[str, Any], **_: Any) -> None:
            context["bench_started"] = time.time()

        def after(model: Any, context: dict[str, Any], **_: Any) -> None:
            started = context.get("bench_started")
            if started is not None:
                call = AwsCall(channel, f"{service}.{model.name}", started, time.time() - started)
                with self._lock:
                    self._items.append(call)

        client.meta.events.register("before-call", before)
        client.meta.events.register("after-call", after)

    def items(self) -> list[AwsCall]:
        with self._lock:
            return list(self._items)

    def extend(self, calls: Iterable[AwsCall]) -> None:
        with self._lock:
            self._items.extend(calls)


class LagProbe:
    """A thread that asks to sleep PERIOD_S again and again and records how late it wakes: in one Python
    process, lateness is time spent waiting for the GIL (or a CPU) while other threads run."""

    PERIOD_S = 0.005
    CPU_EVERY = 40  # wake-ups between CPU readings (about 0.2 s)

    def __init__(self, cpu_of: Callable[[], float | None] = lambda: None) -> None:
        self.samples: list[tuple[float, float]] = []  # (wall time, lateness s)
        # (wall time, this process's CPU s, the other process's CPU s: cpu_of(), e.g. moto's server)
        self.cpu: list[tuple[float, float, float | None]] = []
        self._cpu_of = cpu_of
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-probe", daemon=True)

    def __enter__(self) -> LagProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        wakeups = 0
        while not self._stop.is_set():
            if wakeups % self.CPU_EVERY == 0:
                self.cpu.append((time.time(), time.process_time(), self._cpu_of()))
            wakeups += 1
            before = time.monotonic()
            time.sleep(self.PERIOD_S)
            self.samples.append((time.time(), time.monotonic() - before - self.PERIOD_S))


def recording_aws(factory: Factory, log: DeliveryLog, calls: AwsCallLog) -> Factory:
    """`recording`, and every AWS client the channel's container was given is timed into `calls`."""

    def build(settings: Any, clients: Any, *args: Any, **kwargs: Any) -> RecordingChannel:
        channel = RecordingChannel(factory(settings, clients, *args, **kwargs), log)
        for client in (clients.sqs, clients.dynamodb, clients.secrets):
            calls.watch(channel.name, client)
        return channel

    return build
