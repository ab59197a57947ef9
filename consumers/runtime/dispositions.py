"""What the runtime does with one queue message once it has decided (the decision is data, so the flow
that decides and the code that performs the I/O stay apart)."""

from __future__ import annotations

from dataclasses import dataclass

from consumers.runtime.ledger import Claimed


@dataclass(frozen=True)
class Done:
    """Finished: the message is deleted. `outcome` is `delivered` or `skipped`. `limited_key`: a call
    after the delivery was rate-limited; remembered for `limit_s` like a Later's."""

    outcome: str
    reason: str = ""
    limited_key: str | None = None
    limit_s: int = 0


@dataclass(frozen=True)
class Later:
    """Sent back: invisible for `delay_s`, then retried. `kind` is `retry` (a real attempt failed),
    `rate_limited` (held back by rate-limit memory) or `deferred` (any other wait that cost no attempt).
    `limited_key` is remembered as rate-limited for `limit_s` (the provider's own wait; None: `delay_s`),
    which can be shorter than `delay_s` when the runtime stretched the message's own wait."""

    delay_s: int
    reason: str
    kind: str
    attempts: int = 0
    limited_key: str | None = None
    limit_s: int | None = None


@dataclass(frozen=True)
class ToDeadLetter:
    """Onto the DLQ with its reason, then deleted. `claim` is this attempt's ledger claim, if it took one.
    `limited_key`, when the last attempt was rate-limited, is remembered for `limit_s` all the same: the
    key's other messages must still wait, whatever became of this one."""

    reason: str
    last_error: str
    attempts: int
    uncertain: bool
    claim: Claimed | None = None
    limited_key: str | None = None
    limit_s: int = 0


Disposition = Done | Later | ToDeadLetter


class MessageFailed(Exception):
    """Raised to the batch processor: report the message failed (its visibility is already set)."""

    def __init__(self, delay_s: int, reason: str) -> None:
        super().__init__(f"retry in {delay_s}s: {reason}")
        self.delay_s = delay_s
        self.reason = reason
