"""Per-event delivery counts of the consumer containers: who caused which outcome and which API call.

A container's DeliveryStats count everything it did. A run attached to a running `fanout local up`
shares its containers with whatever else writes there, so its report must count only the work its own
events caused. `instrument` watches one container from outside (the consumer packages know nothing of
it): every outcome the container's telemetry records and every provider call its transport sends is
attributed to the message being handled, keyed by the message's event id (what the router uses as the
FIFO deduplication id) or, for a message that is not a task event, its deduplication id.

Attribution follows the thread: a container handles one record at a time on its poller's thread.
Outcomes recorded outside a record (the siblings of a failed group that are held back together after
the batch) are matched to their records through the receipt handles of the visibility change that
holds them.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from consumers.runtime.stats import COUNTERS
from consumers.runtime.telemetry import latency_ms
from fanout.local.emulator.containers import CallCounter

UNATTRIBUTED = "-"  # an outcome or call no record explains (kept, so nothing is silently dropped)
KEEP_EVENTS = 200_000  # a long-running `local up` forgets its oldest events past this many
# Telemetry method -> the DeliveryStats counter it increments.
OUTCOMES = {
    "delivered": "delivered",
    "skipped": "skipped",
    "retry": "retries",
    "rate_limited": "rate_limited",
    "deferred": "deferred",
    "terminal": "terminal",
    "dead_lettered": "dead_lettered",
}
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def record_key(record: Mapping[str, Any]) -> str:
    """The key a queue record is counted under: its event id, else its deduplication id."""
    try:
        body = json.loads(str(record.get("body", "")))
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("event_id"), str) and body["event_id"]:
        return str(body["event_id"])
    attributes = record.get("attributes") or {}
    return str(attributes.get("MessageDeduplicationId") or record.get("messageId") or UNATTRIBUTED)


class EventTally:
    """Counts per (channel, key): the DeliveryStats counters, latencies, records handled, API calls."""

    def __init__(self, keep: int = KEEP_EVENTS) -> None:
        self._keep = keep
        self._counts: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._local = threading.local()

    # -- counting ------------------------------------------------------------------------------
    def add(self, channel: str, key: str, counter: str, latency: float | None = None) -> None:
        with self._lock:
            counts = self._entry(channel, key)
            counts[counter] += 1
            if latency is not None:
                counts["latencies_ms"].append(latency)

    def _entry(self, channel: str, key: str) -> dict[str, Any]:
        entry = self._counts.get((channel, key))
        if entry is None:
            entry = {name: 0 for name in (*COUNTERS, "api_calls", "records")}
            entry["latencies_ms"] = []
            self._counts[(channel, key)] = entry
            while len(self._counts) > self._keep:
                self._counts.popitem(last=False)
        return entry

    @property
    def current(self) -> str | None:
        """The key of the record this thread's container is handling, if any."""
        return getattr(self._local, "key", None)

    def _set_current(self, key: str | None) -> None:
        self._local.key = key

    # -- reading -------------------------------------------------------------------------------
    def entries(self, channels: Iterable[str], keys: Iterable[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """Per channel, a copy of each key's counts (keys nothing happened for are left out)."""
        wanted = set(keys)
        with self._lock:
            return {
                channel: {
                    key: {**entry, "latencies_ms": list(entry["latencies_ms"])}
                    for key in wanted
                    if (entry := self._counts.get((channel, key))) is not None
                }
                for channel in channels
            }


def summed(
    entries: Mapping[str, Mapping[str, Mapping[str, Any]]],
    baseline: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per channel, the sums over keys of what happened after `baseline` (an earlier `entries`): a key
    an earlier run used too (a raw message's deduplication id) counts only what happened since."""
    result: dict[str, dict[str, Any]] = {}
    for channel, by_key in entries.items():
        total: dict[str, Any] = {name: 0 for name in (*COUNTERS, "api_calls", "records")}
        total["latencies_ms"] = []
        for key, entry in by_key.items():
            before = (baseline or {}).get(channel, {}).get(key, {})
            for name, value in entry.items():
                if name == "latencies_ms":
                    total[name].extend(value[len(before.get(name, [])) :])
                else:
                    total[name] += int(value) - int(before.get(name, 0))
        result[channel] = total
    return result


class AttributingCounter(CallCounter):
    """A channel's provider-call counter that also counts each call for the record being handled."""

    def __init__(self, tally: EventTally, channel: str) -> None:
        super().__init__()
        self._tally = tally
        self._channel = channel

    def add(self) -> None:
        super().add()
        self._tally.add(self._channel, self._tally.current or UNATTRIBUTED, "api_calls")


class _Batch(threading.local):
    receipts: dict[str, str] | None = None  # receipt handle -> key, while an invocation runs
    pending: list[str] | None = None  # counters recorded outside a record, not yet attributed


def instrument(container: Any, channel: str, tally: EventTally) -> Handler:
    """Watch one ConsumerHandler; returns the callable its poller invokes instead of the container."""
    batch = _Batch()
    telemetry = container.telemetry
    for method, counter in OUTCOMES.items():
        setattr(telemetry, method, _counting(getattr(telemetry, method), counter, channel, tally, batch))
    consumer = container._consumer
    handle = consumer.handle

    def handled(record: Mapping[str, Any], memory: Any) -> None:
        key = record_key(record)
        tally.add(channel, key, "records")
        tally._set_current(key)
        try:
            handle(record, memory)
        finally:
            tally._set_current(None)

    consumer.handle = handled
    delay_many = consumer.queue.delay_many

    def delayed(handles: Sequence[tuple[str, int]]) -> list[str]:
        # The held siblings' deferrals were recorded just before, one per handle, in this order.
        pending, receipts = batch.pending or [], batch.receipts or {}
        for (receipt, _), counter in zip(handles, list(pending), strict=False):
            tally.add(channel, receipts.get(receipt, UNATTRIBUTED), counter)
            pending.pop(0)
        result: list[str] = delay_many(handles)
        return result

    consumer.queue.delay_many = delayed

    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event.get("Records") or []
        batch.receipts = {str(r.get("receiptHandle")): record_key(r) for r in records}
        batch.pending = []
        try:
            response: dict[str, Any] = container(event, context)
            return response
        finally:
            for counter in batch.pending:
                tally.add(channel, UNATTRIBUTED, counter)
            batch.receipts = batch.pending = None

    return invoke


def _counting(
    original: Callable[..., Any], counter: str, channel: str, tally: EventTally, batch: _Batch
) -> Callable[..., Any]:
    def record(event: Any, *args: Any, **kwargs: Any) -> Any:
        latency = latency_ms(event, kwargs["now"]) if counter == "delivered" and "now" in kwargs else None
        key = getattr(event, "event_id", None) or tally.current
        if key is not None:
            tally.add(channel, str(key), counter, latency)
        elif batch.pending is not None:
            batch.pending.append(counter)
        else:
            tally.add(channel, UNATTRIBUTED, counter, latency)
        return original(event, *args, **kwargs)

    return record
