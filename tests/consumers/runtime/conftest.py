"""Fixtures for the consumer runtime: a real FIFO queue, DLQ and ledger table on the moto server, a
scripted fake channel, a settable clock, and a driver that runs batches the way Lambda does."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from consumers.runtime.channel import Prepared
from consumers.runtime.clients import Clients
from consumers.runtime.lambda_entry import ConsumerHandler, make_handler
from consumers.runtime.outcomes import Delivered, Outcome
from consumers.runtime.settings import ConsumerSettings
from fanout.events import TaskEvent
from fanout.registry import LEDGER_PARTITION_KEY, LEDGER_TTL_ATTRIBUTE, SQS_MAX_MESSAGE_BYTES
from tests.clock import FakeClock

CHANNEL = "fakechan"
QUEUE_VISIBILITY_S = 180
_LOG_STREAM = io.StringIO()
_ids = itertools.count(1)


@pytest.fixture(scope="session", autouse=True)
def _channel_logger() -> None:
    """The first Powertools Logger of a service owns its handler; make it write somewhere tests can read."""
    Logger(service=CHANNEL, stream=_LOG_STREAM)


@pytest.fixture(autouse=True)
def _quiet_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")


@pytest.fixture
def log_lines() -> Callable[[], list[dict[str, Any]]]:
    """Factory: the JSON log lines written since the test started."""
    start = _LOG_STREAM.tell()

    def read() -> list[dict[str, Any]]:
        text = _LOG_STREAM.getvalue()[start:]
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    return read


@pytest.fixture(autouse=True)
def _never_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(seconds: float) -> None:
        raise AssertionError(f"the consumer runtime slept for {seconds}s")

    monkeypatch.setattr(time, "sleep", refuse)


class RecordingSQS:
    """The real client, with the calls the runtime makes recorded and DLQ sends optionally refused."""

    def __init__(self, client: Any, dlq_url: str) -> None:
        self._client = client
        self._dlq_url = dlq_url
        self.visibility: list[tuple[str, int]] = []  # (receipt handle, seconds)
        self.refuse_dlq = False
        self._refusals = 0
        self._failing: list[str] = []

    def change_message_visibility(self, **kwargs: Any) -> Any:
        self._maybe_fail("change_message_visibility")
        self.visibility.append((kwargs["ReceiptHandle"], kwargs["VisibilityTimeout"]))
        return self._client.change_message_visibility(**kwargs)

    def fail_next(self, operation: str) -> None:
        """The next call of `operation` (change_message_visibility, delete_message) fails with a 500."""
        self._failing.append(operation)

    def delete_message(self, **kwargs: Any) -> Any:
        self._maybe_fail("delete_message")
        return self._client.delete_message(**kwargs)

    def _maybe_fail(self, operation: str) -> None:
        if operation in self._failing:
            self._failing.remove(operation)
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, operation)

    def change_message_visibility_batch(self, **kwargs: Any) -> Any:
        self.visibility.extend((e["ReceiptHandle"], e["VisibilityTimeout"]) for e in kwargs["Entries"])
        return self._client.change_message_visibility_batch(**kwargs)

    def refuse_dlq_once(self) -> None:
        self._refusals += 1

    def send_message(self, **kwargs: Any) -> Any:
        if kwargs["QueueUrl"] == self._dlq_url and (self.refuse_dlq or self._refusals):
            self._refusals = max(0, self._refusals - 1)
            raise ClientError({"Error": {"Code": "KMS.AccessDenied", "Message": "no"}}, "SendMessage")
        return self._client.send_message(**kwargs)

    def delay_for(self, receipt_handle: str) -> int | None:
        return next((s for h, s in reversed(self.visibility) if h == receipt_handle), None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class FaultyDynamo:
    """The real client; `fail_when(operation, predicate)` makes matching calls throttle."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._faults: list[tuple[str, Callable[[dict[str, Any]], bool]]] = []
        self._lost: list[str] = []
        self.failed = 0

    def fail_when(self, operation: str, predicate: Callable[[dict[str, Any]], bool] = lambda _: True) -> None:
        self._faults.append((operation, predicate))

    def fail_once(self, operation: str, predicate: Callable[[dict[str, Any]], bool]) -> None:
        def once(kwargs: dict[str, Any]) -> bool:
            if not predicate(kwargs):
                return False
            self._faults.remove((operation, once))
            return True

        self._faults.append((operation, once))

    def lose_answer_once(self, operation: str) -> None:
        """The next `operation` applies, its answer is lost, and the SDK sends it again (what botocore's
        retry does after a dropped connection): the caller sees the second call's answer."""
        self._lost.append(operation)

    def heal(self) -> None:
        self._faults.clear()

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)
        if not callable(real):  # `meta` (its event hooks), not an operation
            return real

        def call(**kwargs: Any) -> Any:
            if name in self._lost:
                self._lost.remove(name)
                real(**kwargs)
                return real(**kwargs)
            if any(op == name and pred(kwargs) for op, pred in self._faults):
                self.failed += 1
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, name)
            return real(**kwargs)

        return call


