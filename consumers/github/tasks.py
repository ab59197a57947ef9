"""The task table, as the GitHub channel uses it: one consistent read, and the `github_comment_id` write.

The write is conditional: the task still exists (a TTL-evicted task is never resurrected) and the slot is
empty or still holds the id being replaced. `:replaced` is the new id itself on a first write, so storing
the same id twice succeeds and a lost race is told apart from a repeat of our own write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from consumers.runtime.aws_errors import condition_failed
from fanout.dynamo import from_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

COMMENT_ID = "github_comment_id"
PERSIST_CONDITION = (
    "attribute_exists(task_id) AND (attribute_not_exists(github_comment_id) OR github_comment_id = :replaced)"
)


@dataclass(frozen=True)
class Saved:
    """This attempt stored the status comment's id on the task."""

    comment_id: int


@dataclass(frozen=True)
class Taken:
    """Another attempt stored a different comment id first."""

    comment_id: int


@dataclass(frozen=True)
class TaskGone:
    """The task no longer exists: nothing to store the comment id on."""


SaveResult = Saved | Taken | TaskGone


class TaskStore:
    """Reads and the one write. DynamoDB errors other than a failed condition propagate to the caller."""

    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def read(self, task_id: str) -> dict[str, Any] | None:
        answer = self._dynamodb.get_item(
            TableName=self._table, Key={"task_id": {"S": task_id}}, ConsistentRead=True
        )
        item = answer.get("Item")
        return from_item(item) if item else None

    def save_comment_id(self, task_id: str, comment_id: int, *, replaced: int | None) -> SaveResult:
        for _ in range(2):
            try:
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key={"task_id": {"S": task_id}},
                    UpdateExpression="SET github_comment_id = :id",
                    ConditionExpression=PERSIST_CONDITION,
                    ExpressionAttributeValues={
                        ":id": {"N": str(comment_id)},
                        ":replaced": {"N": str(comment_id if replaced is None else replaced)},
                    },
                )
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
            else:
                return Saved(comment_id)
            task = self.read(task_id)
            if task is None:
                return TaskGone()
            current = stored_comment_id(task)
            if current == comment_id:
                return Saved(comment_id)
            if current is not None:
                return Taken(current)
            # The slot was emptied between the write and the read (nothing the fan-out does): try again.
        raise PersistRace(f"github_comment_id of task {task_id} keeps changing")


class PersistRace(RuntimeError):
    """The conditional write kept failing without a stored id to adopt."""


def stored_comment_id(task: Mapping[str, Any]) -> int | None:
    value = task.get(COMMENT_ID)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value
