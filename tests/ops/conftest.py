"""Ops test fixtures: a local run's FIFO queue + FIFO DLQ per channel on the moto server, messages
dead-lettered exactly as a consumer does it, stubbed clients, and the CLI wired to them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import typer
from botocore.stub import Stubber
from typer.testing import CliRunner

from consumers.runtime import dlq_attributes as attr
from fanout import registry
from fanout.events import TaskEvent
from fanout.ops.cli import register_ops_commands
from fanout.ops.clients import AwsSession

REGION = "us-east-1"


@dataclass(frozen=True)
class LocalRun:
    prefix: str
    queue_urls: dict[str, str]
    dlq_urls: dict[str, str]


@pytest.fixture
def local_run(aws_client, unique_name) -> Callable[[], LocalRun]:
    """Factory: the queues a local run provisions, under a fresh prefix."""

    def make() -> LocalRun:
        sqs = aws_client("sqs")
        prefix = unique_name("ops")
        fifo = {"FifoQueue": "true"}
        queues, dlqs = {}, {}
        for channel in registry.CHANNELS:
            queues[channel] = sqs.create_queue(
                QueueName=registry.queue_name(prefix, channel), Attributes=fifo
            )["QueueUrl"]
            dlqs[channel] = sqs.create_queue(QueueName=registry.dlq_name(prefix, channel), Attributes=fifo)[
                "QueueUrl"
            ]
        return LocalRun(prefix=prefix, queue_urls=queues, dlq_urls=dlqs)

    return make


_counter = iter(range(10**6))


@pytest.fixture
def dead_letter(aws_client) -> Callable[..., dict[str, Any]]:
    """Factory: put a message on a DLQ the way a consumer dead-letters it; returns what was sent."""
    sqs = aws_client("sqs")

    def make(
        dlq_url: str,
        *,
        task_id: str = "task-1",
        event_type: str = "task_completed",
        reason: str = attr.REASON_BUDGET,
        last_error: str = "HTTP 429 ratelimited",
        attempts: int = 10,
        channel: str = "slack",
        event_id: str | None = None,
        body: str | None = None,
    ) -> dict[str, Any]:
        event_id = event_id or f"01JEVENT{next(_counter):0>18}"
        event = TaskEvent(
            task_id=task_id, event_id=event_id, event_type=event_type, timestamp="2026-11-26T10:00:00Z"
        )
        first = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        values = {
            attr.REASON: reason,
            attr.LAST_ERROR: last_error,
            attr.ATTEMPTS: str(attempts),
            attr.FIRST_RECEIVED: first,
            attr.CHANNEL: channel,
            attr.TASK_ID: task_id,
            attr.EVENT_TYPE: event_type,
        }
        attributes = {
            name: {"DataType": "Number" if name == attr.ATTEMPTS else "String", "StringValue": value}
            for name, value in values.items()
        }
        sent = {
            "MessageBody": body if body is not None else event.to_body(),
            "MessageGroupId": task_id,
            "MessageDeduplicationId": event_id,
            "MessageAttributes": attributes,
        }
        sqs.send_message(QueueUrl=dlq_url, **sent)
        return sent

    return make


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message on a queue, in delivery order, deleting as it goes (so FIFO groups unlock)."""
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            return out
        for message in got:
            out.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) of a queue."""
    values = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(values["ApproximateNumberOfMessages"]), int(values["ApproximateNumberOfMessagesNotVisible"])


@dataclass
class Stubs:
    """Offline clients wrapped in Stubber: nothing reaches an endpoint, every call must be expected."""

    clients: dict[str, Any] = field(default_factory=dict)
    stubbers: dict[str, Stubber] = field(default_factory=dict)

    def __call__(self, service: str) -> Stubber:
        if service not in self.stubbers:
            client = boto3.client(
                service, region_name=REGION, aws_access_key_id="stub", aws_secret_access_key="stub"
            )
            self.clients[service] = client
            self.stubbers[service] = Stubber(client)
            self.stubbers[service].activate()
        return self.stubbers[service]

    def client(self, service: str) -> Any:
        self(service)
        return self.clients[service]

    def verify(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def stubs() -> Iterator[Stubs]:
    made = Stubs()
    yield made
    for stubber in made.stubbers.values():
        stubber.deactivate()


@dataclass
class Cli:
    app: typer.Typer
    runner: CliRunner
    sleeps: list[float]

    def __call__(self, *args: str) -> Any:
        return self.runner.invoke(self.app, list(args), env={"COLUMNS": "200"})  # no folded table cells


@pytest.fixture
def ops_cli(moto_endpoint) -> Callable[..., Cli]:
    """Factory: the ops commands on a bare typer app; `clients` replaces services (Stubber), the rest
    go to the moto server. Sleeping is recorded, not done; receives do not long-poll."""

    def make(clients: dict[str, Any] | None = None, now: datetime | None = None) -> Cli:
        app = typer.Typer()
        sleeps: list[float] = []

        def session(endpoint: str | None, region: str | None) -> AwsSession:
            return AwsSession(
                endpoint_url=endpoint or moto_endpoint, region=region or REGION, clients=clients
            )

        extra: dict[str, Any] = {"clock": lambda: now} if now is not None else {}
        register_ops_commands(app, session_factory=session, sleep=sleeps.append, receive_wait_s=0, **extra)
        return Cli(app=app, runner=CliRunner(), sleeps=sleeps)

    return make


@dataclass(frozen=True)
class DeployedStack:
    name: str
    queue_urls: dict[str, str]
    dlq_urls: dict[str, str]
    esm_ids: dict[str, str]


@pytest.fixture
def deployed_stack(aws_client, unique_name) -> Callable[..., DeployedStack]:
    """Factory: a CloudFormation stack on moto with the FIFO queues and the outputs the CDK stack has
    (the consumer and its event source mapping are literal outputs: moto cannot run the Lambda)."""

    def make(
        *, with_esm_output: bool = True, channels: tuple[str, ...] = tuple(registry.CHANNELS)
    ) -> DeployedStack:
        cfn, sqs = aws_client("cloudformation"), aws_client("sqs")
        name = unique_name("stack")
        resources: dict[str, Any] = {}
        outputs: dict[str, Any] = {}
        esm_ids = {}
        for channel in channels:
            queue, dlq = f"{channel.capitalize()}Queue", f"{channel.capitalize()}Dlq"
            resources[queue] = {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": registry.queue_name(name, channel), "FifoQueue": True},
            }
            resources[dlq] = {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": registry.dlq_name(name, channel), "FifoQueue": True},
            }
            values = {
                registry.OUTPUT_QUEUE_URL: {"Ref": queue},
                registry.OUTPUT_QUEUE_ARN: {"Fn::GetAtt": [queue, "Arn"]},
                registry.OUTPUT_DLQ_URL: {"Ref": dlq},
                registry.OUTPUT_DLQ_ARN: {"Fn::GetAtt": [dlq, "Arn"]},
                registry.OUTPUT_CONSUMER_NAME: f"{name}-{channel}-consumer",
            }
            esm_ids[channel] = str(uuid.uuid4())
            if with_esm_output:
                values[registry.OUTPUT_EVENT_SOURCE_MAPPING_ID] = esm_ids[channel]
            for what, value in values.items():
                outputs[registry.output_key(channel, what)] = {"Value": value}
        cfn.create_stack(
            StackName=name, TemplateBody=json.dumps({"Resources": resources, "Outputs": outputs})
        )
        queue_urls = {
            c: sqs.get_queue_url(QueueName=registry.queue_name(name, c))["QueueUrl"] for c in channels
        }
        dlq_urls = {c: sqs.get_queue_url(QueueName=registry.dlq_name(name, c))["QueueUrl"] for c in channels}
        return DeployedStack(name=name, queue_urls=queue_urls, dlq_urls=dlq_urls, esm_ids=esm_ids)

    return make
