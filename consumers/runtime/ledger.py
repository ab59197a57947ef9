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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from consumers.runtime.aws_errors import condition_failed
from consumers.runtime.settings import DONE_RETENTION_S
from fanout.dynamo import from_item
from fanout.registry import LEDGER_PARTITION_KEY, LEDGER_TTL_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

CLAIMED = "claimed"
RELEASED = "released"
DONE = "done"
_MAX_ERROR_CHARS = 500
_CLAIM_ROUNDS = 3  # each lost race means another attempt changed the item; re-read and decide again


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


@dataclass(frozen=True)
class AlreadyDone:
    """The event was delivered (or settled) on this channel before: nothing to do."""


@dataclass(frozen=True)
class HeldByOther:
    """Another attempt holds a live claim on the event."""

    expires_at: float  # when the other attempt's claim expires


ClaimResult = Claimed | AlreadyDone | HeldByOther


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

    def claim(self, event_id: str, now: float) -> ClaimResult:
        """Take the event for this attempt, when it is absent, released, or its claim has expired."""
        key = self.key(event_id)
        claim_id = uuid.uuid4().hex
        fresh = {
            **self._claim_fields(claim_id, now),
            "attempts": {"N": "0"},
            "first_attempt_at": {"N": _num(now)},
            "uncertain": {"BOOL": False},
        }
        old: LedgerEntry | None = None
        for _ in range(_CLAIM_ROUNDS):
            if old is None:
                old = self._put_if_absent(key, fresh)
                if old is None:
                    return Claimed(claim_id, previous_uncertain=False, attempts=0, first_attempt_at=now)
            if old.state == CLAIMED and old.claim_id == claim_id:
                # Our own write: it applied, its answer was lost, and the SDK's retry lost the condition
                # to it. What the item holds is what this attempt wrote.
                return old.as_claimed(now)
            if old.state == DONE:
                return AlreadyDone()
            if old.live_claim(now):
                return HeldByOther(expires_at=old.claim_expires_at or now)
            result = self._take_over(key, old, claim_id, now)
            if isinstance(result, Claimed):
                return result
            old = result
        raise LedgerUnavailable(f"ledger item {key} keeps changing under contention")

    def complete(self, event_id: str, now: float) -> None:
        """Record the delivery. Unconditional: the event was delivered whoever holds the claim now."""
        self._call(
            "update_item",
            Key=self._key_value(event_id),
            UpdateExpression="SET #state = :done, #ttl = :ttl REMOVE claim_expires_at",
            ExpressionAttributeNames={"#state": "state", "#ttl": LEDGER_TTL_ATTRIBUTE},
            ExpressionAttributeValues={":done": {"S": DONE}, ":ttl": {"N": _num(now + self._retention_s)}},
        )

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

    def _put_if_absent(self, key: str, fields: dict[str, Any]) -> LedgerEntry | None:
        """None when written; else the item that was there (the rare vanished item is written again)."""
        for _ in range(_CLAIM_ROUNDS):
            try:
                self._db.put_item(
                    TableName=self._table,
                    Item={LEDGER_PARTITION_KEY: {"S": key}, **fields},
                    ConditionExpression=f"attribute_not_exists({LEDGER_PARTITION_KEY})",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return None
            except ClientError as exc:
                if not condition_failed(exc):
                    raise LedgerUnavailable(_describe(exc)) from exc
                old = self._old_item(exc, key)
            except BotoCoreError as exc:
                raise LedgerUnavailable(_describe(exc)) from exc
            if old is not None:
                return old
        raise LedgerUnavailable(f"ledger item {key} keeps appearing and vanishing")

    def _take_over(
        self, key: str, old: LedgerEntry, claim_id: str, now: float
    ) -> Claimed | LedgerEntry | None:
        """Claim a released item or an expired claim; else what a racer left there (None: deleted)."""
        expired = old.state == CLAIMED
        attempts = old.attempts + (1 if expired else 0)  # an expired claim bounds crash loops
        values = {f":{name}": value for name, value in self._claim_fields(claim_id, now).items()}
        try:
            self._db.update_item(
                TableName=self._table,
                Key={LEDGER_PARTITION_KEY: {"S": key}},
                UpdateExpression=(
                    "SET #state = :state, claim_id = :claim_id, claim_expires_at = :claim_expires_at, "
                    "#ttl = :ttl, attempts = :attempts, uncertain = :uncertain, "
                    "first_attempt_at = if_not_exists(first_attempt_at, :now)"
                ),
                ConditionExpression="#state = :old_state AND claim_id = :old_claim_id",
                ExpressionAttributeNames={"#state": "state", "#ttl": LEDGER_TTL_ATTRIBUTE},
                ExpressionAttributeValues={
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
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise LedgerUnavailable(_describe(exc)) from exc
            return self._old_item(exc, key)
        except BotoCoreError as exc:
            raise LedgerUnavailable(_describe(exc)) from exc
        return Claimed(
            claim_id,
            previous_uncertain=old.uncertain or expired,
            attempts=attempts,
            first_attempt_at=old.first_attempt_at if old.first_attempt_at is not None else now,
            last_error=old.last_error,
        )

    def _old_item(self, exc: ClientError, key: str) -> LedgerEntry | None:
        """The item that failed our condition; None when it is gone by now."""
        item = exc.response.get("Item")
        if isinstance(item, dict) and item:
            return LedgerEntry.from_plain(from_item(item))
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


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"dynamodb {error.get('Code', 'error')}: {error.get('Message', '')}"[:_MAX_ERROR_CHARS]
    return f"dynamodb {type(exc).__name__}: {exc}"[:_MAX_ERROR_CHARS]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
