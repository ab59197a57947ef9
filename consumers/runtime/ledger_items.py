"""Coordination items the consumers keep in the ledger table beside its delivery entries
(shared_horizons.py, shared_outages.py): one item per channel and rate-limit key, `pk` =
"<prefix><channel>#<key>". A delivery entry's `pk` starts with the channel's name, so the two never
meet. Each item carries the TTL attribute, a day past the moment it was written for."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from fanout.registry import LEDGER_PARTITION_KEY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

RETENTION_S = 24 * 3600  # an item outlives anything it holds; TTL removes it afterwards

OnError = Callable[[str, str], None]  # (what failed, the error): coordination lost, never the message


class LedgerItems:
    """A store of one kind of coordination item: `PREFIX` names the kind."""

    PREFIX: ClassVar[str]

    def __init__(self, dynamodb: DynamoDBClient, *, table: str, channel: str, on_error: OnError) -> None:
        self._db = dynamodb
        self._table = table
        self._channel = channel
        self._on_error = on_error

    def item_key(self, key: str) -> str:
        return f"{self.PREFIX}{self._channel}#{key}"

    def _key(self, key: str) -> dict[str, Any]:
        return {LEDGER_PARTITION_KEY: {"S": self.item_key(key)}}


def expiry(moment: float) -> dict[str, str]:
    """The TTL attribute's value for an item written for `moment` (epoch seconds)."""
    return {"N": str(int(moment) + RETENTION_S)}


def number(value: Any) -> float | None:
    """A DynamoDB number attribute (`{"N": "..."}`) as a float; None when absent or unreadable."""
    raw = value.get("N") if isinstance(value, dict) else None
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None
