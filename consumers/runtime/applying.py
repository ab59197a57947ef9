"""Performing a Disposition: the visibility delay, the DLQ, the ledger reset for a redrive, telemetry.

Split from consumer.py (which decides) so that each stays readable; nothing here decides the flow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NoReturn

from consumers.runtime import dlq_attributes
from consumers.runtime import telemetry as keys
from consumers.runtime.backoff import wait_floor
from consumers.runtime.channel import Clock
from consumers.runtime.dead_letter import DeadLetter, DeadLetterFailed, DeadLetterQueue
from consumers.runtime.dispositions import Disposition, Later, MessageFailed, ToDeadLetter
from consumers.runtime.ledger import Ledger, LedgerUnavailable
from consumers.runtime.queue_message import QueueMessage
from consumers.runtime.rate_limits import RateLimitMemory
from consumers.runtime.redact import safe_error
from consumers.runtime.source_queue import QueueCallFailed, SourceQueue
from consumers.runtime.telemetry import Telemetry
from fanout.events import TaskEvent

ERROR_CHARS = 300
# Resetting the ledger for a redrive is retried at once (no sleep: the wait would be billed Lambda time,
# and a throttled write usually passes on the next try); only then is the failure logged.
REDRIVE_RELEASE_TRIES = 3

Wait = Callable[[QueueMessage, str, int], Later]  # (message, reason, attempt) -> a wait costing no attempt


@dataclass
class BatchMemory:
    """What one invocation remembers across its records: the delay each failed group got, which messages
    the record handler saw (the FIFO processor fails the rest of a failed group unseen), and how to ask
    Lambda for the time left (None outside Lambda: no limit)."""

    group_delays: dict[str, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    remaining_ms: Callable[[], int] | None = None

    def time_left_below(self, margin_s: float) -> bool:
        return self.remaining_ms is not None and self.remaining_ms() < margin_s * 1000


class Applier:
    def __init__(
        self,
        *,
        channel: str,
        ledger: Ledger,
        dlq: DeadLetterQueue,
        queue: SourceQueue,
        rate_limits: RateLimitMemory,
        telemetry: Telemetry,
        clock: Clock,
        wait: Wait,
        min_wait_s: int = 1,
    ) -> None:
        self._channel = channel
        self._ledger = ledger
        self._dlq = dlq
        self._queue = queue
        self._rate_limits = rate_limits
        self._telemetry = telemetry
        self._clock = clock
        self._wait = wait
        self._min_wait_s = min_wait_s

    def apply(
        self, message: QueueMessage, event: TaskEvent | None, disposition: Disposition, batch: BatchMemory
    ) -> None:
        held = _held_back(disposition)
        if held is not None:
            key, seconds = held
            self._rate_limits.note(key, self._clock() + seconds)
        if isinstance(disposition, Later):
            self.send_back(message, event, disposition, batch)  # raises MessageFailed
        if isinstance(disposition, ToDeadLetter):
            self._dead_letter(message, event, disposition, batch)
            return
        if event is not None and disposition.outcome == keys.DELIVERED:
            self._telemetry.delivered(event, now=self._clock(), detail=disposition.reason)
        elif event is not None:
            self._telemetry.skipped(event, disposition.reason)

    def send_back(
        self, message: QueueMessage, event: TaskEvent | None, later: Later, batch: BatchMemory
    ) -> NoReturn:
        later = replace(later, delay_s=self.floored(later.delay_s, message.receive_count))
        try:
            self._queue.delay(message.receipt_handle, later.delay_s)
        except QueueCallFailed as exc:
            self._telemetry.problem("visibility_failed", event, str(exc), delay_s=later.delay_s)
        if message.group_id:
            batch.group_delays[message.group_id] = later.delay_s
        if event is None:
            self._telemetry.deferred(None, later.reason, later.delay_s)
        elif later.kind == keys.RETRY:
            limited = later.limited_key is not None
            self._telemetry.retry(
                event, later.reason, later.delay_s, attempts=later.attempts, limited=limited
            )
        elif later.kind == keys.RATE_LIMITED:
            self._telemetry.rate_limited(event, later.limited_key or "", later.delay_s)
        else:
            self._telemetry.deferred(event, later.reason, later.delay_s)
        raise MessageFailed(later.delay_s, later.reason)

    def floored(self, delay_s: int, receive_count: int) -> int:
        """Past FAST_RECEIVES receives, every wait lasts at least minWaitS: the receives a message spends
        in its age budget are then bounded, and SQS's own redrive (maxReceiveCount, checked at synth
        against the same bound) can only fire for a consumer that crashes before acting."""
        return wait_floor(delay_s, receive_count=receive_count, min_wait_s=self._min_wait_s)

    def send_back_anyway(
        self, message: QueueMessage, event: TaskEvent | None, later: Later, batch: BatchMemory
    ) -> NoReturn:
        """send_back for the runtime's own failures: if even that raises, still set the delay (best
        effort) and fail the message, so neither it nor its group stays in flight for the queue timeout."""
        try:
            self.send_back(message, event, later, batch)
        except MessageFailed:
            raise
        except Exception:
            with contextlib.suppress(Exception):
                self._queue.delay(message.receipt_handle, later.delay_s)
            if message.group_id:
                batch.group_delays[message.group_id] = later.delay_s
            raise MessageFailed(later.delay_s, later.reason) from None

    def _dead_letter(
        self, message: QueueMessage, event: TaskEvent | None, letter: ToDeadLetter, batch: BatchMemory
    ) -> None:
        now = self._clock()
        loose = message.loose_fields() if event is None else {}
        dead = DeadLetter(
            reason=letter.reason,
            last_error=letter.last_error,
            attempts=letter.attempts,
            first_received_at=message.first_received_or(now),
            channel=self._channel,
            task_id=event.task_id if event else loose.get("task_id"),
            event_type=event.event_type if event else loose.get("event_type"),
            redriven=message.redriven,
        )
        try:
            self._dlq.send(message, dead)
        except DeadLetterFailed as exc:
            # Retried with the message's backoff, floored past FAST_RECEIVES receives: bounded by
            # maxReceiveCount, after which SQS's own redrive moves the message (without our reason).
            self._telemetry.dead_letter_failed(event, str(exc), dlq_reason=letter.reason)
            if event is not None and letter.claim is not None:
                self._release_quietly(event, letter)
            self.send_back(
                message, event, self._wait(message, "dlq_send_failed", message.receive_count), batch
            )
        try:
            # Now rather than when the batch returns: a crash in between would bring the message back
            # and leave a stale copy on the DLQ.
            self._queue.delete(message.receipt_handle)
        except QueueCallFailed as exc:
            self._telemetry.problem("delete_failed", event, str(exc))
        if event is not None:
            self._release_for_redrive(event, letter, now)
        if letter.reason.startswith(dlq_attributes.TERMINAL_PREFIX):
            self._telemetry.terminal(event, letter.reason)
        self._telemetry.dead_lettered(
            event,
            letter.reason,
            attempts=letter.attempts,
            last_error=safe_error(letter.last_error, ERROR_CHARS),
            message_id=message.message_id,
            **({"task_id": loose["task_id"]} if "task_id" in loose else {}),
        )

    def _release_for_redrive(self, event: TaskEvent, letter: ToDeadLetter, now: float) -> None:
        """Reset the ledger so a redrive delivers. Without a claim (prepare or the age budget ended the
        message) this attempt does not know what the item holds, so an earlier uncertainty is kept."""
        error = ""
        for _ in range(REDRIVE_RELEASE_TRIES):
            try:
                self._ledger.release_for_redrive(
                    event.event_id, uncertain=letter.uncertain, now=now, claimed=letter.claim is not None
                )
                return
            except LedgerUnavailable as exc:
                error = str(exc)
        self._telemetry.problem("ledger_release_failed", event, error, tries=REDRIVE_RELEASE_TRIES)

    def _release_quietly(self, event: TaskEvent, letter: ToDeadLetter) -> None:
        """The DLQ refused the message: free the claim so its retry is not held back by it, keeping the
        attempt this one cost (an exhausted budget then dead-letters at the next claim, with no call)."""
        assert letter.claim is not None
        try:
            self._ledger.release(
                event.event_id,
                letter.claim.claim_id,
                attempt_failed=letter.attempts > letter.claim.attempts,
                uncertain=letter.uncertain,
                last_error=safe_error(letter.last_error, ERROR_CHARS),
                now=self._clock(),
            )
        except LedgerUnavailable as exc:
            self._telemetry.problem("ledger_release_failed", event, str(exc))


def _held_back(disposition: Disposition) -> tuple[str, int] | None:
    """The key a disposition found rate-limited and for how long the provider asked to wait, whatever
    becomes of the message itself. A Later of kind `rate_limited` was held back by the memory: nothing new."""
    if disposition.limited_key is None:
        return None
    if isinstance(disposition, Later):
        if disposition.kind == keys.RATE_LIMITED:
            return None
        return disposition.limited_key, (
            disposition.delay_s if disposition.limit_s is None else disposition.limit_s
        )
    return disposition.limited_key, disposition.limit_s
