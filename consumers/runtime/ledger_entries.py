"""What the delivery ledger answers (ledger.py): an entry's states, a claim's result, its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consumers.runtime.transactions import Blocked

CLAIMED = "claimed"
RELEASED = "released"
DONE = "done"


class LedgerUnavailable(RuntimeError):
    """DynamoDB did not answer as needed (throttling, an outage, lasting contention)."""


@dataclass(frozen=True)
class Claimed:
    """This attempt holds the event. `previous_uncertain`: an earlier attempt may have applied the call
    (its claim expired, or it released with uncertain=True), so reconcile before sending."""

    claim_id: str
    previous_uncertain: bool
    attempts: int  # failed real attempts so far (an expired claim counts as one)
    first_attempt_at: float
    last_error: str = ""
    fresh: bool = False  # this claim created the item, with every guard of the claim's transaction


@dataclass(frozen=True)
class AlreadyDone:
    """The event was delivered (or settled) on this channel before: nothing to do."""


@dataclass(frozen=True)
class HeldByOther:
    """Another attempt holds a live claim on the event."""

    expires_at: float  # when the other attempt's claim expires


class RecordLost(Exception):
    """The completion's transaction was cancelled by the channel's record: another attempt recorded
    first. Nothing applied; the claim is still this attempt's."""


ClaimResult = Claimed | AlreadyDone | HeldByOther | Blocked


@dataclass(frozen=True)
class LedgerEntry:
    """A ledger item as read back (the claim, the attempts, the state)."""

    state: str
    attempts: int
    uncertain: bool
    last_error: str
    claim_expires_at: float | None
    claim_id: str
    first_attempt_at: float | None

    def as_claimed(self, now: float) -> Claimed:
        return Claimed(
            self.claim_id,
            previous_uncertain=self.uncertain,
            attempts=self.attempts,
            first_attempt_at=self.first_attempt_at if self.first_attempt_at is not None else now,
            last_error=self.last_error,
        )

    def live_claim(self, now: float) -> bool:
        return self.state == CLAIMED and self.claim_expires_at is not None and self.claim_expires_at > now

    @classmethod
    def from_plain(cls, item: dict[str, Any]) -> LedgerEntry:
        expires = item.get("claim_expires_at")
        first = item.get("first_attempt_at")
        return cls(
            state=str(item.get("state", "")),
            attempts=int(item.get("attempts", 0)),
            uncertain=bool(item.get("uncertain", False)),
            last_error=str(item.get("last_error", "")),
            claim_expires_at=float(expires) if expires is not None else None,
            claim_id=str(item.get("claim_id", "")),
            first_attempt_at=float(first) if first is not None else None,
        )
