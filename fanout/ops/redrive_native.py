"""`fanout dlq redrive --engine native`: SQS's own message move task from the channel DLQ to its queue.

StartMessageMoveTask, then ListMessageMoveTasks until the task is COMPLETED, FAILED or CANCELLED;
CancelMessageMoveTask stops a running one. SQS moves every message (no filters) and keeps its attributes.
moto does not implement these calls, so the tests drive this module through botocore's Stubber.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanout.ops.errors import OpsError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any

FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
MAX_RATE = 500  # SQS's ceiling for MaxNumberOfMessagesPerSecond
POLL_S = 2.0
CLOCK_SKEW_MS = 60_000
MAX_UNMATCHED_POLLS = 30  # a minute at the default poll interval


@dataclass(frozen=True)
class MoveTask:
    status: str  # RUNNING | COMPLETED | CANCELLING | CANCELLED | FAILED
    moved: int
    to_move: int | None
    task_handle: str | None = None  # only while RUNNING
    failure_reason: str | None = None
    started_ms: int | None = None  # StartedTimestamp, epoch milliseconds

    def is_ours(self, handle: str, started_after_ms: int) -> bool:
        """The task we started: its handle while it runs; once finished (no handle listed), one started
        no earlier than our start, less a minute of clock skew."""
        if self.task_handle is not None:
            return self.task_handle == handle
        return self.started_ms is not None and self.started_ms >= started_after_ms - CLOCK_SKEW_MS

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


ProgressFn = Callable[[MoveTask], None]


def start_move_task(sqs: SQSClient, *, dlq_arn: str, queue_arn: str, rate: int | None = None) -> str:
    """Start moving everything in the DLQ to the queue; returns the task handle."""
    if rate is not None and not 1 <= rate <= MAX_RATE:
        raise OpsError(f"--rate must be 1..{MAX_RATE} messages per second")
    params: dict[str, Any] = {"SourceArn": dlq_arn, "DestinationArn": queue_arn}
    if rate is not None:
        params["MaxNumberOfMessagesPerSecond"] = rate
    try:
        return sqs.start_message_move_task(**params)["TaskHandle"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") in {"500", "InternalFailure", "InternalError"}:
            raise  # a server fault, not a refusal: the caller decides what it means at this endpoint
        raise OpsError(
            f"SQS refused the move task from {dlq_arn}: {error.get('Code')}: {error.get('Message')}"
        ) from None


def latest_move_task(sqs: SQSClient, dlq_arn: str) -> MoveTask | None:
    """The most recent move task of this DLQ (SQS lists the newest first), or None."""
    results = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1).get("Results", [])
    if not results:
        return None
    task = results[0]
    return MoveTask(
        status=str(task.get("Status", "?")),
        moved=int(task.get("ApproximateNumberOfMessagesMoved", 0)),
        to_move=task.get("ApproximateNumberOfMessagesToMove"),
        task_handle=task.get("TaskHandle"),
        failure_reason=task.get("FailureReason"),
        started_ms=task.get("StartedTimestamp"),
    )


def watch_move_task(
    sqs: SQSClient,
    dlq_arn: str,
    *,
    on_progress: ProgressFn | None = None,
    sleep: Callable[[float], None] = time.sleep,
    poll_s: float = POLL_S,
    ours: tuple[str, int] | None = None,
) -> MoveTask:
    """Poll until the DLQ's latest move task has finished; returns its final state. With `ours` (the
    handle and start time, epoch ms, of the task we started), another task listed first (an older one,
    or another operator's) is waited out rather than reported as ours."""
    unmatched = 0
    while True:
        task = latest_move_task(sqs, dlq_arn)
        if task is None:
            raise OpsError(f"no message move task found for {dlq_arn}")
        if ours is not None and not task.is_ours(*ours):
            unmatched += 1
            if unmatched > MAX_UNMATCHED_POLLS:
                raise OpsError(f"the move task started on {dlq_arn} is not listed; see the SQS console")
            sleep(poll_s)
            continue
        if on_progress is not None:
            on_progress(task)
        if task.finished:
            return task
        sleep(poll_s)


def redrive_native(
    sqs: SQSClient,
    *,
    dlq_arn: str,
    queue_arn: str,
    rate: int | None = None,
    on_progress: ProgressFn | None = None,
    sleep: Callable[[float], None] = time.sleep,
    poll_s: float = POLL_S,
    clock: Callable[[], float] = time.time,
) -> MoveTask:
    started_ms = int(clock() * 1000)
    handle = start_move_task(sqs, dlq_arn=dlq_arn, queue_arn=queue_arn, rate=rate)
    return watch_move_task(
        sqs, dlq_arn, on_progress=on_progress, sleep=sleep, poll_s=poll_s, ours=(handle, started_ms)
    )


def cancel_move_task(sqs: SQSClient, dlq_arn: str) -> int:
    """Cancel the DLQ's running move task; returns how many messages it had moved."""
    task = latest_move_task(sqs, dlq_arn)
    if task is None or task.status != "RUNNING" or not task.task_handle:
        state = "none" if task is None else task.status
        raise OpsError(f"no running message move task on {dlq_arn} (latest: {state})")
    response = sqs.cancel_message_move_task(TaskHandle=task.task_handle)
    return int(response.get("ApproximateNumberOfMessagesMoved", task.moved))
