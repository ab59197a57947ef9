"""The contract between the shared consumer runtime and one channel's code.

The runtime owns everything that is the same for every channel: parsing the queue message, budgets,
the once-only ledger claim, rate-limit memory, visibility backoff, the DLQ, logs and metrics. A channel
owns reading the task, its gates, talking to its provider and classifying the answers.

Per message the runtime calls, in order:
1. `prepare(event)`: read the task, apply gates and per-task overrides. Returns `Prepared` to go on, or an
   Outcome to stop with (Skipped for gates; Retry for a throttled read; Terminal for a config error).
2. (runtime) defer without calling the provider if `prepared.rate_limit_key` is rate-limited in this
   container; claim the event in the ledger (a duplicate of a completed event is skipped; a live claim of
   another attempt defers).
3. `reconcile(prepared)` only when an earlier attempt may have applied the call (its claim expired, or it
   ended with `Retry(uncertain=True)`): look for the evidence (Slack message metadata, GitHub marker
   comment) and record it. Returns Delivered when found (the runtime completes the ledger entry and does
   not call deliver), None when not found (go on to deliver), or another Outcome on failure.
4. `deliver(prepared)`: make the calls; return Delivered / Skipped / Retry / Terminal. Never sleep to wait
   for a retry; never raise for a provider's answer (an unexpected exception is treated as an uncertain
   retry by the runtime).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from consumers.runtime.outcomes import Delivered, Outcome
from consumers.runtime.task_writes import TaskWrite
from fanout.events import TaskEvent

Clock = Callable[[], float]  # epoch seconds; time.time in Lambda, a fake in tests


@dataclass(frozen=True)
class Prepared:
    """What a channel's prepare found: the event, its task and what the call needs."""

    event: TaskEvent
    task: Mapping[str, Any]  # the task item as plain values (fanout.dynamo.from_item)
    rate_limit_key: str | None = None  # e.g. "slack:T123" or "github:<token fingerprint>"
    extras: Mapping[str, Any] = field(default_factory=dict)  # channel-private data from prepare
    # A write that must hold before the provider call (a once-only slot). A first attempt's claim
    # applies it in its transaction and hands deliver a Prepared without it; a Prepared that still
    # carries it tells deliver to apply it first (task_writes.apply_alone).
    claim_with: TaskWrite | None = None


class Channel(Protocol):
    name: str

    def prepare(self, event: TaskEvent) -> Prepared | Outcome: ...

    def reconcile(self, prepared: Prepared) -> Delivered | Outcome | None: ...

    def deliver(self, prepared: Prepared) -> Outcome: ...
