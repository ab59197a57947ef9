"""Put a message on the channel's DLQ with the attributes `fanout dlq` reads back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from consumers.runtime import dlq_attributes as attrs
from consumers.runtime.queue_message import QueueMessage
from consumers.runtime.redact import safe_error
from fanout.registry import SQS_MAX_MESSAGE_BYTES

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef
else:
    SQSClient = MessageAttributeValueTypeDef = Any

LAST_ERROR_LIMIT = 1000
FALLBACK_GROUP = "unknown"


class DeadLetterFailed(RuntimeError):
    """The DLQ did not accept the message; it must stay on the queue for a retry."""


@dataclass(frozen=True)
class DeadLetter:
    """Why and with what history a message goes to the DLQ."""

    reason: str  # retry_budget_exhausted | terminal:<code> | malformed
    last_error: str
    attempts: int
    first_received_at: float
    channel: str
    task_id: str | None = None
    event_type: str | None = None
    redriven: int = 0  # times `fanout dlq redrive` moved the message back (carried over)


def message_attributes(letter: DeadLetter) -> dict[str, MessageAttributeValueTypeDef]:
    """SQS message attributes for a dead letter (SQS rejects empty values, so absent ones are left out)."""
    first = datetime.fromtimestamp(letter.first_received_at, tz=UTC)
    values: dict[str, tuple[str, str | None]] = {
        attrs.REASON: ("String", letter.reason),
        attrs.LAST_ERROR: ("String", safe_error(letter.last_error, LAST_ERROR_LIMIT)),
        attrs.ATTEMPTS: ("Number", str(letter.attempts)),
        attrs.FIRST_RECEIVED: ("String", first.isoformat(timespec="seconds").replace("+00:00", "Z")),
        attrs.CHANNEL: ("String", letter.channel),
        attrs.TASK_ID: ("String", letter.task_id),
        attrs.EVENT_TYPE: ("String", letter.event_type),
        attrs.REDRIVEN: ("Number", str(letter.redriven) if letter.redriven else None),
    }
    return {name: {"DataType": kind, "StringValue": value} for name, (kind, value) in values.items() if value}


def message_size(body: str, attributes: dict[str, MessageAttributeValueTypeDef]) -> int:
    """What SQS counts against MaximumMessageSize: the body plus each attribute's name, type and value."""
    size = len(body.encode())
    for name, value in attributes.items():
        size += len(name.encode()) + len(value["DataType"].encode()) + len(value["StringValue"].encode())
    return size


def fitted(
    body: str, attributes: dict[str, MessageAttributeValueTypeDef], limit: int
) -> dict[str, MessageAttributeValueTypeDef]:
    """The attributes, shortened until the dead letter fits `limit`: `last_error` is cut first, then only
    the reason is kept (the source queue took the body with its own attributes, so the body fits)."""
    if message_size(body, attributes) <= limit:
        return attributes
    trimmed = dict(attributes)
    error = trimmed.pop(attrs.LAST_ERROR, None)
    if error is not None:
        room = limit - message_size(body, trimmed) - len(attrs.LAST_ERROR) - len("String") - 1
        text = error["StringValue"].encode()[: max(room, 0)].decode(errors="ignore")
        if text:
            trimmed[attrs.LAST_ERROR] = {"DataType": "String", "StringValue": text}
    if message_size(body, trimmed) <= limit:
        return trimmed
    return {name: value for name, value in attributes.items() if name == attrs.REASON}


class DeadLetterQueue:
    def __init__(self, sqs: SQSClient, dlq_url: str, *, max_bytes: int = SQS_MAX_MESSAGE_BYTES) -> None:
        self._sqs = sqs
        self._url = dlq_url
        self._max_bytes = max_bytes  # the DLQ's MaximumMessageSize, set explicitly by the stack

    def send(self, message: QueueMessage, letter: DeadLetter) -> str:
        """Send the original body; returns the DLQ's message id. Raises DeadLetterFailed.

        The deduplication id is fresh: a deterministic one could make SQS drop a second dead-lettering of
        the same message within its 5-minute window, and the message would then be lost when we delete it.
        """
        body = message.body or "(empty body)"
        try:
            response = self._sqs.send_message(
                QueueUrl=self._url,
                MessageBody=body,
                MessageGroupId=message.group_id or letter.task_id or FALLBACK_GROUP,
                MessageDeduplicationId=f"{message.message_id[:60]}-{uuid.uuid4().hex}",
                MessageAttributes=fitted(body, message_attributes(letter), self._max_bytes),
            )
        except (ClientError, BotoCoreError) as exc:
            raise DeadLetterFailed(f"{type(exc).__name__}: {exc}") from exc
        return response.get("MessageId", "")
