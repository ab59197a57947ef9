"""Provider outages shared by every container of a channel: one item per failing key in the ledger
table, `pk` = "outage#<channel>#<key>", holding the outage's start (`since`), its latest failure (`last`)
and the TTL attribute.

Each container keeps its own circuit (outages.py), but whether a failed call *continues* an outage, and
so costs its message no attempt, must not depend on which container the message landed in: with one
circuit per container, a message bouncing between containers during one outage would pay an attempt in
each, and its backoff would grow with them. The item is written only when a call fails on the provider's
side, and cleared by a container that saw the outage when a call on the key is answered again, so a
fault-free delivery costs no call here. Best effort: a failed write costs the coordination, never the
message (the failure is then counted as an attempt, as it would be without sharing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from consumers.runtime.aws_errors import aws_code, condition_failed
from consumers.runtime.outages import STALE_S, probe_interval
from consumers.runtime.shared_horizons import RETENTION_S
from fanout.registry import LEDGER_PARTITION_KEY, LEDGER_TTL_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

KEY_PREFIX = "outage#"
SINCE = "since"
LAST = "last"

OnError = Callable[[str, str], None]  # (what failed: "note" | "clear", the error)


class SharedOutages:
    def __init__(
        self, dynamodb: DynamoDBClient, *, table: str, channel: str, cap_s: float, on_error: OnError
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._channel = channel
        self._cap_s = cap_s
        self._on_error = on_error

    def item_key(self, key: str) -> str:
        return f"{KEY_PREFIX}{self._channel}#{key}"

    def failed(self, key: str, now: float) -> float | None:
        """Record a server-side failure on `key`. Returns when the outage it belongs to started, if one
        was already in progress; None when this failure starts one (or the store could not be used)."""
        try:
            reply = self._db.update_item(
                TableName=self._table,
                Key={LEDGER_PARTITION_KEY: {"S": self.item_key(key)}},
                UpdateExpression="SET #s = if_not_exists(#s, :now), #l = :now, #ttl = :ttl",
                ExpressionAttributeNames={"#s": SINCE, "#l": LAST, "#ttl": LEDGER_TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":now": {"N": _num(now)},
                    ":ttl": {"N": str(int(now) + RETENTION_S)},
                },
                ReturnValues="ALL_OLD",
            )
        except (ClientError, BotoCoreError) as exc:
            self._on_error("note", aws_code(exc))
            return None
        old = reply.get("Attributes", {})
        since, last = _float(old.get(SINCE)), _float(old.get(LAST))
        if since is None or last is None:
            return None
        if now - (last + probe_interval(last - since, cap_s=self._cap_s)) <= STALE_S:
            return min(since, now)
        self._restart(key, stale_since=since, now=now)
        return None

    def ended(self, key: str) -> None:
        """A call on `key` was answered: the outage is over."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={LEDGER_PARTITION_KEY: {"S": self.item_key(key)}},
                UpdateExpression="REMOVE #s, #l",
                ConditionExpression="attribute_exists(#s)",
                ExpressionAttributeNames={"#s": SINCE, "#l": LAST},
            )
        except ClientError as exc:
            if not condition_failed(exc):
                self._on_error("clear", aws_code(exc))
        except BotoCoreError as exc:
            self._on_error("clear", aws_code(exc))

    def _restart(self, key: str, *, stale_since: float, now: float) -> None:
        """The stored outage was long over (nobody cleared it): this failure starts a new one."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key={LEDGER_PARTITION_KEY: {"S": self.item_key(key)}},
                UpdateExpression="SET #s = :now",
                ConditionExpression="#s = :stale",
                ExpressionAttributeNames={"#s": SINCE},
                ExpressionAttributeValues={":now": {"N": _num(now)}, ":stale": {"N": _num(stale_since)}},
            )
        except ClientError as exc:
            if not condition_failed(exc):  # a sibling restarted it first: as good
                self._on_error("note", aws_code(exc))
        except BotoCoreError as exc:
            self._on_error("note", aws_code(exc))


def _float(value: Any) -> float | None:
    raw = value.get("N") if isinstance(value, dict) else None
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _num(value: float) -> str:
    return f"{value:.3f}"
