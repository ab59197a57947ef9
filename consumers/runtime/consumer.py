"""The per-message flow of the shared consumer runtime (the order of calls is in channel.py).

`decide` walks the flow and returns a Disposition; applying.py performs it (DLQ, visibility, telemetry).
An attempt is a real provider call that failed; every other wait costs none. Every wait is a visibility
timeout: nothing here sleeps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from consumers.runtime import budget, dlq_attributes
from consumers.runtime import telemetry as keys
from consumers.runtime.applying import ERROR_CHARS, Applier, BatchMemory
from consumers.runtime.backoff import RandomSource
from consumers.runtime.channel import Channel, Clock, Prepared
from consumers.runtime.claim_release import ClaimRelease
from consumers.runtime.clients import Clients
from consumers.runtime.dead_letter import DeadLetterQueue
from consumers.runtime.deadline import CallDeadline, DeadlineReached
from consumers.runtime.dispositions import Disposition, Done, Later, MessageFailed, ToDeadLetter
from consumers.runtime.key_guards import RATE_LIMITED, Hold, KeyGuards
from consumers.runtime.ledger import (
    CLAIMED,
    DONE,
    AlreadyDone,
    Claimed,
    HeldByOther,
    Ledger,
    LedgerUnavailable,
    RecordLost,
)
from consumers.runtime.outages import ProviderOutages
from consumers.runtime.outcomes import Delivered, Outcome, Retry, Skipped, Terminal, UncertainOutcome
from consumers.runtime.queue_message import QueueMessage
from consumers.runtime.rate_limits import RateLimitMemory
from consumers.runtime.redact import safe_error
from consumers.runtime.settings import ConsumerSettings
from consumers.runtime.shared_horizons import UNTIL, SharedHorizons
from consumers.runtime.shared_outages import SharedOutages
from consumers.runtime.source_queue import SourceQueue
from consumers.runtime.telemetry import Telemetry
from consumers.runtime.transactions import Blocked, ClaimGuard
from consumers.runtime.waits import MessageWaits
from fanout.events import MalformedMessage, TaskEvent

__all__ = ["BatchMemory", "Consumer"]

T = TypeVar("T")
OUT_OF_TIME = "out_of_time"
OUT_OF_TIME_DELAY_S = 1
CHANNEL_WRITE = "channel_write"  # the claim's guard that is the channel's `claim_with`
SHARED_WINDOW = "shared_window"  # the claim's check that no sibling's Retry-After window is open


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
        self._waits = MessageWaits(settings, clock, random)
        self._ledger = Ledger(
            clients.dynamodb,
            table=settings.ledger_table,
            channel=settings.channel,
            claim_ttl_s=settings.claim_ttl_s,
            retention_s=settings.ledger_retention_s,
        )
        self.queue = SourceQueue(clients.sqs, settings.queue_url)
        self._horizons = SharedHorizons(
            clients.dynamodb,
            table=settings.ledger_table,
            channel=settings.channel,
            on_error=lambda what, error: self._coordination_failed(f"shared_horizon_{what}", error),
        )
        self.rate_limits = RateLimitMemory(self._horizons, hot_s=settings.hot_window_s)
        self.outages = ProviderOutages(cap_s=settings.backoff_cap_s, stale_s=settings.outage_stale_s)
        shared_outages = SharedOutages(
            clients.dynamodb,
            table=settings.ledger_table,
            channel=settings.channel,
            on_error=lambda what, error: self._coordination_failed(f"shared_outage_{what}", error),
            stale_s=settings.outage_stale_s,
        )
        self._guards = KeyGuards(
            rate_limits=self.rate_limits,
            outages=self.outages,
            shared_outages=shared_outages,
            clock=clock,
        )
        # Every call channel code makes (httpx, the AWS SDK) is checked against the record's deadline.
        self._deadline = CallDeadline()
        self._deadline.install(clients.http, clients.dynamodb, clients.secrets)
        self._release = ClaimRelease(
            ledger=self._ledger, waits=self._waits, settings=settings, telemetry=telemetry
        )
        self._applier = Applier(
            channel=settings.channel,
            ledger=self._ledger,
            dlq=DeadLetterQueue(clients.sqs, settings.dlq_url),
            queue=self.queue,
            rate_limits=self.rate_limits,
            telemetry=telemetry,
            clock=clock,
            wait=lambda message, reason, attempt: self._waits.wait(message, reason, attempt=attempt),
            min_wait_s=settings.min_wait_s,
        )

    def floored(self, delay_s: int, receive_count: int) -> int:
        return self._applier.floored(delay_s, receive_count)

    # -- the record handler -----------------------------------------------------------------------

    def handle(self, record: Mapping[str, Any], batch: BatchMemory) -> None:
        """Process one SQS record; raises MessageFailed when the message must stay on the queue. Nothing
        else escapes: whatever goes wrong, the message gets a delay, so its group is not left in flight
        for the queue's whole visibility timeout."""
        message = QueueMessage.from_record(record)
        batch.seen.add(message.message_id)
        self._deadline.use(batch.remaining_ms)
        event: TaskEvent | None = None
        try:
            try:
                event = TaskEvent.from_body(message.body)
            except Exception as exc:  # MalformedMessage, or what a hostile body does to json (RecursionError)
                error = str(exc) if isinstance(exc, MalformedMessage) else _describe(exc)
                letter = ToDeadLetter(dlq_attributes.REASON_MALFORMED, error, attempts=0, uncertain=False)
                self._applier.apply(message, None, letter, batch)
                return
            self._applier.apply(message, event, self._decide_safely(message, event, batch), batch)
        except MessageFailed:
            raise
        except Exception as exc:  # a runtime bug must not leave the group in flight for the queue timeout
            self._applier.send_back_anyway(message, event, self._runtime_error(message, event, exc), batch)

    def _decide_safely(self, message: QueueMessage, event: TaskEvent, batch: BatchMemory) -> Disposition:
        try:
            return self.decide(message, event, batch)
        except Exception as exc:
            return self._runtime_error(message, event, exc)

    def _runtime_error(self, message: QueueMessage, event: TaskEvent | None, exc: Exception) -> Later:
        key = self._telemetry.key("runtime_error")
        extra = {"event": key, "message_id": message.message_id}
        if event is not None:
            extra.update(task_id=event.task_id, event_id=event.event_id)
        with contextlib.suppress(Exception):
            self._telemetry.logger.exception(key, extra=extra)
        return self._waits.wait(message, f"runtime_error:{_describe(exc)}", attempt=message.receive_count)

    # -- deciding -----------------------------------------------------------------------------------

    def decide(
        self, message: QueueMessage, event: TaskEvent, batch: BatchMemory | None = None
    ) -> Disposition:
        now = self._clock()
        if budget.age_exceeded(
            now=now, first_received_at=message.first_received_or(now), max_age_s=self._settings.max_age_s
        ):
            return self._too_old(message, event, now)
        # After the age check: an old message always reaches the DLQ, however short the invocation.
        if batch is not None and batch.time_left_below(self._settings.record_margin_s):
            return Later(OUT_OF_TIME_DELAY_S, OUT_OF_TIME, keys.DEFERRED)
        prepared = self._guarded(
            lambda: self._channel.prepare(event),
            lambda exc: Retry(None, f"prepare_error:{_describe(exc)}", costs_attempt=False),
        )
        if not isinstance(prepared, Prepared):
            return self._settle_unclaimed(message, prepared)
        key, redelivered = prepared.rate_limit_key, message.receive_count > 1
        hold = self._guards.hold(key, now, redelivered=redelivered, read_shared=False)
        if hold is not None:
            return self._held(message, event, hold, now)
        also = []
        if key is not None and self.rate_limits.wants_shared(key, now, redelivered=redelivered):
            # A hot key: the claim applies only if no sibling's window is open (one request, not two).
            also.append(ClaimGuard(SHARED_WINDOW, self._horizons.check_item(key, now)))
        if prepared.claim_with is not None:  # a first attempt takes the channel's slot with its claim
            also.append(ClaimGuard(CHANNEL_WRITE, {"Update": prepared.claim_with.request()}, fresh_only=True))
        try:
            claim = self._ledger.claim(event.event_id, now, also=also)
        except LedgerUnavailable as exc:
            return self._waits.wait(message, f"ledger_unavailable:{exc}", attempt=message.receive_count)
        if isinstance(claim, AlreadyDone):
            return Done(keys.SKIPPED, "duplicate")
        if isinstance(claim, Blocked):
            return self._blocked(message, prepared, claim, now)
        if isinstance(claim, HeldByOther):
            return Later(self._waits.clamp(claim.expires_at - now, message, now), "claim_held", keys.DEFERRED)
        if budget.attempts_exhausted(claim.attempts, self._settings.max_attempts):
            if claim.previous_uncertain:
                # The last attempt may have applied its call: find out before saying why the message
                # stops here (an email that may have gone out is `uncertain_outcome`, never a budget).
                found = self._guarded(
                    lambda: self._channel.reconcile(prepared),
                    lambda exc: Retry(None, f"reconcile_error:{_describe(exc)}", uncertain=True),
                )
                if found is not None:
                    return self._settle_claimed(message, event, claim, found, True)
            error = claim.last_error or "an earlier attempt ended without an answer"
            return ToDeadLetter(
                dlq_attributes.REASON_BUDGET, error, claim.attempts, claim.previous_uncertain, claim
            )
        # A fresh claim's transaction applied the channel's write: deliver need not.
        return self._attempt(message, replace(prepared, claim_with=None) if claim.fresh else prepared, claim)

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
        outcome = self._guards.settle(prepared.rate_limit_key, prepared.event.event_id, outcome)
        return self._settle_claimed(message, prepared.event, claim, outcome, unresolved)

    def _settle_claimed(
        self, message: QueueMessage, event: TaskEvent, claim: Claimed, outcome: Outcome, unresolved: bool
    ) -> Disposition:
        now = self._clock()
        if isinstance(outcome, Delivered | Skipped):
            record = outcome.record if isinstance(outcome, Delivered) else None
            try:
                self._ledger.complete(event.event_id, now, record=record, claim_id=claim.claim_id)
            except RecordLost:
                # Another attempt recorded first; the channel says what that makes of this delivery.
                assert record is not None
                lost = self._guarded(
                    record.lost, lambda exc: Retry(None, f"exception:{_describe(exc)}", uncertain=True)
                )
                if isinstance(lost, Delivered):
                    lost = replace(lost, record=None)
                return self._settle_claimed(message, event, claim, lost, unresolved)
            except LedgerUnavailable as exc:
                if isinstance(outcome, Skipped):  # nothing was sent; a duplicate just repeats the skip
                    return Done(keys.SKIPPED, outcome.reason)
                return self._release.after_lost_completion(message, event, claim, str(exc), now)
            if isinstance(outcome, Skipped):
                return Done(keys.SKIPPED, outcome.reason)
            if outcome.rate_limit_key is None:
                return Done(keys.DELIVERED, outcome.detail)
            limit = self._waits.window(outcome.after_seconds or 0.0, message, now)  # at least 1 s
            return Done(keys.DELIVERED, outcome.detail, limited_key=outcome.rate_limit_key, limit_s=limit)
        if isinstance(outcome, Terminal):
            reason = f"{dlq_attributes.TERMINAL_PREFIX}{outcome.reason}"
            error = outcome.detail or outcome.reason
            return ToDeadLetter(reason, error, claim.attempts + 1, unresolved, claim)
        if isinstance(outcome, UncertainOutcome):
            # uncertain=False: the redrive that follows is an operator's decision to send again.
            # The earlier attempt's last error says which doubt it was (e.g. sent, and the ledger failed).
            error = outcome.detail or outcome.reason
            if claim.last_error:
                error = f"{error} (the attempt before: {claim.last_error})"
            return ToDeadLetter(dlq_attributes.REASON_UNCERTAIN, error, claim.attempts + 1, False, claim)
        return self._release.after_retry(message, event, claim, outcome, unresolved, now)

    def _held(self, message: QueueMessage, event: TaskEvent, hold: Hold, now: float) -> Disposition:
        left = self._waits.budget_left(message, now)
        if hold.wait_s > left:
            error = f"{hold.reason}: the key is held for {hold.wait_s:.0f}s, beyond the {left:.0f}s left of the age budget"
            return self._too_old(message, event, now, error=error)
        delay = self._waits.clamp(hold.wait_s, message, now)
        return Later(delay, hold.reason, hold.kind, limited_key=hold.limited_key)

    def _blocked(
        self, message: QueueMessage, prepared: Prepared, blocked: Blocked, now: float
    ) -> Disposition:
        """The claim's transaction was cancelled by one of its guards: nothing was written or sent."""
        write = prepared.claim_with
        if blocked.name == CHANNEL_WRITE and write is not None:
            return self._settle_unclaimed(message, write.lost())
        key = prepared.rate_limit_key
        if blocked.name == SHARED_WINDOW and key is not None:
            until = _number((blocked.item or {}).get(UNTIL))
            if until is None or until <= now:  # ended between the check and now: come back at once
                return Later(1, RATE_LIMITED, keys.RATE_LIMITED)
            self.rate_limits.adopt(key, until)
            hold = Hold(until - now, RATE_LIMITED, keys.RATE_LIMITED, limited_key=key)
            return self._held(message, prepared.event, hold, now)
        raise ValueError(f"the claim was blocked by an unknown guard {blocked.name!r}")

    def _settle_unclaimed(self, message: QueueMessage, outcome: Outcome) -> Disposition:
        """An outcome from prepare: no claim was taken and no provider call made."""
        if isinstance(outcome, Delivered):
            return Done(keys.DELIVERED, outcome.detail)
        if isinstance(outcome, Skipped):
            return Done(keys.SKIPPED, outcome.reason)
        if isinstance(outcome, Terminal):
            reason = f"{dlq_attributes.TERMINAL_PREFIX}{outcome.reason}"
            return ToDeadLetter(reason, outcome.detail or outcome.reason, 0, uncertain=False)
        if isinstance(outcome, UncertainOutcome):  # prepare sends nothing; kept total all the same
            return ToDeadLetter(dlq_attributes.REASON_UNCERTAIN, outcome.reason, 0, uncertain=False)
        now = self._clock()
        delay = self._waits.retry_delay(outcome, message, message.receive_count, now)
        return Later(delay, outcome.reason, keys.DEFERRED, limited_key=outcome.rate_limit_key)

    def _too_old(
        self, message: QueueMessage, event: TaskEvent, now: float, *, error: str | None = None
    ) -> Disposition:
        """Dead-letter by age (or because a wait cannot fit in what is left of it): no claim is taken."""
        try:
            entry = self._ledger.peek(event.event_id)
        except LedgerUnavailable as exc:
            return self._waits.wait(message, f"ledger_unavailable:{exc}", attempt=message.receive_count)
        if entry is not None and entry.state == DONE:
            return Done(keys.SKIPPED, "duplicate")
        if entry is not None and entry.live_claim(now):
            expires = entry.claim_expires_at or now
            return Later(self._waits.clamp(expires - now, message, now), "claim_held", keys.DEFERRED)
        error = error or (entry.last_error if entry else "") or f"older than {self._settings.max_age_s}s"
        attempts = entry.attempts if entry else 0
        uncertain = bool(entry and (entry.uncertain or entry.state == CLAIMED))
        return ToDeadLetter(dlq_attributes.REASON_BUDGET, error, attempts, uncertain)

    # -- helpers ------------------------------------------------------------------------------------

    def _coordination_failed(self, what: str, error: str) -> None:
        """Coordination lost for one call (this container still honours its own windows and circuit)."""
        self._telemetry.problem(f"{what}_failed", None, error)

    def _guarded(self, call: Callable[[], T], on_error: Callable[[Exception], Retry]) -> T | Retry:
        """Channel code must not raise for a provider's answer; if it does anyway, it becomes a Retry.
        Out of time before one of its calls, it becomes a short wait that costs no attempt (uncertain after
        a reconcile or a delivery began: an earlier call of it may have applied)."""
        try:
            with self._deadline.active():
                return call()
        except DeadlineReached as exc:
            cut = on_error(exc)
            return replace(cut, after_seconds=OUT_OF_TIME_DELAY_S, reason=OUT_OF_TIME, costs_attempt=False)
        except Exception as exc:
            key = self._telemetry.key("channel_raised")
            self._telemetry.logger.warning(key, exc_info=True, extra={"event": key})
            return on_error(exc)


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {safe_error(str(exc), ERROR_CHARS)}"
