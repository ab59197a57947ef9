"""What stands between a message and a provider call on its rate-limit key (a Slack workspace, a
GitHub token), in the order the consumer asks: the rate-limit horizon this container remembers
(rate_limits.py), the key's outage circuit (outages.py, shared_outages.py), then a sibling's window
from the shared store, read only when the call would otherwise go out. After the call, the answer
updates the circuit and decides what a failure during an outage costs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from consumers.runtime import telemetry as keys
from consumers.runtime.channel import Clock
from consumers.runtime.outages import ProviderOutages
from consumers.runtime.outcomes import Delivered, Outcome, Retry, Terminal
from consumers.runtime.rate_limits import RateLimitMemory
from consumers.runtime.shared_outages import SharedOutages

RATE_LIMITED = "rate_limited"
PROVIDER_DOWN = "provider_down"


@dataclass(frozen=True)
class Hold:
    """Do not call yet: wait `wait_s` (the consumer turns it into a visibility delay). `limited_key` is
    noted as rate-limited for as long (a horizon met again is kept by the other messages too)."""

    wait_s: float
    reason: str
    kind: str
    limited_key: str | None = None


class KeyGuards:
    def __init__(
        self,
        *,
        rate_limits: RateLimitMemory,
        outages: ProviderOutages,
        shared_outages: SharedOutages,
        clock: Clock,
    ) -> None:
        self._rate_limits = rate_limits
        self._outages = outages
        self._shared_outages = shared_outages
        self._clock = clock

    def hold(
        self, key: str | None, now: float, *, redelivered: bool = False, read_shared: bool = True
    ) -> Hold | None:
        """`read_shared=False`: leave the sibling's window to the caller (the consumer checks it in the
        ledger claim's transaction, `RateLimitMemory.wants_shared`)."""
        if key is None:
            return None
        horizon = self._rate_limits.known_horizon(key, now)
        if horizon is not None:
            return Hold(horizon - now, RATE_LIMITED, keys.RATE_LIMITED, limited_key=key)
        probe_at = self._outages.closed_until(key, now)
        if probe_at is not None:
            return Hold(probe_at - now, PROVIDER_DOWN, keys.DEFERRED)
        if not read_shared:
            return None
        horizon = self._rate_limits.shared_horizon(key, now, redelivered=redelivered)
        if horizon is not None:
            return Hold(horizon - now, RATE_LIMITED, keys.RATE_LIMITED, limited_key=key)
        return None

    def settle(self, key: str | None, event_id: str, outcome: Outcome) -> Outcome:
        """Update the key's outage circuit with this call's answer. A failure that continues an outage
        another message is failing in too, seen here or by a sibling, costs its message no attempt and
        brings it back with the next probe: the outage is the provider's, and its length is bounded by
        the message's age budget, not by how often we looked. Any other failure costs an attempt and the
        message's own backoff, as without the circuit: the one that opens an outage, and every failure
        of a message failing alone, which cannot be told from a message the provider cannot take."""
        if key is None:
            return outcome
        now = self._clock()
        if isinstance(outcome, Retry) and outcome.server_fault:
            self._rate_limits.watch(key, now)  # the backlog it leaves drains into siblings' windows
            continues = self._outages.others_failing(key, event_id, now)
            next_probe = self._outages.failed(key, now, event_id=event_id, not_before=outcome.after_seconds)
            shared = self._shared_outages.failed(key, now, event_id=event_id, probe_at=next_probe)
            if not (continues or shared):
                return outcome
            reason = f"{outcome.reason} ({PROVIDER_DOWN})"
            return replace(outcome, after_seconds=next_probe - now, reason=reason, costs_attempt=False)
        if isinstance(outcome, Delivered | Terminal) or (
            isinstance(outcome, Retry) and outcome.rate_limit_key is not None
        ):
            if self._outages.is_open(key, now):
                self._shared_outages.ended(key)
            self._outages.answered(key)
        return outcome
