"""The per-message flow of the shared consumer runtime (the order of calls is in channel.py).

`decide` walks the flow and returns a Disposition; `apply` performs it (DLQ, visibility, telemetry).
An attempt is a real provider call that failed; every other wait costs none. Every wait is a visibility
timeout: nothing here sleeps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from consumers.runtime import budget, dlq_attributes
from consumers.runtime import telemetry as keys
from consumers.runtime.backoff import RandomSource, clamp_delay, retry_delay
from consumers.runtime.channel import Channel, Clock, Prepared
from consumers.runtime.clients import Clients
from consumers.runtime.dead_letter import DeadLetter, DeadLetterFailed, DeadLetterQueue
from consumers.runtime.dispositions import Disposition, Done, Later, MessageFailed, ToDeadLetter
from consumers.runtime.ledger import (
    CLAIMED,
    DONE,
    AlreadyDone,
    Claimed,
    HeldByOther,
    Ledger,
    LedgerUnavailable,
)
from consumers.runtime.outcomes import Delivered, Outcome, Retry, Skipped, Terminal
from consumers.runtime.queue_message import QueueMessage
from consumers.runtime.rate_limits import RateLimitMemory
from consumers.runtime.redact import safe_error
from consumers.runtime.settings import ConsumerSettings
from consumers.runtime.source_queue import QueueCallFailed, SourceQueue
from consumers.runtime.telemetry import Telemetry
from fanout.events import MalformedMessage, TaskEvent

T = TypeVar("T")
_ERROR_CHARS = 300


@dataclass
class BatchMemory:
    """What one invocation remembers across its records: the delay each failed group got, and which
    messages the record handler saw (the FIFO processor fails the rest of a failed group unseen)."""

    group_delays: dict[str, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)


class Consumer:
    def __init__(
        self,
        channel: Channel,
        settings: ConsumerSettings,
        clients: Clients,
        clock: Clock,
        telemetry: Telemetry,
        random: RandomSource,
    ) -> None:
        self._channel = channel
        self._settings = settings
        self._clock = clock
        self._telemetry = telemetry
        self._random = random
        self._ledger = Ledger(
            clients.dynamodb,
            table=settings.ledger_table,
            channel=settings.channel,
            claim_ttl_s=settings.claim_ttl_s,
        )
        self._dlq = DeadLetterQueue(clients.sqs, settings.dlq_url)
        self.queue = SourceQueue(clients.sqs, settings.queue_url)
        self.rate_limits = RateLimitMemory()

    # -- the record handler -----------------------------------------------------------------------

    def handle(self, record: Mapping[str, Any], batch: BatchMemory) -> None:
        """Process one SQS record; raises MessageFailed when the message must stay on the queue."""
        message = QueueMessage.from_record(record)
        batch.seen.add(message.message_id)
        try:
            event = TaskEvent.from_body(message.body)
        except MalformedMessage as exc:
            letter = ToDeadLetter(dlq_attributes.REASON_MALFORMED, str(exc), attempts=0, uncertain=False)
            self._apply(message, None, letter, batch)
            return
        try:
            disposition = self.decide(message, event)
        except Exception as exc:  # a runtime bug must not leave the group in flight for the queue timeout
            key = self._telemetry.key("runtime_error")
            self._telemetry.logger.exception(key, extra={"event": key, "message_id": message.message_id})
            disposition = self._wait(
                message, f"runtime_error:{_describe(exc)}", attempt=message.receive_count
            )
        self._apply(message, event, disposition, batch)

    # -- deciding -----------------------------------------------------------------------------------

    def decide(self, message: QueueMessage, event: TaskEvent) -> Disposition:
        now = self._clock()
        if budget.age_exceeded(
            now=now, first_received_at=message.first_received_or(now), max_age_s=self._settings.max_age_s
        ):
            return self._too_old(message, event, now)
        prepared = self._guarded(
            lambda: self._channel.prepare(event),
            lambda exc: Retry(None, f"prepare_error:{_describe(exc)}", costs_attempt=False),
        )
        if not isinstance(prepared, Prepared):
            return self._settle_unclaimed(message, prepared)
        horizon = self.rate_limits.horizon(prepared.rate_limit_key, now)
        if horizon is not None:
            delay = self._clamp(horizon - now, message, now)
            return Later(delay, "rate_limited", keys.RATE_LIMITED, limited_key=prepared.rate_limit_key)
        try:
            claim = self._ledger.claim(event.event_id, now)
        except LedgerUnavailable as exc:
            return self._wait(message, f"ledger_unavailable:{exc}", attempt=message.receive_count)
        if isinstance(claim, AlreadyDone):
            return Done(keys.SKIPPED, "duplicate")
        if isinstance(claim, HeldByOther):
            return Later(self._clamp(claim.expires_at - now, message, now), "claim_held", keys.DEFERRED)
        if budget.attempts_exhausted(claim.attempts, self._settings.max_attempts):
            error = claim.last_error or "an earlier attempt ended without an answer"
            return ToDeadLetter(
                dlq_attributes.REASON_BUDGET, error, claim.attempts, claim.previous_uncertain, claim
            )
        return self._attempt(message, prepared, claim)

    def _attempt(self, message: QueueMessage, prepared: Prepared, claim: Claimed) -> Disposition:
        unresolved = claim.previous_uncertain
        outcome: Outcome | None = None
        if unresolved:
            found = self._guarded(
                lambda: self._channel.reconcile(prepared),
                lambda exc: Retry(None, f"reconcile_error:{_describe(exc)}", uncertain=True),
            )
            if found is None:
                unresolved = False  # looked, and the earlier attempt did not apply the call
            else:
                outcome = found
        if outcome is None:
            outcome = self._guarded(
                lambda: self._channel.deliver(prepared),
                lambda exc: Retry(None, f"exception:{_describe(exc)}", uncertain=True),
            )
        return self._settle_claimed(message, prepared.event, claim, outcome, unresolved)

    def _settle_claimed(
        self, message: QueueMessage, event: TaskEvent, claim: Claimed, outcome: Outcome, unresolved: bool
    ) -> Disposition:
        now = self._clock()
        if isinstance(outcome, Delivered | Skipped):
            try:
                self._ledger.complete(event.event_id, now)
            except LedgerUnavailable as exc:
                if isinstance(outcome, Skipped):  # nothing was sent; a duplicate just repeats the skip
                    return Done(keys.SKIPPED, outcome.reason)
                return self._completion_lost(message, event, claim, str(exc), now)
            if isinstance(outcome, Skipped):
                return Done(keys.SKIPPED, outcome.reason)
            return Done(keys.DELIVERED, outcome.detail)
        if isinstance(outcome, Terminal):
            reason = f"{dlq_attributes.TERMINAL_PREFIX}{outcome.reason}"
            error = outcome.detail or outcome.reason
            return ToDeadLetter(reason, error, claim.attempts + 1, unresolved, claim)
        attempts = claim.attempts + (1 if outcome.costs_attempt else 0)
        uncertain = outcome.uncertain or unresolved
        delay = self._retry_delay(outcome, message, attempts, now)
        if outcome.costs_attempt and budget.attempts_exhausted(attempts, self._settings.max_attempts):
            return ToDeadLetter(dlq_attributes.REASON_BUDGET, outcome.reason, attempts, uncertain, claim)
        try:
            self._ledger.release(
                event.event_id,
                claim.claim_id,
                attempt_failed=outcome.costs_attempt,
                uncertain=uncertain,
                last_error=safe_error(outcome.reason, _ERROR_CHARS),
                now=now,
            )
        except LedgerUnavailable as exc:
            # The claim stays until it expires; coming back earlier would only find it held.
            self._telemetry.problem("ledger_release_failed", event, str(exc))
            delay = max(delay, self._clamp(self._settings.claim_ttl_s, message, now))
        kind = keys.RETRY if outcome.costs_attempt else keys.DEFERRED
        return Later(delay, outcome.reason, kind, attempts, outcome.rate_limit_key)

    def _completion_lost(
        self, message: QueueMessage, event: TaskEvent, claim: Claimed, error: str, now: float
    ) -> Disposition:
        """The provider applied the call but the ledger did not record it. Keep the message: its next
        attempt reconciles (finds the evidence, completes, sends nothing). Marking the claim released and
        uncertain lets that happen at the next backoff; if even that fails, the claim stays and expires,
        and an expired claim is reconciled too."""
        self._telemetry.problem("ledger_complete_failed", event, error)
        try:
            released = self._ledger.release(
                event.event_id,
                claim.claim_id,
                attempt_failed=False,
                uncertain=True,
                last_error="delivered; ledger completion failed",
                now=now,
            )
        except LedgerUnavailable:
            released = False
        if released:
            return self._wait(message, "ledger_complete_failed", attempt=max(1, claim.attempts))
        delay = self._clamp(self._settings.claim_ttl_s, message, now)
        return Later(delay, "ledger_complete_failed", keys.DEFERRED)

    def _settle_unclaimed(self, message: QueueMessage, outcome: Outcome) -> Disposition:
        """An outcome from prepare: no claim was taken and no provider call made."""
        if isinstance(outcome, Delivered):
            return Done(keys.DELIVERED, outcome.detail)
        if isinstance(outcome, Skipped):
            return Done(keys.SKIPPED, outcome.reason)
        if isinstance(outcome, Terminal):
            reason = f"{dlq_attributes.TERMINAL_PREFIX}{outcome.reason}"
            return ToDeadLetter(reason, outcome.detail or outcome.reason, 0, uncertain=False)
        now = self._clock()
        delay = self._retry_delay(outcome, message, message.receive_count, now)
        return Later(delay, outcome.reason, keys.DEFERRED, limited_key=outcome.rate_limit_key)

    def _too_old(self, message: QueueMessage, event: TaskEvent, now: float) -> Disposition:
        try:
            entry = self._ledger.peek(event.event_id)
        except LedgerUnavailable as exc:
            return self._wait(message, f"ledger_unavailable:{exc}", attempt=message.receive_count)
        if entry is not None and entry.state == DONE:
            return Done(keys.SKIPPED, "duplicate")
        if entry is not None and entry.live_claim(now):
            expires = entry.claim_expires_at or now
            return Later(self._clamp(expires - now, message, now), "claim_held", keys.DEFERRED)
        error = (entry.last_error if entry else "") or f"older than {self._settings.max_age_s}s"
        attempts = entry.attempts if entry else 0
        uncertain = bool(entry and (entry.uncertain or entry.state == CLAIMED))
        return ToDeadLetter(dlq_attributes.REASON_BUDGET, error, attempts, uncertain)

    # -- applying -----------------------------------------------------------------------------------

    def _apply(
        self, message: QueueMessage, event: TaskEvent | None, disposition: Disposition, batch: BatchMemory
    ) -> None:
        if isinstance(disposition, Later):
            self._send_back(message, event, disposition, batch)
        elif isinstance(disposition, ToDeadLetter):
            self._dead_letter(message, event, disposition, batch)
        elif event is not None and disposition.outcome == keys.DELIVERED:
            self._telemetry.delivered(event, now=self._clock(), detail=disposition.reason)
        elif event is not None:
            self._telemetry.skipped(event, disposition.reason)

    def _send_back(
        self, message: QueueMessage, event: TaskEvent | None, later: Later, batch: BatchMemory
    ) -> NoReturn:
        if later.limited_key is not None and later.kind != keys.RATE_LIMITED:
            self.rate_limits.note(later.limited_key, self._clock() + later.delay_s)
        try:
            self.queue.delay(message.receipt_handle, later.delay_s)
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
            channel=self._settings.channel,
            task_id=event.task_id if event else loose.get("task_id"),
            event_type=event.event_type if event else loose.get("event_type"),
        )
        try:
            self._dlq.send(message, dead)
        except DeadLetterFailed as exc:
            self._telemetry.problem("dlq_send_failed", event, str(exc), dlq_reason=letter.reason)
            if event is not None and letter.claim is not None:
                self._release_quietly(event, letter)
            retry = self._wait(message, "dlq_send_failed", attempt=message.receive_count)
            self._send_back(message, event, retry, batch)
        try:
            # Now rather than when the batch returns: a crash in between would bring the message back
            # and leave a stale copy on the DLQ.
            self.queue.delete(message.receipt_handle)
        except QueueCallFailed as exc:
            self._telemetry.problem("delete_failed", event, str(exc))
        if event is not None:
            try:
                self._ledger.release_for_redrive(event.event_id, uncertain=letter.uncertain, now=now)
            except LedgerUnavailable as exc:
                self._telemetry.problem("ledger_release_failed", event, str(exc))
        if letter.reason.startswith(dlq_attributes.TERMINAL_PREFIX):
            self._telemetry.terminal(event, letter.reason)
        self._telemetry.dead_lettered(
            event,
            letter.reason,
            attempts=letter.attempts,
            last_error=safe_error(letter.last_error, _ERROR_CHARS),
            message_id=message.message_id,
            **({"task_id": loose["task_id"]} if "task_id" in loose else {}),
        )

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
                last_error=safe_error(letter.last_error, _ERROR_CHARS),
                now=self._clock(),
            )
        except LedgerUnavailable as exc:
            self._telemetry.problem("ledger_release_failed", event, str(exc))

    # -- helpers ------------------------------------------------------------------------------------

    def _guarded(self, call: Callable[[], T], on_error: Callable[[Exception], Retry]) -> T | Retry:
        """Channel code must not raise for a provider's answer; if it does anyway, it becomes a Retry."""
        try:
            return call()
        except Exception as exc:
            key = self._telemetry.key("channel_raised")
            self._telemetry.logger.warning(key, exc_info=True, extra={"event": key})
            return on_error(exc)

    def _retry_delay(self, retry: Retry, message: QueueMessage, attempt: int, now: float) -> int:
        return retry_delay(
            retry.after_seconds,
            attempt=max(1, attempt),
            base_s=self._settings.backoff_base_s,
            cap_s=self._settings.backoff_cap_s,
            now=now,
            first_received_at=message.first_received_or(now),
            random=self._random,
        )

    def _wait(self, message: QueueMessage, reason: str, *, attempt: int) -> Later:
        """A backoff wait that costs no attempt."""
        now = self._clock()
        delay = self._retry_delay(Retry(None, reason), message, attempt, now)
        return Later(delay, reason, keys.DEFERRED)

    def _clamp(self, delay_s: float, message: QueueMessage, now: float) -> int:
        return clamp_delay(delay_s, now=now, first_received_at=message.first_received_or(now))


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {safe_error(str(exc), _ERROR_CHARS)}"
