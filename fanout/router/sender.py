"""SendMessageBatch with bounded retries of just the entries that failed, keeping each task in order."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from fanout.router.plan import OutboundMessage, body_bytes

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any

MAX_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024
MAX_ROUNDS = 3  # the first try plus two retries of the failed entries
# Between rounds: full jitter on an exponential ceiling (a throttled queue needs a moment, and a dozen
# routers retrying in lockstep would throttle it again), never into the time the invocation still needs.
BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 2.0
# What a retry round must leave of the invocation: one SendMessageBatch at the client's timeouts.
ROUND_RESERVE_S = 8.0


@dataclass(frozen=True)
class RetryPacing:
    """How the sender waits between rounds; `time_left_s` is the invocation's remaining time (None: no
    limit). Injected so tests neither sleep nor depend on the clock."""

    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random
    time_left_s: Callable[[], float | None] = lambda: None
    base_s: float = BACKOFF_BASE_S
    cap_s: float = BACKOFF_CAP_S
    reserve_s: float = ROUND_RESERVE_S

    def before_round(self, round_no: int) -> bool:
        """Wait before retry round `round_no` (1-based); False when the invocation has no time for it:
        the entries then fail, and the stream replays the records later."""
        delay = self.random() * min(self.cap_s, self.base_s * 2.0 ** (round_no - 1))
        left = self.time_left_s()
        if left is not None and left - delay < self.reserve_s:
            return False
        self.sleep(delay)
        return True


@dataclass
class SendResult:
    failed_records: set[int] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)  # "<code>: <message>" of entries that finally failed
    calls: int = 0
    sent: int = 0


def send_all(
    sqs: SQSClient, queue_url: str, messages: Sequence[OutboundMessage], pacing: RetryPacing | None = None
) -> SendResult:
    """Send one channel's messages, each task's in stream order.

    When a message finally fails, every later message of the same task (group) is held back and its
    record reported failed too: the stream replays from the failed record and FIFO deduplication absorbs
    what was already sent, so the task's order on the queue is kept.
    """
    result = SendResult()
    failed_groups: set[str] = set()
    pending = list(messages)
    while pending:
        chunk = _next_chunk(pending, failed_groups, result)
        if chunk:
            _send_chunk(sqs, queue_url, chunk, result, failed_groups, pacing or RetryPacing())
    return result


def _next_chunk(
    pending: list[OutboundMessage], failed_groups: set[str], result: SendResult
) -> list[OutboundMessage]:
    """The earliest pending message of up to ten different groups.

    One message per group per call: if a call fails one entry and accepts the next entry of the same
    task, retrying the first would put them on the queue out of order.
    """
    chunk: list[OutboundMessage] = []
    groups: set[str] = set()
    size = 0
    index = 0
    while index < len(pending) and len(chunk) < MAX_ENTRIES:
        message = pending[index]
        if message.group_id in failed_groups:
            pending.pop(index)
            result.failed_records.add(message.record_index)
            continue
        message_size = body_bytes(message.body)
        if message.group_id in groups or (chunk and size + message_size > MAX_BATCH_BYTES):
            groups.add(message.group_id)  # keeps this group's later messages behind this one
            index += 1
            continue
        chunk.append(pending.pop(index))
        groups.add(message.group_id)
        size += message_size
    return chunk


def _send_chunk(
    sqs: SQSClient,
    queue_url: str,
    chunk: list[OutboundMessage],
    result: SendResult,
    failed_groups: set[str],
    pacing: RetryPacing,
) -> None:
    remaining = dict(enumerate(chunk))
    last_error: dict[int, str] = {}
    for round_no in range(MAX_ROUNDS):
        if not remaining:
            return
        if round_no and not pacing.before_round(round_no):
            for key in remaining:
                last_error[key] = f"{last_error.get(key, 'not sent')}; no time left to retry"
            break
        result.calls += 1
        try:
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=list(_entries(remaining)))
        except (ClientError, BotoCoreError) as exc:
            last_error = {key: f"call_failed: {exc}" for key in remaining}
            continue
        for ok in response.get("Successful", []):
            remaining.pop(int(ok["Id"]), None)
            result.sent += 1
        # An entry the response lists neither as successful nor as failed was not sent: retry it.
        retryable: dict[int, OutboundMessage] = dict(remaining)
        for failed in response.get("Failed", []):
            key = int(failed["Id"])
            last_error[key] = f"{failed.get('Code', '?')}: {failed.get('Message', '')}"
            if failed.get("SenderFault"):
                # Our request was wrong (size, characters): retrying cannot help; fail the record now.
                retryable.pop(key, None)
                message = remaining.pop(key, None)
                if message is not None:
                    _give_up(message, last_error[key], result, failed_groups)
        for key in retryable:
            last_error.setdefault(key, "not in the SendMessageBatch response")
        remaining = retryable
    for key, message in remaining.items():
        _give_up(message, last_error.get(key, "unknown"), result, failed_groups)


def _entries(remaining: dict[int, OutboundMessage]) -> Iterator[Any]:
    for key, message in remaining.items():
        yield {
            "Id": str(key),
            "MessageBody": message.body,
            "MessageGroupId": message.group_id,
            "MessageDeduplicationId": message.dedup_id,
        }


def _give_up(message: OutboundMessage, error: str, result: SendResult, failed_groups: set[str]) -> None:
    result.failed_records.add(message.record_index)
    # The ids say which task and event: the group id is the task id, the dedup id the event id.
    result.failures.append(f"{error} [task {message.group_id}, event {message.dedup_id}]")
    failed_groups.add(message.group_id)
