"""The router's event source: poll the task-events stream, invoke the router, replay from failures.

Lambda's semantics for a DynamoDB stream with ReportBatchItemFailures: records before the lowest failed
sequence number are checkpointed; the batch is retried from the failed record; a handler error (or an
unusable itemIdentifier) retries the whole batch. With the deployed mapping's settings: a batch that
keeps failing is split in half (bisect), and once its retry attempts or its maximum record age are
exhausted, Lambda's on-failure record (the batch's shard and sequence numbers) goes to the on-failure
queue and the shard moves past it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fanout.local.emulator.context import LambdaContext
from fanout.local.endpoint import REGION

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
BATCH_SIZE = 100  # Lambda's default for a DynamoDB stream
IDLE_POLL_S = 0.1
REPLAY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)
SHARD_DISCOVERY_S = 2.0


@dataclass
class StreamStats:
    batches: int = 0
    records: int = 0
    replays: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    checkpoint: str | None = None  # the last sequence number handled
    failures_in_a_row: int = 0
    limit: int | None = None  # a bisected batch's size


@dataclass(frozen=True)
class OnFailure:
    """Where a given-up batch is described: an SQS queue, sent with the function's role (as Lambda does)."""

    sqs: Any
    queue_url: str
    function_arn: str


class StreamPoller:
    def __init__(
        self,
        streams: Any,
        stream_arn: str,
        handler: Handler,
        *,
        function_name: str = "fanout-local-router",
        timeout_s: float = 60.0,
        batch_size: int = BATCH_SIZE,
        mapping: Any = None,  # DeployedMapping: retries, age, bisect
        on_failure: OnFailure | None = None,
    ) -> None:
        self._streams = streams
        self._arn = stream_arn
        self._handler = handler
        self._function_name = function_name
        self._timeout_s = timeout_s
        self._batch_size = batch_size
        self._retry_attempts: int | None = getattr(mapping, "retry_attempts", None)
        self._max_age_s: int | None = getattr(mapping, "max_record_age_s", None)
        self._bisect = bool(getattr(mapping, "bisect", False))
        self._on_failure = on_failure
        self.given_up: list[dict[str, Any]] = []  # the on-failure records sent
        self._shards: dict[str, _Shard] = {}
        self.stats = StreamStats()
        self._idle_since: float | None = None  # start time of the latest poll that found nothing
        self._busy = threading.Lock()
        self._discovered_at = 0.0

    def prime(self) -> None:
        """Start at the current end of every shard: records written before this run are not replayed."""
        for shard_id in self._shard_ids():
            iterator = self._streams.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="LATEST"
            )["ShardIterator"]
            self._shards[shard_id] = _Shard(shard_id, iterator)

    def caught_up_since(self, moment: float) -> bool:
        """True when a poll that started after `moment` found nothing new and nothing awaits a replay."""
        idle_since = self._idle_since
        return idle_since is not None and idle_since > moment

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                handled = self.poll_once()
            except Exception as exc:  # the endpoint went away or misbehaved: keep polling, say so
                self.stats.errors.append(repr(exc))
                handled = 0
                self._idle_since = None
            if not handled:
                stop.wait(IDLE_POLL_S)

    def poll_once(self) -> int:
        """One get_records per shard, one router invocation per non-empty batch; records handled."""
        with self._busy:
            started = time.time()
            if started - self._discovered_at > SHARD_DISCOVERY_S:
                self._discover_shards()
                self._discovered_at = started
            handled = 0
            all_idle = True
            for shard in list(self._shards.values()):
                count, idle = self._poll_shard(shard)
                handled += count
                all_idle = all_idle and idle
            self._idle_since = started if all_idle else None
            return handled

    def _poll_shard(self, shard: _Shard) -> tuple[int, bool]:
        if shard.iterator is None:
            return 0, True
        response = self._streams.get_records(
            ShardIterator=shard.iterator, Limit=shard.limit or self._batch_size
        )
        records = response.get("Records", [])
        if not records:
            shard.iterator = response.get("NextShardIterator")
            return 0, shard.failures_in_a_row == 0
        event = {"Records": [self._lambda_record(r) for r in records]}
        self.stats.batches += 1
        failed_at = self._invoke(event, records)
        if failed_at is None:
            shard.iterator = response.get("NextShardIterator")
            shard.checkpoint = records[-1]["dynamodb"]["SequenceNumber"]
            shard.failures_in_a_row = 0
            shard.limit = None
            self.stats.records += len(records)
            return len(records), False
        done = records[:failed_at]
        self.stats.records += len(done)
        if done:
            shard.checkpoint = done[-1]["dynamodb"]["SequenceNumber"]
        self.stats.replays += 1
        shard.failures_in_a_row = 1 if done else shard.failures_in_a_row + 1
        failing = records[failed_at:]
        condition = self._exhausted(shard, failing[0])
        if condition is not None:
            self._give_up(shard, failing, condition)
            shard.iterator = self._streams.get_shard_iterator(
                StreamArn=self._arn,
                ShardId=shard.shard_id,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                SequenceNumber=failing[-1]["dynamodb"]["SequenceNumber"],
            )["ShardIterator"]
            shard.failures_in_a_row = 0
            shard.limit = None
            return len(records), False
        if self._bisect and failed_at == 0 and len(records) > 1:
            shard.limit = max(1, len(records) // 2)
        time.sleep(REPLAY_BACKOFF_S[min(shard.failures_in_a_row, len(REPLAY_BACKOFF_S)) - 1])
        shard.iterator = self._streams.get_shard_iterator(
            StreamArn=self._arn,
            ShardId=shard.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=records[failed_at]["dynamodb"]["SequenceNumber"],
        )["ShardIterator"]
        return len(done), False

    def _exhausted(self, shard: _Shard, first: dict[str, Any]) -> str | None:
        """Lambda's condition for giving a failing batch up, or None to retry it."""
        if self._retry_attempts is not None and shard.failures_in_a_row > self._retry_attempts:
            return "RetryAttemptsExhausted"
        created = first.get("dynamodb", {}).get("ApproximateCreationDateTime")
        too_old = isinstance(created, datetime) and time.time() - created.timestamp() > (self._max_age_s or 0)
        if self._max_age_s is not None and too_old:
            return "RecordAgeExceeded"
        return None

    def _give_up(self, shard: _Shard, records: list[dict[str, Any]], condition: str) -> None:
        """Lambda's on-failure record for a DynamoDB stream batch, sent to the on-failure queue."""

        def arrival(record: dict[str, Any]) -> str | None:
            created = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
            return (
                created.astimezone(UTC).isoformat().replace("+00:00", "Z")
                if isinstance(created, datetime)
                else None
            )

        document = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self._on_failure.function_arn if self._on_failure else self._function_name,
                "condition": condition,
                "approximateInvokeCount": shard.failures_in_a_row,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrival(records[0]),
                "approximateArrivalOfLastRecord": arrival(records[-1]),
                "batchSize": len(records),
                "streamArn": self._arn,
            },
        }
        self.given_up.append(document)
        if self._on_failure is None:
            self.stats.errors.append(
                f"gave up {len(records)} records ({condition}) with no on-failure destination"
            )
            return
        self._on_failure.sqs.send_message(
            QueueUrl=self._on_failure.queue_url, MessageBody=json.dumps(document)
        )

    def _invoke(self, event: dict[str, Any], records: list[dict[str, Any]]) -> int | None:
        """Index of the record to replay from, or None when the whole batch succeeded."""
        context = LambdaContext(self._function_name, self._timeout_s)
        try:
            response = self._handler(event, context)
        except Exception as exc:
            self.stats.errors.append(f"router raised {exc!r}")
            return 0
        failures = (response or {}).get("batchItemFailures") or []
        if not failures:
            return None
        index = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(records)}
        positions = [index.get(str(f.get("itemIdentifier") or "")) for f in failures]
        if any(p is None for p in positions):
            self.stats.errors.append(f"unusable itemIdentifier in {failures!r}: retrying the batch")
            return 0
        return min(p for p in positions if p is not None)

    def _discover_shards(self) -> None:
        for shard_id in self._shard_ids():
            if shard_id not in self._shards:  # a new shard after a split: read it from its start
                iterator = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
                self._shards[shard_id] = _Shard(shard_id, iterator)

    def _shard_ids(self) -> list[str]:
        description = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]
        return [shard["ShardId"] for shard in description.get("Shards", [])]

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        dynamodb = dict(record.get("dynamodb", {}))
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
        return {
            "eventID": record.get("eventID"),
            "eventName": record.get("eventName"),
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": record.get("awsRegion", REGION),
            "dynamodb": dynamodb,
            "eventSourceARN": self._arn,
        }
