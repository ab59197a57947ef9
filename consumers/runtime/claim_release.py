"""Releasing a claim the attempt could not complete: a failed attempt waits (backoff, the provider's
Retry-After, the age budget) and releases its claim for the next one; a delivery the ledger did not record
is released uncertain, so the next attempt reconciles instead of sending again. Split from consumer.py."""

from __future__ import annotations

from consumers.runtime import budget, dlq_attributes
from consumers.runtime import telemetry as keys
from consumers.runtime.applying import ERROR_CHARS
from consumers.runtime.dispositions import Disposition, Later, ToDeadLetter
from consumers.runtime.ledger import Claimed, Ledger, LedgerUnavailable
from consumers.runtime.outcomes import Retry
from consumers.runtime.queue_message import QueueMessage
from consumers.runtime.redact import safe_error
from consumers.runtime.settings import ConsumerSettings
from consumers.runtime.telemetry import Telemetry
from consumers.runtime.waits import MessageWaits
from fanout.events import TaskEvent


class ClaimRelease:
    def __init__(
        self, *, ledger: Ledger, waits: MessageWaits, settings: ConsumerSettings, telemetry: Telemetry
    ) -> None:
        self._ledger = ledger
        self._waits = waits
        self._settings = settings
        self._telemetry = telemetry

    def after_retry(
        self,
        message: QueueMessage,
        event: TaskEvent,
        claim: Claimed,
        outcome: Retry,
        unresolved: bool,
        now: float,
    ) -> Disposition:
        """The attempt ended in a Retry: dead-letter it when its wait or its attempts outlast the budget,
        otherwise release the claim and wait."""
        attempts = claim.attempts + (1 if outcome.costs_attempt else 0)
        uncertain = outcome.uncertain or unresolved
        left = self._waits.budget_left(message, now)
        if outcome.after_seconds is not None and outcome.after_seconds > left:
            # The provider's own wait (Retry-After, a rate-limit reset) outlasts the message's age budget:
            # waiting would only end in the DLQ later, holding the task's group meanwhile.
            error = (
                f"{outcome.reason}: the provider asks to wait {outcome.after_seconds:.0f}s, beyond the "
                f"{left:.0f}s left of the age budget"
            )
            return ToDeadLetter(
                dlq_attributes.REASON_BUDGET,
                error,
                attempts,
                uncertain,
                claim,
                limited_key=outcome.rate_limit_key,
                limit_s=self._waits.window(outcome.after_seconds, message, now),
            )
        delay = self._waits.retry_delay(outcome, message, attempts, now)
        if outcome.costs_attempt and budget.attempts_exhausted(attempts, self._settings.max_attempts):
            return ToDeadLetter(
                dlq_attributes.REASON_BUDGET,
                outcome.reason,
                attempts,
                uncertain,
                claim,
                limited_key=outcome.rate_limit_key,
                limit_s=delay,
            )
        try:
            self._ledger.release(
                event.event_id,
                claim.claim_id,
                attempt_failed=outcome.costs_attempt,
                uncertain=uncertain,
                last_error=safe_error(outcome.reason, ERROR_CHARS),
                now=now,
            )
        except LedgerUnavailable as exc:
            # The claim stays until it expires; coming back earlier would only find it held. The stretch is
            # this message's alone: the rate-limit horizon stays the provider's own wait (`limit_s`).
            self._telemetry.problem("ledger_release_failed", event, str(exc))
            stretched = max(delay, self._waits.clamp(self._settings.claim_ttl_s, message, now))
            kind = keys.RETRY if outcome.costs_attempt else keys.DEFERRED
            limit = self._waits.window(outcome.after_seconds or delay, message, now)
            return Later(stretched, outcome.reason, kind, attempts, outcome.rate_limit_key, limit_s=limit)
        kind = keys.RETRY if outcome.costs_attempt else keys.DEFERRED
        window = (
            None if outcome.after_seconds is None else self._waits.window(outcome.after_seconds, message, now)
        )
        return Later(delay, outcome.reason, kind, attempts, outcome.rate_limit_key, limit_s=window)

    def after_lost_completion(
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
            return self._waits.wait(message, "ledger_complete_failed", attempt=max(1, claim.attempts))
        delay = self._waits.clamp(self._settings.claim_ttl_s, message, now)
        return Later(delay, "ledger_complete_failed", keys.DEFERRED)
