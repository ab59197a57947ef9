"""Dead-lettered messages as the CLI sees them, and the receive / give-back primitives on a FIFO queue.

FIFO rule behind every loop here: while any message of a group is in flight, SQS returns no other message
of that group. Peeking and filtering therefore hold what they received (invisible) until the pass ends
and give all of it back at once with ChangeMessageVisibility 0; a message whose visibility could not be
given back simply reappears when its visibility timeout ends. Nothing here deletes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from consumers.runtime import dlq_attributes as attr
from fanout.events import MalformedMessage, TaskEvent
from fanout.ops.lanes import PARKED_ATTRIBUTE, Lane, Parked, lane_of, parse_parked

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any

REDRIVEN_ATTRIBUTE = attr.REDRIVEN  # how many times a client redrive moved this message back
MAX_MESSAGE_ATTRIBUTES = 10  # SQS's limit per message
BATCH = 10  # SQS's limit per receive and per batch call


@dataclass(frozen=True)
class DeadLetter:
    """One received DLQ message with the diagnosis its consumer attached."""

    message_id: str
    receipt_handle: str
    body: str
    group_id: str | None
    sent_at: datetime | None  # when it entered the DLQ (SQS's SentTimestamp)
    message_attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    reason: str | None = None
    last_error: str | None = None
    attempts: int | None = None
    first_received: datetime | None = None
    task_id: str | None = None
    event_type: str | None = None
    event_id: str | None = None
    redriven: int = 0
    parked: Parked | None = None  # set on a copy a filtered redrive parked (fanout/ops/lanes.py)
    readable: bool = True  # the body parses as a task event

    @property
    def lane(self) -> Lane:
        return lane_of(self.group_id, self.parked)

    @property
    def origin(self) -> str:
        """The id of the message as first dead-lettered: the same for every parked copy of it."""
        return self.parked.origin if self.parked is not None else self.message_id

    @property
    def malformed(self) -> bool:
        """Dead-lettered as `malformed`, or a body no consumer can read: a redrive cannot help it."""
        return (self.reason or "").strip().lower() == attr.REASON_MALFORMED or not self.readable

    def age(self, now: datetime) -> timedelta | None:
        """Time since the message was dead-lettered."""
        return None if self.sent_at is None else max(now - self.sent_at, timedelta(0))

    def as_json(self, now: datetime) -> dict[str, Any]:
        age = self.age(now)
        return {
            "message_id": self.message_id,
            "task_id": self.task_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "reason": self.reason,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "group_id": self.group_id,
            "dead_lettered_at": _iso(self.sent_at),
            "first_received": _iso(self.first_received),
            "age_s": None if age is None else round(age.total_seconds(), 1),
            "redriven": self.redriven,
        }


def parse_dead_letter(message: Mapping[str, Any]) -> DeadLetter:
    """A ReceiveMessage entry to a DeadLetter; absent or malformed parts become None, never an error."""
    system = message.get("Attributes") or {}
    attributes: Mapping[str, Mapping[str, Any]] = message.get("MessageAttributes") or {}
    body = str(message.get("Body", ""))
    event: TaskEvent | None
    try:
        event = TaskEvent.from_body(body)
    except MalformedMessage:
        event = None
    group_id = system.get("MessageGroupId")
    parked = parse_parked(attributes)
    sent_ms = (
        parked.sent_ms if parked is not None and parked.sent_ms is not None else system.get("SentTimestamp")
    )
    return DeadLetter(
        message_id=str(message["MessageId"]),
        receipt_handle=str(message["ReceiptHandle"]),
        body=body,
        group_id=group_id,
        sent_at=_from_millis(sent_ms),
        message_attributes=attributes,
        reason=_text(attributes, attr.REASON),
        last_error=_text(attributes, attr.LAST_ERROR),
        attempts=_int(_text(attributes, attr.ATTEMPTS)),
        first_received=_from_iso(_text(attributes, attr.FIRST_RECEIVED)),
        task_id=_text(attributes, attr.TASK_ID)
        or (event.task_id if event else None)
        or lane_of(group_id, parked).group,
        event_type=_text(attributes, attr.EVENT_TYPE) or (event.event_type if event else None),
        event_id=event.event_id if event else None,
        redriven=_int(_text(attributes, REDRIVEN_ATTRIBUTE)) or 0,
        parked=parked,
        readable=event is not None,
    )


def receive(sqs: SQSClient, queue_url: str, *, visibility_timeout: int, wait_s: int) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=BATCH,  # always ten: a smaller batch would leave the rest of a group locked
        VisibilityTimeout=visibility_timeout,
        WaitTimeSeconds=wait_s,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return [dict(m) for m in response.get("Messages", [])]


def give_back(sqs: SQSClient, queue_url: str, receipt_handles: Iterable[str]) -> int:
    """Make held messages visible again at once; returns how many could not be (they reappear later)."""
    return set_visibility(sqs, queue_url, receipt_handles, 0)


def set_visibility(sqs: SQSClient, queue_url: str, receipt_handles: Iterable[str], seconds: int) -> int:
    """Give held messages `seconds` more of invisibility (0: visible now); returns how many failed."""
    handles = list(dict.fromkeys(receipt_handles))
    failed = 0
    for start in range(0, len(handles), BATCH):
        chunk = handles[start : start + BATCH]
        entries = [
            {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
            for i, handle in enumerate(chunk)
        ]
        try:
            response = sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)  # type: ignore[arg-type]
        except (ClientError, BotoCoreError):
            failed += len(chunk)  # they come back on their own when their visibility timeout ends
            continue
        failed += len(response.get("Failed", []))
    return failed


@dataclass(frozen=True)
class QueueCounts:
    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def queue_counts(sqs: SQSClient, queue_url: str) -> QueueCounts:
    values = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    ).get("Attributes", {})
    return QueueCounts(
        visible=int(values.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(values.get("ApproximateNumberOfMessagesNotVisible", 0)),
        delayed=int(values.get("ApproximateNumberOfMessagesDelayed", 0)),
    )


def empty_dlq_message(dlq_url: str, counts: QueueCounts) -> str:
    name = queue_name_of(dlq_url)
    if counts.in_flight:
        return (
            f"no visible messages in {name}: {counts.in_flight} in flight "
            "(another peek or redrive holds them; try again in a minute)"
        )
    return f"{name} is empty: nothing is dead-lettered"


def queue_name_of(queue_url: str) -> str:
    return queue_url.rstrip("/").rsplit("/", 1)[-1]


def redrive_attributes(letter: DeadLetter) -> dict[str, dict[str, Any]]:
    """The message's attributes to send back with, plus the redrive count (when SQS's limit leaves room)."""
    copied = copied_attributes(letter)
    if REDRIVEN_ATTRIBUTE in copied or len(copied) < MAX_MESSAGE_ATTRIBUTES:
        copied[REDRIVEN_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(letter.redriven + 1)}
    return copied


def park_attributes(letter: DeadLetter, lane: int) -> dict[str, dict[str, Any]]:
    """The message's attributes plus its park record in `lane` (origin and first dead-lettering kept)."""
    copied = copied_attributes(letter)
    sent = None if letter.sent_at is None else int(letter.sent_at.timestamp() * 1000)
    record = Parked(group=letter.lane.group, lane=lane, origin=letter.origin, sent_ms=sent)
    copied[PARKED_ATTRIBUTE] = {"DataType": "String", "StringValue": record.encode()}
    return copied


def copied_attributes(letter: DeadLetter) -> dict[str, dict[str, Any]]:
    """The message's attributes as SendMessage takes them, without a park record."""
    copied: dict[str, dict[str, Any]] = {}
    for name, value in letter.message_attributes.items():
        if name == PARKED_ATTRIBUTE:
            continue
        kept = {k: value[k] for k in ("DataType", "StringValue", "BinaryValue") if k in value}
        if "DataType" in kept and len(kept) > 1:
            copied[name] = kept
    return copied


def oldest_sent(messages: Sequence[Mapping[str, Any]]) -> datetime | None:
    stamps = [_from_millis((m.get("Attributes") or {}).get("SentTimestamp")) for m in messages]
    known = [s for s in stamps if s is not None]
    return min(known) if known else None


def _text(attributes: Mapping[str, Mapping[str, Any]], name: str) -> str | None:
    value = attributes.get(name, {}).get("StringValue")
    return str(value) if value not in (None, "") else None


def _int(text: str | None) -> int | None:
    try:
        return None if text is None else int(float(text))
    except ValueError:
        return None


def _from_millis(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError):
        return None


def _from_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")
