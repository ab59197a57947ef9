"""What a channel's delivery of one event came to. Channel code returns one of these; it never raises
for a provider's answer, and never sleeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consumers.runtime.task_writes import TaskWrite

# A Retry whose reason starts with this is an answer the channel does not know (a new provider error
# code): retried like any other, but counted apart (metric UnknownError) so operators can reclassify it.
UNKNOWN_PREFIX = "unknown:"


@dataclass(frozen=True)
class Delivered:
    """Delivered. `rate_limit_key` / `after_seconds`: a call after the delivery's own (a best-effort
    reaction, say) was rate-limited; the runtime holds the key back as it does after a Retry.
    `record`: the bookkeeping write that goes with the delivery; the runtime applies it atomically with
    the ledger completion (task_writes.py)."""

    detail: str = ""
    rate_limit_key: str | None = None
    after_seconds: float | None = None
    record: TaskWrite | None = None


@dataclass(frozen=True)
class Skipped:
    """Nothing to do, by rule (gate, mute, subscription, once-only slot taken). Counted, not dead-lettered."""

    reason: str


@dataclass(frozen=True)
class Retry:
    """Try again later. `after_seconds` is the provider's wait (Retry-After) or None for backoff.

    `rate_limit_key` names what the provider limited (a Slack workspace, a GitHub token) so the runtime
    defers every other message for it in this container without calling the provider. `uncertain` means
    the call may have taken effect (timeout after sending, fatal_error, proxy 5xx): the next attempt must
    reconcile before sending again. `costs_attempt` is False for deferrals that made no real call.
    `server_fault` marks a provider that failed on its side (5xx, no answer): the runtime opens the key's
    outage circuit (outages.py).
    """

    after_seconds: float | None
    reason: str
    rate_limit_key: str | None = None
    uncertain: bool = False
    costs_attempt: bool = True
    server_fault: bool = False


@dataclass(frozen=True)
class Terminal:
    """No retry can help (`reason` is the provider's code, e.g. channel_not_found or http_422)."""

    reason: str
    detail: str = ""


@dataclass(frozen=True)
class UncertainOutcome:
    """The call may have taken effect and the provider offers no way to find out (SES has no
    idempotency key and no lookup of sent mail). Never retried automatically: the runtime dead-letters
    it with reason `uncertain_outcome` and clears the ledger entry, so that an operator's redrive,
    made knowingly, sends again. A channel returns it from `deliver` (the send's answer was lost) or
    from `reconcile` (an earlier attempt's was)."""

    reason: str
    detail: str = ""


Outcome = Delivered | Skipped | Retry | Terminal | UncertainOutcome
