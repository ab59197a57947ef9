"""What the runtime does with one message, for the channel tests of every provider alike."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from consumers.runtime.aws_errors import aws_code
from consumers.runtime.channel import Prepared
from consumers.runtime.outcomes import Delivered, Outcome, Retry
from consumers.runtime.task_writes import apply_alone
from fanout.events import TaskEvent


def run_message(channel: Any, event: TaskEvent, *, reconcile: bool = False, dynamodb: Any = None) -> Outcome:
    """Prepare, reconcile when asked, then deliver; a Delivered's record is then written as the runtime
    would with the ledger completion (here alone: no ledger), and what it comes to is returned."""
    prepared = channel.prepare(event)
    if not isinstance(prepared, Prepared):
        return prepared
    outcome: Outcome | None = None
    if reconcile:
        outcome = channel.reconcile(prepared)
    if outcome is None:
        outcome = channel.deliver(prepared)
    return record(dynamodb, outcome)


def record(dynamodb: Any, outcome: Outcome) -> Outcome:
    """Apply a Delivered's record: Delivered without it when written, the channel's `lost()` when its
    condition failed, an uncertain wait when the write failed (the runtime releases the claim uncertain
    and the next attempt reconciles)."""
    if not isinstance(outcome, Delivered) or outcome.record is None:
        return outcome
    assert dynamodb is not None, "a channel test that delivers a record passes its DynamoDB client"
    try:
        written = apply_alone(dynamodb, outcome.record)
    except (ClientError, BotoCoreError) as exc:
        return Retry(None, f"record_write_failed:{aws_code(exc)}", uncertain=True, costs_attempt=False)
    return replace(outcome, record=None) if written else outcome.record.lost()
