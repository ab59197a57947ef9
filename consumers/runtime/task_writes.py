"""A channel's bookkeeping write on the task table, handed to the runtime as data.

A channel does not make the write that goes with a delivery itself: it describes it (`TaskWrite`) and
the runtime applies it in the same DynamoDB transaction as the ledger's own write, so the two cannot
part (ledger.py). Two moments:
- `Prepared.claim_with`: a write that must hold before the provider is called (a once-only slot that
  two events could race for). Applied with the ledger claim; its condition failing ends the message
  with `lost()` and nothing sent.
- `Delivered.record`: the write that records what the call made (a message's ts). Applied with the
  ledger completion; its condition failing means another attempt recorded first, and `lost()` says
  what that makes of this delivery (the channel deletes its duplicate, say).

Every condition accepts the write's own value again, so a transaction repeated after its answer was
lost (the SDK's retry) commits again instead of looking like a lost race. No ReturnValues of any kind:
the task table's grant allows none (the old item would carry attributes outside the channel's list).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from consumers.runtime.aws_errors import condition_failed

if TYPE_CHECKING:
    from consumers.runtime.outcomes import Outcome


@dataclass(frozen=True)
class TaskWrite:
    """One conditional update of a task table item, committed inside the ledger's transaction."""

    table: str
    key: Mapping[str, Any]  # typed attribute values, e.g. {"task_id": {"S": "..."}}
    update: str
    condition: str
    names: Mapping[str, str]
    values: Mapping[str, Any]
    lost: Callable[[], Outcome] = field(compare=False, repr=False)

    def request(self) -> dict[str, Any]:
        """The UpdateItem parameters, as a transaction item's `Update` or a call of its own."""
        return {
            "TableName": self.table,
            "Key": dict(self.key),
            "UpdateExpression": self.update,
            "ConditionExpression": self.condition,
            "ExpressionAttributeNames": dict(self.names),
            "ExpressionAttributeValues": dict(self.values),
        }


def apply_alone(dynamodb: Any, write: TaskWrite) -> bool:
    """The write as one UpdateItem (the earlier design's way, and a channel test's): False when its
    condition fails; any other error propagates."""
    try:
        dynamodb.update_item(**write.request())
    except ClientError as exc:
        if condition_failed(exc):
            return False
        raise
    return True