@dataclass
class ScriptedChannel:
    """A fake channel: outcomes scripted per event id (the last one repeats), calls recorded."""

    name: str = CHANNEL
    prepare_outcome: Outcome | None = None
    rate_limit_key: str | None = None
    deliveries: dict[str, list[Outcome | BaseException]] = field(default_factory=dict)
    reconciles: dict[str, list[Outcome | None]] = field(default_factory=dict)
    delivered_calls: list[str] = field(default_factory=list)
    reconcile_calls: list[str] = field(default_factory=list)

    def prepare(self, event: TaskEvent) -> Prepared | Outcome:
        if self.prepare_outcome is not None:
            return self.prepare_outcome
        key = event.meta_str("rate_limit_key") or self.rate_limit_key
        return Prepared(event=event, task={"task_id": event.task_id}, rate_limit_key=key)

    def reconcile(self, prepared: Prepared) -> Outcome | None:
        self.reconcile_calls.append(prepared.event.event_id)
        return _next(self.reconciles.get(prepared.event.event_id, [None]))

    def deliver(self, prepared: Prepared) -> Outcome:
        self.delivered_calls.append(prepared.event.event_id)
        result = _next(self.deliveries.get(prepared.event.event_id, [Delivered()]))
        if isinstance(result, BaseException):
            raise result
        assert result is not None
        return result


def _next(script: list[Any]) -> Any:
    return script.pop(0) if len(script) > 1 else script[0]


