"""The task record: a consistent read, and the Slack bookkeeping writes inside `channel_metadata`.

The writes that go with a delivery (a message's ts, a once-only slot) are returned as data
(`TaskWrite`) for the runtime to apply with the ledger in one transaction. Every write is conditional on `attribute_exists(task_id)` (a TTL-evicted task is never resurrected) plus
the guard of its field. A write whose guard fails returns False; any other failure raises the SDK error
for the caller to turn into a Retry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from consumers.runtime.aws_errors import condition_failed
from consumers.runtime.outcomes import Outcome
from consumers.runtime.task_writes import TaskWrite, apply_alone
from fanout.dynamo import from_item, to_attribute

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

META = "channel_metadata"
THREAD_TS = "slack_thread_ts"
CREATED_TS = "slack_created_msg_ts"
SESSION_TS = "slack_session_msg_ts"
TERMINAL_SLOT = "slack_notified_terminal"
AGENT_ERROR_SLOT = "slack_dispatched_agent_error"
AwsError = (ClientError, BotoCoreError)


@dataclass(frozen=True)
class SlackTarget:
    """Where a task's messages go. `post_channel` is the user id for a DM task (when known);
    reactions, deletes and lookups always use the real `channel`."""

    team_id: str
    channel: str
    post_channel: str
    thread_ts: str | None
    # A `slack_thread_ts` that is there but no thread ts (blank, not a string): task_created replaces it.
    unusable_thread_ts: Any = None


def metadata(task: Mapping[str, Any]) -> Mapping[str, Any]:
    value = task.get(META)
    return value if isinstance(value, Mapping) else {}


def meta_text(task: Mapping[str, Any], name: str) -> str | None:
    value = metadata(task).get(name)
    return value.strip() or None if isinstance(value, str) else None


def target_of(task: Mapping[str, Any]) -> SlackTarget | None:
    team, channel = meta_text(task, "slack_team_id"), meta_text(task, "slack_channel_id")
    if team is None or channel is None:
        return None
    user = meta_text(task, "slack_user_id")
    post_channel = user if channel.startswith("D") and user else channel
    thread_ts = meta_text(task, THREAD_TS)
    unusable = metadata(task).get(THREAD_TS) if thread_ts is None else None
    return SlackTarget(team, channel, post_channel, thread_ts, unusable)


class TaskStore:
    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def read(self, task_id: str) -> dict[str, Any] | None:
        answer = self._db.get_item(TableName=self._table, Key=_key(task_id), ConsistentRead=True)
        item = answer.get("Item")
        return from_item(item) if item else None

    def ts_write(
        self,
        task_id: str,
        name: str,
        ts: str,
        *,
        as_thread_root: bool,
        lost: Callable[[], Outcome],
        replacing_root: Any = None,
    ) -> TaskWrite:
        """Set `name` = ts when it is absent; as the thread root also `slack_thread_ts` (when absent, or
        still the unusable value `replacing_root` that was read). Each accepts `ts` itself again, so a
        repeat of this write (a lost answer) is not a lost race."""
        sets = ["#m.#f = :ts"]
        condition = "attribute_exists(task_id) AND (attribute_not_exists(#m.#f) OR #m.#f = :ts)"
        names = {"#m": META, "#f": name}
        values: dict[str, Any] = {":ts": {"S": ts}}
        if as_thread_root:
            sets.append("#m.#t = :ts")
            names["#t"] = THREAD_TS
            if replacing_root is None:
                condition += " AND (attribute_not_exists(#m.#t) OR #m.#t = :ts)"
            else:
                condition += " AND (attribute_not_exists(#m.#t) OR #m.#t = :old OR #m.#t = :ts)"
                values[":old"] = to_attribute(replacing_root)
        return self._write(task_id, "SET " + ", ".join(sets), condition, names, values, lost)

    def slot_write(self, task_id: str, slot: str, event_id: str, lost: Callable[[], Outcome]) -> TaskWrite:
        """Own the once-only slot for this event: it must be free or already ours."""
        return self._write(
            task_id,
            "SET #m.#s = :e",
            "attribute_exists(task_id) AND (attribute_not_exists(#m.#s) OR #m.#s = :e)",
            {"#m": META, "#s": slot},
            {":e": {"S": event_id}},
            lost,
        )

    def apply(self, write: TaskWrite) -> bool:
        """A write on its own (the runtime did not carry it in a transaction); False: condition failed."""
        return apply_alone(self._db, write)

    def take_slot(self, task_id: str, slot: str, event_id: str) -> bool:
        """Own the once-only slot for this event: it must be free or already ours."""
        return self._update(
            task_id,
            "SET #m.#s = :e",
            "attribute_exists(task_id) AND (attribute_not_exists(#m.#s) OR #m.#s = :e)",
            {"#m": META, "#s": slot},
            {":e": {"S": event_id}},
        )

    def release_slot(self, task_id: str, slot: str, event_id: str) -> bool:
        """Free the slot this event holds (its post failed), never one another event holds."""
        return self._update(
            task_id,
            "REMOVE #m.#s",
            "attribute_exists(task_id) AND #m.#s = :e",
            {"#m": META, "#s": slot},
            {":e": {"S": event_id}},
        )

    def _write(
        self,
        task_id: str,
        expression: str,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        lost: Callable[[], Outcome],
    ) -> TaskWrite:
        return TaskWrite(self._table, _key(task_id), expression, condition, names, values, lost)

    def _update(
        self,
        task_id: str,
        expression: str,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> bool:
        try:
            self._db.update_item(
                TableName=self._table,
                Key=_key(task_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True


def _key(task_id: str) -> dict[str, Any]:
    return {"task_id": {"S": task_id}}
