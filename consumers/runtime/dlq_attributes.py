"""Message attributes a consumer sets on a dead-lettered message (read back by `fanout dlq`)."""

from __future__ import annotations

REASON = "reason"  # retry_budget_exhausted | terminal:<code> | malformed | uncertain_outcome
LAST_ERROR = "last_error"
ATTEMPTS = "attempts"
FIRST_RECEIVED = "first_received"  # ISO-8601 UTC
CHANNEL = "channel"
TASK_ID = "task_id"
EVENT_TYPE = "event_type"
# Set by `fanout dlq redrive` (how many times a message was moved back); a consumer that dead-letters the
# message again carries it over, so the count survives the round trip.
REDRIVEN = "redriven_from_dlq"

ALL = (REASON, LAST_ERROR, ATTEMPTS, FIRST_RECEIVED, CHANNEL, TASK_ID, EVENT_TYPE)

REASON_BUDGET = "retry_budget_exhausted"
REASON_MALFORMED = "malformed"
# The provider may have applied the call and cannot be asked (outcomes.UncertainOutcome).
REASON_UNCERTAIN = "uncertain_outcome"
TERMINAL_PREFIX = "terminal:"