@dataclass
class ConsumerEnv:
    settings: ConsumerSettings
    clients: Clients
    sqs: RecordingSQS
    dynamodb: FaultyDynamo
    raw_sqs: Any
    clock: FakeClock
    channel: ScriptedChannel
    queue_arn: str
    last_records: list[dict[str, Any]] = field(default_factory=list)

    def handler(self, **overrides: Any) -> ConsumerHandler:
        settings = replace(self.settings, **overrides)
        return make_handler(lambda s, c, k: self.channel, settings, self.clients, self.clock)

    def send(
        self,
        event: TaskEvent | None = None,
        *,
        body: str | None = None,
        group: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> str:
        event = event or make_event()
        extra: dict[str, Any] = {}
        if attributes:
            extra["MessageAttributes"] = {
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
            }
        response = self.raw_sqs.send_message(
            QueueUrl=self.settings.queue_url,
            MessageBody=body if body is not None else event.to_body(),
            MessageGroupId=group or event.task_id,
            MessageDeduplicationId=f"{event.event_id}-{next(_ids)}",
            **extra,
        )
        return str(response["MessageId"])

    def receive(self, queue_url: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
        response = self.raw_sqs.receive_message(
            QueueUrl=queue_url or self.settings.queue_url,
            MaxNumberOfMessages=limit,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def run_batch(
        self, handler: ConsumerHandler, context: Any = None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Receive a batch, invoke the handler as Lambda does, delete what succeeded."""
        messages = self.receive()
        records = [lambda_record(m, self.queue_arn) for m in messages]
        self.last_records = records
        response = handler({"Records": records}, context)
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for record in records:
            if record["messageId"] not in failed:
                with contextlib.suppress(ClientError):  # the runtime deletes dead letters itself
                    self.raw_sqs.delete_message(
                        QueueUrl=self.settings.queue_url, ReceiptHandle=record["receiptHandle"]
                    )
        return response, records

    def make_visible(self, records: list[dict[str, Any]]) -> None:
        """What the passing of the delay does: the failed messages come back."""
        for record in records:
            with contextlib.suppress(ClientError):  # already deleted
                self.raw_sqs.change_message_visibility(
                    QueueUrl=self.settings.queue_url,
                    ReceiptHandle=record["receiptHandle"],
                    VisibilityTimeout=0,
                )

    def queue_depth(self, queue_url: str | None = None) -> int:
        attrs = self.raw_sqs.get_queue_attributes(
            QueueUrl=queue_url or self.settings.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def ledger_item(self, event_id: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(
            TableName=self.settings.ledger_table,
            Key={LEDGER_PARTITION_KEY: {"S": f"{CHANNEL}#{event_id}"}},
            ConsistentRead=True,
        ).get("Item")
        return dict(item) if item else None


class FakeLambdaContext:
    """Lambda's context as far as the runtime reads it: the milliseconds left, one scripted value per
    call (the last one repeats)."""

    def __init__(self, *remaining_ms: int) -> None:
        self._remaining = list(remaining_ms)
        self.calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return int(_next(self._remaining))


def lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message["Attributes"],
        "messageAttributes": {
            name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
            for name, value in message.get("MessageAttributes", {}).items()
            if "StringValue" in value
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


def make_event(
    *,
    task_id: str | None = None,
    event_id: str | None = None,
    event_type: str = "task_created",
    **metadata: Any,
) -> TaskEvent:
    n = next(_ids)
    return TaskEvent(
        task_id=task_id or f"task-{n}",
        event_id=event_id or f"01JEVENT{n:018d}",
        event_type=event_type,
        timestamp="2026-11-26T10:00:00Z",
        metadata=metadata,
    )


def provision(
    aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
) -> tuple[str, str, str, str]:
    """A FIFO queue, its FIFO DLQ and a ledger table (key pk, TTL expires_at): queue url, arn, dlq, table."""
    sqs, dynamodb = aws_client("sqs"), aws_client("dynamodb")
    prefix = unique_name("consumer")
    fifo = {"FifoQueue": "true", "MaximumMessageSize": str(SQS_MAX_MESSAGE_BYTES)}  # as the stack sets it
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-dlq.fifo", Attributes=fifo)["QueueUrl"]
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}.fifo", Attributes={**fifo, "VisibilityTimeout": str(QUEUE_VISIBILITY_S)}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    table = f"{prefix}-ledger"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": LEDGER_PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": LEDGER_PARTITION_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": LEDGER_TTL_ATTRIBUTE}
    )
    return queue_url, arn, dlq_url, table


MakeConsumerEnv = Callable[[], "ConsumerEnv"]


@pytest.fixture
def make_consumer_env(aws_client: Callable[[str], Any], unique_name: Callable[[str], str]) -> MakeConsumerEnv:
    """Factory: a fresh queue, DLQ and ledger table with settings, clients, a clock and a fake channel."""

    def make() -> ConsumerEnv:
        queue_url, arn, dlq_url, table = provision(aws_client, unique_name)
        raw_sqs = aws_client("sqs")
        sqs = RecordingSQS(raw_sqs, dlq_url)
        dynamodb = FaultyDynamo(aws_client("dynamodb"))
        clients = Clients(sqs=sqs, dynamodb=dynamodb, secrets=aws_client("secretsmanager"), http=None)  # type: ignore[arg-type]
        settings = ConsumerSettings(
            channel=CHANNEL,
            queue_url=queue_url,
            dlq_url=dlq_url,
            task_table="tasks",
            ledger_table=table,
            api_base_url="http://fake.invalid",
            max_attempts=3,
            max_age_s=7200,
            backoff_base_s=2.0,
            backoff_cap_s=900.0,
            claim_ttl_s=60,
        )
        return ConsumerEnv(
            settings, clients, sqs, dynamodb, raw_sqs, FakeClock(time.time()), ScriptedChannel(), arn
        )

    return make


@pytest.fixture
def consumer_env(make_consumer_env: MakeConsumerEnv) -> ConsumerEnv:
    return make_consumer_env()


@pytest.fixture
def key() -> str:
    """A workspace of this test alone: the shared outage and rate-limit items live in the ledger table,
    which other tests' containers may share."""
    return f"slack:T{uuid.uuid4().hex[:8]}"
