"""The Slack channel inside the shared runtime (make_handler) over a real FIFO queue and ledger table."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from consumers.runtime.clients import Clients
from consumers.runtime.lambda_entry import ConsumerHandler, make_handler
from consumers.slack.channel import SlackChannel, build_slack_channel
from fanout.events import TaskEvent
from fanout.local.fakes.slack_faults import CallFault
from fanout.registry import LEDGER_PARTITION_KEY

from .conftest import SlackEnv, make_event


class RecordingSQS:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.visibility: dict[str, int] = {}

    def change_message_visibility(self, **kwargs: Any) -> Any:
        self.visibility[kwargs["ReceiptHandle"]] = kwargs["VisibilityTimeout"]
        return self._client.change_message_visibility(**kwargs)

    def change_message_visibility_batch(self, **kwargs: Any) -> Any:
        for entry in kwargs["Entries"]:
            self.visibility[entry["ReceiptHandle"]] = entry["VisibilityTimeout"]
        return self._client.change_message_visibility_batch(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class Pipeline:
    def __init__(
        self, env: SlackEnv, aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
    ) -> None:
        self.env = env
        self.raw = aws_client("sqs")
        self.sqs = RecordingSQS(self.raw)
        prefix = unique_name("slackq")
        fifo = {"FifoQueue": "true"}
        dlq = self.raw.create_queue(QueueName=f"{prefix}-dlq.fifo", Attributes=fifo)["QueueUrl"]
        self.queue = self.raw.create_queue(
            QueueName=f"{prefix}.fifo", Attributes={**fifo, "VisibilityTimeout": "180"}
        )["QueueUrl"]
        self.arn = self.raw.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.ledger = f"{prefix}-ledger"
        env.dynamodb.create_table(
            TableName=self.ledger,
            KeySchema=[{"AttributeName": LEDGER_PARTITION_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": LEDGER_PARTITION_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.settings = replace(env.settings, queue_url=self.queue, dlq_url=dlq, ledger_table=self.ledger)
        self.clients = Clients(
            sqs=self.sqs,  # type: ignore[arg-type]
            dynamodb=env.dynamodb,  # type: ignore[arg-type]
            secrets=env.secrets,
            http=env.clients.http,
        )
        self.handler: ConsumerHandler = make_handler(
            build_slack_channel, self.settings, self.clients, env.clock, random_source=lambda: 0.5
        )

    def send(self, event: TaskEvent) -> None:
        self.raw.send_message(
            QueueUrl=self.queue,
            MessageBody=event.to_body(),
            MessageGroupId=event.task_id,
            MessageDeduplicationId=event.event_id,
        )

    def run_batch(self) -> list[dict[str, Any]]:
        messages = self.raw.receive_message(
            QueueUrl=self.queue, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": self.arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
        failed = {f["itemIdentifier"] for f in self.handler({"Records": records}, None)["batchItemFailures"]}
        for record in records:
            if record["messageId"] not in failed:
                self.raw.delete_message(QueueUrl=self.queue, ReceiptHandle=record["receiptHandle"])
        return [r for r in records if r["messageId"] in failed]

    def make_visible(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            with contextlib.suppress(ClientError):
                self.raw.change_message_visibility(
                    QueueUrl=self.queue, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                )


@pytest.fixture
def pipeline(
    slack_env: SlackEnv,
    aws_client: Callable[[str], Any],
    unique_name: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> Pipeline:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    slack_env.clock.now = time.time()  # the queue's receive timestamps are real: the budget's age uses them
    return Pipeline(slack_env, aws_client, unique_name)


def test_the_lambda_entry_builds_the_slack_channel() -> None:
    from consumers.slack import handler

    assert handler.handler.__qualname__ == "lambda_handler_for.<locals>.handler"
    source = Path(handler.__file__).read_text()
    assert "from consumers.runtime.lambda_entry import lambda_handler_for" in source
    assert "handler = lambda_handler_for(build_slack_channel)" in source


def test_the_factory_builds_a_slack_channel(pipeline: Pipeline) -> None:
    assert isinstance(pipeline.handler.channel, SlackChannel)
    assert pipeline.handler.channel.name == "slack"


def test_a_crash_between_the_post_and_the_ledger_completion_posts_exactly_once(pipeline: Pipeline) -> None:
    env = pipeline.env
    mention = env.slack.seed("C100")
    task_id = env.put_task(meta={"slack_thread_ts": mention})
    event = make_event(task_id, "task_completed")
    pipeline.send(event)
    env.dynamodb.fail_when(
        "update_item",
        lambda kw: kw["TableName"] == pipeline.ledger and ":done" in kw.get("ExpressionAttributeValues", {}),
    )

    failed = pipeline.run_batch()
    assert len(failed) == 1
    assert len(env.slack.messages()) == 1

    env.clock.advance(3600)
    pipeline.make_visible(failed)
    assert pipeline.run_batch() == []
    assert "conversations.replies" in env.slack.methods()  # the second attempt looked before posting
    assert env.slack.methods().count("chat.postMessage") == 1
    assert len(env.slack.messages()) == 1
    assert pipeline.handler.stats.delivered == 1


def test_a_whole_task_through_the_queue_leaves_one_terminal_message(pipeline: Pipeline) -> None:
    env = pipeline.env
    task_id = env.put_task()
    for event_type, meta in [
        ("task_created", {}),
        ("session_started", {}),
        ("agent_error", {"error_type": "ToolError"}),
        ("task_failed", {"error": "boom"}),
        ("task_stranded", {"prior_status": "RUNNING"}),
    ]:
        pipeline.send(make_event(task_id, event_type, **meta))
    assert pipeline.run_batch() == []
    texts = [m.text.split("\n")[0] for m in env.slack.messages()]
    assert texts == [
        ":rocket: *Task submitted* for `acme/widgets`",
        ":rotating_light: *Agent error* during `acme/widgets`",
        ":x: *Task failed* for `acme/widgets`",
    ]
    assert pipeline.handler.stats.delivered == 4
    assert pipeline.handler.stats.skipped == 1


def test_429_retry_after_30_holds_the_workspace_without_calling_slack(pipeline: Pipeline) -> None:
    env = pipeline.env
    first, second = env.put_task(), env.put_task()
    env.slack.fail(
        "chat.postMessage", CallFault(status=429, error="ratelimited", headers={"Retry-After": "30"})
    )
    pipeline.send(make_event(first, "task_created"))
    pipeline.send(make_event(second, "task_created"))

    failed = pipeline.run_batch()
    assert len(failed) == 2
    assert env.slack.methods().count("chat.postMessage") == 1  # the second message never called Slack
    assert all(pipeline.sqs.visibility[r["receiptHandle"]] >= 30 for r in failed)
