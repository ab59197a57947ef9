"""A channel consumer's event source: poll its FIFO queue, invoke, honour partial batch responses.

One worker thread per unit of maximum concurrency; each worker owns one handler instance, i.e. one
Lambda container with its own memory (rate limits, caches, HTTP connections). Succeeded messages are
deleted; failed ones are left to their visibility timeout, exactly as Lambda leaves them.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fanout.local.emulator.context import LambdaContext
from fanout.local.emulator.fifo_guard import FifoOrderGuard
from fanout.local.emulator.wakeups import VisibilityWakeups
from fanout.local.endpoint import REGION

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
IDLE_POLL_S = (0.05, 0.1, 0.2, 0.4)
DELETE_CHUNK = 10


@dataclass
class PollerStats:
    invocations: int = 0
    records: int = 0
    failures: int = 0  # records reported failed (left to their visibility timeout)
    deleted: int = 0
    in_flight: int = 0  # invocations running now
    max_in_flight: int = 0
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def started(self, records: int) -> None:
        with self._lock:
            self.invocations += 1
            self.records += records
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def finished(self, failures: int, deleted: int, error: str | None = None) -> None:
        with self._lock:
            self.in_flight -= 1
            self.failures += failures
            self.deleted += deleted
            if error:
                self.errors.append(error)


@dataclass(frozen=True)
class QueueSource:
    channel: str
    queue_url: str
    queue_arn: str
    batch_size: int
    timeout_s: float
    function_name: str
    # The deployed mapping's settings (fanout/local/deployed.py).
    report_item_failures: bool = True  # without it Lambda ignores the response: no error, all deleted
    batching_window_s: float = 0.0  # gather up to this long for a full batch
    mapping_uuid: str = ""


class ChannelPoller:
    """`len(handlers)` workers (the channel's maximum concurrency) polling one queue."""

    def __init__(
        self,
        source: QueueSource,
        handlers: Sequence[Handler],
        sqs_clients: Sequence[Any],
        wakeups: VisibilityWakeups | None = None,
    ) -> None:
        if len(handlers) != len(sqs_clients):
            raise ValueError("one SQS client per worker")
        self.source = source
        self._wakeups = wakeups
        self._handlers = list(handlers)
        self._sqs = list(sqs_clients)
        self.stats = PollerStats()
        self.guard = FifoOrderGuard()
        self._threads: list[threading.Thread] = []
        self.paused = False  # the deployed mapping is disabled (`fanout channel pause`)

    def start(self, stop: threading.Event) -> None:
        for index, (handler, sqs) in enumerate(zip(self._handlers, self._sqs, strict=True)):
            thread = threading.Thread(
                target=self._work,
                args=(handler, sqs, stop),
                name=f"{self.source.channel}-container-{index}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self, handler: Handler, sqs: Any, stop: threading.Event) -> None:
        idle = 0
        while not stop.is_set():
            if self.paused:
                stop.wait(IDLE_POLL_S[-1])
                continue
            messages = self._receive(sqs, self.source.batch_size)
            window_ends = time.monotonic() + self.source.batching_window_s
            while messages and len(messages) < self.source.batch_size and time.monotonic() < window_ends:
                stop.wait(min(IDLE_POLL_S[0], max(0.0, window_ends - time.monotonic())))
                messages += self._receive(sqs, self.source.batch_size - len(messages))
            if not messages:
                idle = self._idle_wait(stop, idle)
                continue
            idle = 0
            admitted, released = self.guard.admit(messages)
            if released:
                self._put_back(sqs, released)
            if admitted:
                self.invoke(handler, sqs, admitted)

    def _receive(self, sqs: Any, count: int) -> list[dict[str, Any]]:
        try:
            messages: list[dict[str, Any]] = sqs.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=count,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
        except Exception as exc:
            self.stats.errors.append(f"receive failed: {exc!r}")
            return []
        return messages

    def _idle_wait(self, stop: threading.Event, idle: int) -> int:
        """Wait before the next poll: the idle backoff, or less when a message becomes visible again
        sooner (then the backoff starts over). Returns the new idle count."""
        wait = IDLE_POLL_S[min(idle, len(IDLE_POLL_S) - 1)]
        sooner = self._wakeups.sooner_than(wait) if self._wakeups is not None else None
        if sooner is not None:
            stop.wait(sooner)
            return 0
        stop.wait(wait)
        return idle + 1

    def invoke(self, handler: Handler, sqs: Any, messages: list[dict[str, Any]]) -> set[str]:
        """One invocation; returns the message ids reported failed."""
        records = [lambda_record(m, self.source.queue_arn) for m in messages]
        self.stats.started(len(records))
        failed: set[str] = set()
        error: str | None = None
        deleted = 0
        try:
            context = LambdaContext(self.source.function_name, self.source.timeout_s)
            try:
                response = handler({"Records": records}, context)
                failed = _failed_ids(response, records) if self.source.report_item_failures else set()
            except Exception as exc:  # a crashed invocation: every message waits for its visibility
                error = f"handler raised {exc!r}"
                failed = {r["messageId"] for r in records}
            if context.elapsed_s > self.source.timeout_s:
                error = (
                    f"invocation took {context.elapsed_s:.1f}s, over the {self.source.timeout_s:g}s timeout"
                )
            deleted = self._delete_succeeded(sqs, messages, failed)
            self.guard.settle(messages, failed)
        finally:
            self.stats.finished(len(failed), deleted, error)
        return failed

    def _put_back(self, sqs: Any, messages: list[dict[str, Any]]) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages)
        ]
        for start in range(0, len(entries), DELETE_CHUNK):
            try:
                sqs.change_message_visibility_batch(
                    QueueUrl=self.source.queue_url, Entries=entries[start : start + DELETE_CHUNK]
                )
            except Exception as exc:
                self.stats.errors.append(f"put back failed: {exc!r}")

    def _delete_succeeded(self, sqs: Any, messages: list[dict[str, Any]], failed: set[str]) -> int:
        done = [m for m in messages if m["MessageId"] not in failed]
        deleted = 0
        for start in range(0, len(done), DELETE_CHUNK):
            chunk = done[start : start + DELETE_CHUNK]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            try:
                response = sqs.delete_message_batch(QueueUrl=self.source.queue_url, Entries=entries)
            except Exception as exc:
                self.stats.errors.append(f"delete failed: {exc!r}")
                continue
            deleted += len(response.get("Successful", []))
            for failure in response.get("Failed", []):
                self.stats.errors.append(f"delete failed: {failure}")
        return deleted


def _failed_ids(response: Any, records: list[dict[str, Any]]) -> set[str]:
    """Lambda: an itemIdentifier that is empty or names no message of the batch fails the whole batch."""
    ids = {r["messageId"] for r in records}
    failures = (response.get("batchItemFailures") or []) if isinstance(response, dict) else []
    named = {str(f.get("itemIdentifier") or "") for f in failures if isinstance(f, dict)}
    if len(named) < len(failures) or not named <= ids:
        return ids
    return named


def lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS ReceiveMessage entry in the shape Lambda gives a function."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": list(value.get("BinaryListValues", [])),
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return shaped
