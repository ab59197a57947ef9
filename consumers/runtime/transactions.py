"""DynamoDB transactions as the ledger uses them: the items a claim carries, and reading a cancellation.

A cancelled TransactWriteItems answers `CancellationReasons`, one per item in the order sent: `Code`
"None" for an item that was fine, "ConditionalCheckFailed" for one whose condition failed (with `Item`,
its current attributes, when that item asked for ALL_OLD), or the item's error (a conflict with another
transaction, throttling).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from consumers.runtime.aws_errors import aws_code

CANCELLED = "TransactionCanceledException"
CONDITION_FAILED = "ConditionalCheckFailed"


@dataclass(frozen=True)
class ClaimGuard:
    """An item the claim's transaction also writes or checks: `item` is one TransactItems entry
    ({"Update": {...}} or {"ConditionCheck": {...}}). Its condition failing blocks the claim.
    `fresh_only`: carried only by the write that creates the ledger item (a first attempt), not by the
    take-over of a released or expired one (`Claimed.fresh` says which happened)."""

    name: str
    item: Mapping[str, Any]
    fresh_only: bool = False


@dataclass(frozen=True)
class Blocked:
    """The claim was not taken: guard `name`'s condition failed. `item`: that item's attributes as
    plain values, when it asked for them (ALL_OLD) and exists."""

    name: str
    item: dict[str, Any] | None = None


def cancellation_reasons(exc: ClientError) -> list[Mapping[str, Any]] | None:
    """The per-item reasons of a cancelled transaction; None for any other error."""
    if aws_code(exc) != CANCELLED:
        return None
    reasons = exc.response.get("CancellationReasons")
    return list(reasons) if isinstance(reasons, list) else []


def failed_guard(exc: ClientError, *, start: int = 0) -> int | None:
    """The index of the first item from `start` whose condition failed, when the transaction was
    cancelled by conditions alone; None when any item failed otherwise (throttled, in conflict): then
    the transaction may succeed as sent, later."""
    reasons = cancellation_reasons(exc)
    if not reasons:
        return None
    codes = [str(r.get("Code") or "None") for r in reasons]
    if any(code not in {"None", CONDITION_FAILED} for code in codes):
        return None
    return next((i for i, code in enumerate(codes) if i >= start and code == CONDITION_FAILED), None)
