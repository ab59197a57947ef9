"""`fanout dlq redrive --engine client`: move dead-lettered messages back to the channel queue ourselves,
with filters and a dry run.

Never loses a message: each one is sent to the queue (same body, group id and attributes, plus a
`redriven_from_dlq` count) and deleted from the DLQ only after the queue accepted it. A crash between the
two leaves it in both places; the consumer's once-only ledger absorbs that duplicate. Each move has its own
deduplication id, a UUID derived from the DLQ message id: never the original one (which SQS could still
be deduplicating against), and the same on a retry of the same move within SQS's five-minute window, so
a retry after a lost response does not even duplicate.

FIFO: messages that are not moved (no match, dry run, a failed send) are held invisible until the pass
ends, then given back at once. A held message locks its group, so its group's messages beyond the same
receive are not reached in this pass; `unexamined` counts what was left unreachable. After a failed send,
the rest of that group is held too, so a task's events are never moved out of order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from fanout.ops import messages
from fanout.ops.filters import RedriveFilter
from fanout.ops.messages import DeadLetter

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any

REDRIVE_VISIBILITY_S = 300  # how long a pass may hold a message before SQS shows it again
_DEDUP_NAMESPACE = uuid.UUID("4f1c2a8e-8a57-4d2b-9a7e-6f0d2b1c9e31")


@dataclass(frozen=True)
class RedriveProgress:
    examined: int
    matched: int
    moved: int
    total: int  # the DLQ's approximate depth when the pass started


@dataclass
class RedriveResult:
    dry_run: bool
    total: int = 0
    examined: int = 0
    matched: int = 0
    moved: int = 0
    matches: list[DeadLetter] = field(default_factory=list)  # matched: moved, would move, or failed
    failed: list[str] = field(default_factory=list)  # "<message id>: <error>": not moved, still in the DLQ
    delete_failed: list[str] = field(default_factory=list)  # moved but still in the DLQ: may move twice
    unexamined: int = (
        0  # left visible in the DLQ, not reached: the limit, or a FIFO group held behind a stayer
    )
    reached_limit: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.delete_failed

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "examined": self.examined,
            "matched": self.matched,
            "moved": self.moved,
            "failed": self.failed,
            "delete_failed": self.delete_failed,
            "unexamined": self.unexamined,
            "messages": [letter.as_json(now) for letter in self.matches],
        }


ProgressFn = Callable[[RedriveProgress], None]


def dedup_id(letter: DeadLetter) -> str:
    return str(uuid.uuid5(_DEDUP_NAMESPACE, letter.message_id))


def redrive_client(
    sqs: SQSClient,
    source_dlq_url: str,
    dest_queue_url: str,
    filters: RedriveFilter | None = None,
    *,
    dry_run: bool = False,
    on_progress: ProgressFn | None = None,
    limit: int | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    wait_s: int = 1,
    visibility_timeout: int = REDRIVE_VISIBILITY_S,
) -> RedriveResult:
    """Move the DLQ's matching messages (at most `limit`) to the queue; see the module doc for the rules."""
    chosen = filters or RedriveFilter()
    start = messages.queue_counts(sqs, source_dlq_url)
    result = RedriveResult(dry_run=dry_run, total=start.visible + start.delayed)
    held: dict[str, str] = {}  # message id -> receipt handle, given back when the pass ends
    seen: set[str] = set()
    undeleted: dict[str, DeadLetter] = {}  # sent, delete failed: retry the delete only, never resend
    blocked_groups: set[str] = set()
    past_limit = 0

    def report() -> None:
        if on_progress is not None:
            on_progress(RedriveProgress(result.examined, result.matched, result.moved, result.total))

    try:
        while limit is None or result.matched < limit:
            batch = messages.receive(
                sqs, source_dlq_url, visibility_timeout=visibility_timeout, wait_s=wait_s
            )
            fresh = 0
            for raw in batch:
                message_id, handle = str(raw["MessageId"]), str(raw["ReceiptHandle"])
                if message_id in undeleted:
                    _retry_delete(sqs, source_dlq_url, handle, undeleted, message_id, result)
                    continue
                if message_id in seen:
                    held[message_id] = handle  # its visibility ran out during the pass: hold it again
                    continue
                seen.add(message_id)
                fresh += 1
                if limit is not None and result.matched >= limit:
                    held[message_id] = handle  # received with the last batch, past the limit
                    past_limit += 1
                    continue
                letter = messages.parse_dead_letter(raw)
                result.examined += 1
                if letter.group_id in blocked_groups or not chosen.matches(letter, clock()):
                    held[message_id] = handle
                    continue
                result.matched += 1
                result.matches.append(letter)
                if dry_run or not _move(sqs, source_dlq_url, dest_queue_url, letter, result, undeleted):
                    held[message_id] = handle
                    if not dry_run and letter.group_id is not None:
                        blocked_groups.add(letter.group_id)
            report()
            if not fresh:
                break
        result.reached_limit = limit is not None and result.matched >= limit
        # Those held past the limit are invisible now, so the queue's count alone would miss them.
        result.unexamined = messages.queue_counts(sqs, source_dlq_url).visible + past_limit
    finally:
        messages.give_back(sqs, source_dlq_url, held.values())
    report()
    return result


def _move(
    sqs: SQSClient,
    dlq_url: str,
    queue_url: str,
    letter: DeadLetter,
    result: RedriveResult,
    undeleted: dict[str, DeadLetter],
) -> bool:
    """Send, then delete; False when the send failed (the message stays in the DLQ)."""
    if letter.group_id is None:
        result.failed.append(f"{letter.message_id}: no MessageGroupId (not a FIFO message)")
        return False
    try:
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=letter.body,
            MessageGroupId=letter.group_id,
            MessageDeduplicationId=dedup_id(letter),
            MessageAttributes=messages.redrive_attributes(letter),  # type: ignore[arg-type]
        )
    except (ClientError, BotoCoreError) as exc:
        result.failed.append(f"{letter.message_id}: send failed: {exc}")
        return False
    result.moved += 1
    try:
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=letter.receipt_handle)
    except (ClientError, BotoCoreError) as exc:
        # Already on the queue; left in the DLQ it reappears, and a later pass retries only the delete.
        undeleted[letter.message_id] = letter
        result.delete_failed.append(f"{letter.message_id}: moved, but the DLQ still holds it ({exc})")
    return True


def _retry_delete(
    sqs: SQSClient,
    dlq_url: str,
    handle: str,
    undeleted: dict[str, DeadLetter],
    message_id: str,
    result: RedriveResult,
) -> None:
    try:
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=handle)
    except (ClientError, BotoCoreError):
        return
    undeleted.pop(message_id)
    result.delete_failed = [d for d in result.delete_failed if not d.startswith(f"{message_id}:")]
