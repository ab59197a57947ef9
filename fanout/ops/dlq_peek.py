"""`fanout dlq peek`: read dead-lettered messages without consuming them.

Everything received is held until the pass ends (so the next receive reaches other FIFO groups) and then
given back at once. A FIFO group is seen as far as one receive reaches into it (up to ten messages): its
later messages stay locked behind the held ones until they are given back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fanout.ops import messages
from fanout.ops.messages import DeadLetter, QueueCounts

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any

PEEK_VISIBILITY_S = 30  # a safety net only: visibility is given back as soon as the pass ends


@dataclass(frozen=True)
class PeekResult:
    letters: list[DeadLetter]
    counts: QueueCounts  # the DLQ's counts before the pass


def peek(
    sqs: SQSClient,
    dlq_url: str,
    *,
    limit: int = 10,
    wait_s: int = 1,
    visibility_timeout: int = PEEK_VISIBILITY_S,
) -> PeekResult:
    """Up to `limit` dead-lettered messages, oldest groups first (none: an empty list, not an error)."""
    counts = messages.queue_counts(sqs, dlq_url)
    letters: list[DeadLetter] = []
    held: list[str] = []
    seen: set[str] = set()
    try:
        while len(letters) < limit:
            batch = messages.receive(sqs, dlq_url, visibility_timeout=visibility_timeout, wait_s=wait_s)
            held += [m["ReceiptHandle"] for m in batch]
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message["MessageId"])
                if len(letters) < limit:
                    letters.append(messages.parse_dead_letter(message))
    finally:
        messages.give_back(sqs, dlq_url, held)
    return PeekResult(letters=letters, counts=counts)
