"""Rate-limit horizons shared by every container of a channel: one item per limited key in the ledger
table, `pk` = "ratelimit#<channel>#<key>" (a ledger entry's `pk` starts with the channel's name, so the
two never meet), holding `until` (epoch seconds) and the TTL attribute.

Each container remembers the windows it was told of itself (rate_limits.py). Containers share one
workspace's limit, though, and Retry-After differs per answer: a container whose own 1 s window has
ended may still be inside a 2 s window a sibling was given a moment later. Publishing each window here
and reading it before the next call closes that gap. Both are best effort: a failed write or read
costs the coordination, never the message.
"""

from __future__ import annotations

import math
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from consumers.runtime.aws_errors import aws_code, condition_failed
from consumers.runtime.ledger_items import LedgerItems, expiry, number
from fanout.registry import LEDGER_TTL_ATTRIBUTE

UNTIL = "until"


class SharedHorizons(LedgerItems):
    """Errors are reported to `on_error` as ("publish" | "read", the error)."""

    PREFIX = "ratelimit#"

    def publish(self, key: str, until: float) -> None:
        """Record that `key` is limited until `until`; a later horizon already stored is kept."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=self._key(key),
                UpdateExpression="SET #u = :u, #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#u) OR #u < :u",
                ExpressionAttributeNames={"#u": UNTIL, "#ttl": LEDGER_TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":u": {"N": _num(until)},
                    ":ttl": expiry(until),
                },
            )
        except ClientError as exc:
            if not condition_failed(exc):
                self._on_error("publish", aws_code(exc))
        except BotoCoreError as exc:
            self._on_error("publish", aws_code(exc))

    def check_item(self, key: str, now: float) -> dict[str, Any]:
        """A transaction's ConditionCheck that no window on `key` is open at `now`; failing, it sends
        the item back (ALL_OLD), whose `until` is the window's end."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": self._key(key),
                "ConditionExpression": "attribute_not_exists(#u) OR #u <= :now",
                "ExpressionAttributeNames": {"#u": UNTIL},
                "ExpressionAttributeValues": {":now": {"N": _num(now)}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def read(self, key: str) -> float | None:
        """The horizon stored for `key` (possibly in the past), or None when none is known."""
        try:
            reply = self._db.get_item(
                TableName=self._table,
                Key=self._key(key),
                ConsistentRead=True,  # a window published a moment ago must be seen
                ProjectionExpression="#u",
                ExpressionAttributeNames={"#u": UNTIL},
            )
        except (ClientError, BotoCoreError) as exc:
            self._on_error("read", aws_code(exc))
            return None
        return number(reply.get("Item", {}).get(UNTIL))


def _num(value: float) -> str:
    # Down to the millisecond: rounding up could stretch a sibling's wait by a whole second.
    return f"{math.floor(value * 1000) / 1000:.3f}"
