"""The delivery ledger: once-only per (channel, event id), across retries, redeliveries and crashes.

One DynamoDB item per (channel, event): key `pk` = "<channel>#<event_id>". States: `claimed` (an attempt
is sending; `claim_expires_at` says until when it may), `released` (the last attempt ended without
delivering; `uncertain` says whether it may have applied the call anyway), `done`.

The claim's expiry is its own attribute, not the TTL attribute `expires_at`: DynamoDB's TTL deletes expired
items whenever it likes, and deleting an expired claim would erase the one piece of evidence that an
attempt may have sent and died. `expires_at` (TTL) is pushed to now + self._retention_s on every write, so
items live past the DLQ's retention and then go away by themselves.

Any DynamoDB failure other than a lost condition raises LedgerUnavailable; the runtime turns it into a
retry. A failed claim happens before any provider call, so it can never cause a duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from consumers.runtime.aws_errors import condition_failed
from consumers.runtime.ledger_entries import (
    CLAIMED,
    DONE,
    RELEASED,
    AlreadyDone,
    Claimed,
    ClaimResult,
    HeldByOther,
    LedgerEntry,
    LedgerUnavailable,
    RecordLost,
)
from consumers.runtime.settings import DONE_RETENTION_S
from consumers.runtime.task_writes import TaskWrite
from consumers.runtime.transactions import Blocked, ClaimGuard, cancellation_reasons, failed_guard
from fanout.dynamo import from_item
from fanout.registry import LEDGER_PARTITION_KEY, LEDGER_TTL_ATTRIBUTE

__all__ = [
    "CLAIMED",
    "DONE",
    "RELEASED",
    "AlreadyDone",
    "Blocked",
    "ClaimResult",
    "Claimed",
    "HeldByOther",
    "Ledger",
    "LedgerEntry",
    "LedgerUnavailable",
    "RecordLost",
]

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

_MAX_ERROR_CHARS = 500
_CLAIM_ROUNDS = 3  # each lost race means another attempt changed the item; re-read and decide again


class Ledger:
    def __init__(
        self,
        dynamodb: DynamoDBClient,
        *,
        table: str,
        channel: str,
        claim_ttl_s: int,
        retention_s: int = DONE_RETENTION_S,
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._channel = channel
        self._claim_ttl_s = claim_ttl_s
        self._retention_s = retention_s

    def key(self, event_id: str) -> str:
        return f"{self._channel}#{event_id}"

    def claim(self, event_id: str, now: float, *, also: Sequence[ClaimGuard] = ()) -> ClaimResult:
        """Take the event for this attempt, when it is absent, released, or its claim has expired.

        `also`: items the claim's write carries in one transaction (a channel's once-only slot, a check
        that no sibling's Retry-After window is open). One whose condition fails blocks the claim: none
        of the transaction applies and the guard's name comes back as `Blocked`."""
        key = self.key(event_id)
        claim_id = uuid.uuid4().hex
        fresh = {
            **self._claim_fields(claim_id, now),
            "attempts": {"N": "0"},
            "first_attempt_at": {"N": _num(now)},
            "uncertain": {"BOOL": False},
        }
        old: LedgerEntry | None = None
        for round_ in range(_CLAIM_ROUNDS):
            if old is None:
                put = self._put_if_absent(key, fresh, also, token=f"{claim_id}p{round_}")
                if isinstance(put, Blocked):
                    return put
                old = put
                if old is None:
                    return Claimed(
                        claim_id, previous_uncertain=False, attempts=0, first_attempt_at=now, fresh=True
                    )
            if old.state == CLAIMED and old.claim_id == claim_id:
                # Our own write: it applied, its answer was lost, and the SDK's retry lost the condition
                # to it. What the item holds is what this attempt wrote.
                return old.as_claimed(now)
            if old.state == DONE:
                return AlreadyDone()
            if old.live_claim(now):
                return HeldByOther(expires_at=old.claim_expires_at or now)
            later = [guard for guard in also if not guard.fresh_only]
            result = self._take_over(key, old, claim_id, now, later, token=f"{claim_id}t{round_}")
            if isinstance(result, Claimed | Blocked):
                return result
            old = result
        raise LedgerUnavailable(f"ledger item {key} keeps changing under contention")

    def complete(
        self, event_id: str, now: float, *, record: TaskWrite | None = None, claim_id: str = ""
    ) -> None:
        """Record the delivery. Unconditional: the event was delivered whoever holds the claim now.

        With `record` (the channel's bookkeeping write), both commit in one transaction or neither
        does: no crash can leave the post recorded and the event open, or the reverse. RecordLost when
        the record's condition failed (another attempt recorded first; nothing applied)."""
        completion = {
            "TableName": self._table,
            "Key": self._key_value(event_id),
            "UpdateExpression": "SET #state = :done, #ttl = :ttl REMOVE claim_expires_at",
            "ExpressionAttributeNames": {"#state": "state", "#ttl": LEDGER_TTL_ATTRIBUTE},
            "ExpressionAttributeValues": {
                ":done": {"S": DONE},
                ":ttl": {"N": _num(now + self._retention_s)},
            },
        }
        if record is None:
            self._call("update_item", **{k: v for k, v in completion.items() if k != "TableName"})
            return
        items: list[Any] = [{"Update": record.request()}, {"Update": completion}]
        try:
            self._db.transact_write_items(
                TransactItems=items,
                # A repeat within ten minutes (a lost answer) is answered as the first, not run again.
                ClientRequestToken=f"{claim_id or uuid.uuid4().hex}d",
            )
        except ClientError as exc:
            if failed_guard(exc, start=0) == 0:
                raise RecordLost from exc
            raise LedgerUnavailable(_describe(exc)) from exc
        except BotoCoreError as exc:
            raise LedgerUnavailable(_describe(exc)) from exc

    def release(
        self,
        event_id: str,
        claim_id: str,
        *,
        attempt_failed: bool,
        uncertain: bool,
        last_error: str,
        now: float,
    ) -> bool:
        """Free the event for its retry. False when another attempt took the claim over meanwhile."""
        return self._conditional(
            "update_item",
            Key=self._key_value(event_id),
            UpdateExpression=(
                "SET #state = :released, attempts = if_not_exists(attempts, :zero) + :inc, "
                "uncertain = :uncertain, last_error = :error, #ttl = :ttl REMOVE claim_expires_at"
            ),
            ConditionExpression="#state = :claimed AND claim_id = :claim_id",
            ExpressionAttributeNames={"#state": "state", "#ttl": LEDGER_TTL_ATTRIBUTE},
            ExpressionAttributeValues={
                ":released": {"S": RELEASED},
                ":claimed": {"S": CLAIMED},
                ":claim_id": {"S": claim_id},
                ":zero": {"N": "0"},
                ":inc": {"N": "1" if attempt_failed else "0"},
                ":uncertain": {"BOOL": uncertain},
                ":error": {"S": last_error[:_MAX_ERROR_CHARS] or "-"},
                ":ttl": {"N": _num(now + self._retention_s)},
            },
        )

    def release_for_redrive(
        self, event_id: str, *, uncertain: bool, now: float, claimed: bool = True
    ) -> None:
        """On dead-lettering: forget attempts so a redriven message is delivered, not skipped or
        dead-lettered again at once. An uncertain outcome is kept (as a released item with no attempts)
        so the redriven message reconciles before sending. A completed event is never touched.

        `claimed=False`: the message is dead-lettered without this attempt having claimed the event (prepare
        ended it, or the age budget), so `uncertain` says nothing about earlier attempts. The item is then
        deleted only when it is a released item without uncertainty; an uncertain one, or a claim (which
        may have sent), is kept as uncertain with its attempts reset."""
        key = {LEDGER_PARTITION_KEY: {"S": self.key(event_id)}}
        absent = f"attribute_not_exists({LEDGER_PARTITION_KEY})"
        names = {"#state": "state"}
        if not uncertain:
            values: dict[str, Any]
            if claimed:
                condition, values = f"{absent} OR #state <> :done", {":done": {"S": DONE}}
            else:
                condition = f"{absent} OR (#state = :released AND uncertain = :false)"
                values = {":released": {"S": RELEASED}, ":false": {"BOOL": False}}
            deleted = self._conditional(
                "delete_item",
                Key=key,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            if deleted or claimed:
                return  # (claimed and not deleted: the event is done)
        item = {
            **key,
            "state": {"S": RELEASED},
            "claim_id": {"S": uuid.uuid4().hex},
            "attempts": {"N": "0"},
            "uncertain": {"BOOL": True},
            LEDGER_TTL_ATTRIBUTE: {"N": _num(now + self._retention_s)},
        }
        self._conditional(
            "put_item",
            Item=item,
            ConditionExpression=f"{absent} OR #state <> :done",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":done": {"S": DONE}},
        )

    def peek(self, event_id: str) -> LedgerEntry | None:
        response = self._call("get_item", Key=self._key_value(event_id), ConsistentRead=True)
        item = response.get("Item")
        return LedgerEntry.from_plain(from_item(item)) if item else None

    # -- internals ---------------------------------------------------------------------------------

    def _claim_fields(self, claim_id: str, now: float) -> dict[str, Any]:
        return {
            "state": {"S": CLAIMED},
            "claim_id": {"S": claim_id},
            "claim_expires_at": {"N": _num(now + self._claim_ttl_s)},
            LEDGER_TTL_ATTRIBUTE: {"N": _num(now + self._retention_s)},
        }

    def _put_if_absent(
        self, key: str, fields: dict[str, Any], also: Sequence[ClaimGuard], *, token: str
    ) -> LedgerEntry | Blocked | None:
        """None when written; else the item that was there (the rare vanished item is written again),
        or the guard that blocked the write."""
        for attempt in range(_CLAIM_ROUNDS):
            request = {
                "Item": {LEDGER_PARTITION_KEY: {"S": key}, **fields},
                "ConditionExpression": f"attribute_not_exists({LEDGER_PARTITION_KEY})",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
            outcome = self._write("Put", request, also, token=f"{token}{attempt}")
            if outcome is None or isinstance(outcome, Blocked):
                return outcome
            old = outcome.entry if outcome.entry is not None else self._peek_key(key)
            if old is not None:
                return old
        raise LedgerUnavailable(f"ledger item {key} keeps appearing and vanishing")

    def _take_over(
        self, key: str, old: LedgerEntry, claim_id: str, now: float, also: Sequence[ClaimGuard], *, token: str
    ) -> Claimed | Blocked | LedgerEntry | None:
        """Claim a released item or an expired claim; else what a racer left there (None: deleted), or
        the guard that blocked the write."""
        expired = old.state == CLAIMED
        attempts = old.attempts + (1 if expired else 0)  # an expired claim bounds crash loops
        values = {f":{name}": value for name, value in self._claim_fields(claim_id, now).items()}
        request = {
            "Key": {LEDGER_PARTITION_KEY: {"S": key}},
            "UpdateExpression": (
                "SET #state = :state, claim_id = :claim_id, claim_expires_at = :claim_expires_at, "
                "#ttl = :ttl, attempts = :attempts, uncertain = :uncertain, "
                "first_attempt_at = if_not_exists(first_attempt_at, :now)"
            ),
            "ConditionExpression": "#state = :old_state AND claim_id = :old_claim_id",
            "ExpressionAttributeNames": {"#state": "state", "#ttl": LEDGER_TTL_ATTRIBUTE},
            "ExpressionAttributeValues": {
                ":state": values[":state"],
                ":claim_id": values[":claim_id"],
                ":claim_expires_at": values[":claim_expires_at"],
                ":ttl": values[f":{LEDGER_TTL_ATTRIBUTE}"],
                ":attempts": {"N": str(attempts)},
                ":uncertain": {"BOOL": old.uncertain or expired},
                ":now": {"N": _num(now)},
                ":old_state": {"S": old.state},
                ":old_claim_id": {"S": old.claim_id},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        outcome = self._write("Update", request, also, token=token)
        if isinstance(outcome, Blocked):
            return outcome
        if outcome is not None:
            return outcome.entry if outcome.entry is not None else self._peek_key(key)
        return Claimed(
            claim_id,
            previous_uncertain=old.uncertain or expired,
            attempts=attempts,
            first_attempt_at=old.first_attempt_at if old.first_attempt_at is not None else now,
            last_error=old.last_error,
        )

    def _write(
        self, kind: str, request: dict[str, Any], also: Sequence[ClaimGuard], *, token: str
    ) -> _ConditionLost | Blocked | None:
        """One claim write (`kind`: Put or Update), alone or in a transaction with `also`. None when it
        applied; _ConditionLost with the ledger item that failed its condition; Blocked by a guard."""
        try:
            if not also:
                operation = "put_item" if kind == "Put" else "update_item"
                getattr(self._db, operation)(TableName=self._table, **request)
            else:
                items: list[Any] = [
                    {kind: {"TableName": self._table, **request}},
                    *(dict(g.item) for g in also),
                ]
                self._db.transact_write_items(TransactItems=items, ClientRequestToken=token)
            return None
        except ClientError as exc:
            if condition_failed(exc):
                return _ConditionLost(_entry(exc.response.get("Item")))
            reasons = cancellation_reasons(exc)
            failed = failed_guard(exc, start=0)
            if reasons is None or failed is None:
                raise LedgerUnavailable(_describe(exc)) from exc
            if failed == 0:  # the ledger item decides first: a done event is a duplicate, whatever else
                return _ConditionLost(_entry(reasons[0].get("Item")))
            guard = also[failed - 1]
            return Blocked(guard.name, _plain(reasons[failed].get("Item")))
        except BotoCoreError as exc:
            raise LedgerUnavailable(_describe(exc)) from exc

    def _peek_key(self, key: str) -> LedgerEntry | None:
        """The item that failed our condition without sending it back; None when it is gone by now."""
        return self.peek(key.split("#", 1)[1])

    def _key_value(self, event_id: str) -> dict[str, Any]:
        return {LEDGER_PARTITION_KEY: {"S": self.key(event_id)}}

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._db, operation)(TableName=self._table, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise LedgerUnavailable(_describe(exc)) from exc

    def _conditional(self, operation: str, **kwargs: Any) -> bool:
        try:
            getattr(self._db, operation)(TableName=self._table, **kwargs)
            return True
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise LedgerUnavailable(_describe(exc)) from exc
        except BotoCoreError as exc:
            raise LedgerUnavailable(_describe(exc)) from exc


@dataclass(frozen=True)
class _ConditionLost:
    """A conditional ledger write lost: the item as DynamoDB sent it back, if it did."""

    entry: LedgerEntry | None  # None: not sent back (read it) or gone


def _plain(item: Any) -> dict[str, Any] | None:
    return from_item(item) if isinstance(item, dict) and item else None


def _entry(item: Any) -> LedgerEntry | None:
    plain = _plain(item)
    return LedgerEntry.from_plain(plain) if plain is not None else None


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"dynamodb {error.get('Code', 'error')}: {error.get('Message', '')}"[:_MAX_ERROR_CHARS]
    return f"dynamodb {type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
