"""What the runtime does with one message, for the channel tests of every provider alike."""

from __future__ import annotations

from typing import Any

from consumers.runtime.channel import Prepared
from consumers.runtime.outcomes import Outcome
from fanout.events import TaskEvent


def run_message(channel: Any, event: TaskEvent, *, reconcile: bool = False) -> Outcome:
    """Prepare, reconcile when asked, then deliver."""
    prepared = channel.prepare(event)
    if not isinstance(prepared, Prepared):
        return prepared
    if reconcile:
        found = channel.reconcile(prepared)
        if found is not None:
            return found
    return channel.deliver(prepared)
