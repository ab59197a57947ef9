"""The GitHub channel under the shared runtime: a real FIFO queue, DLQ and ledger on the moto server."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from consumers.github import handler as github_handler
from consumers.runtime.channel import Prepared
from consumers.runtime.lambda_entry import ConsumerHandler, make_handler
from consumers.runtime.outcomes import Retry
from fanout.events import TaskEvent
from fanout.registry import LEDGER_PARTITION_KEY

from .conftest import GitHubEnv, make_event

REPO, PR = "acme/widgets", 42
SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


class Crash(BaseException):
    """The process dying mid-attempt: nothing in the runtime may catch it."""


@dataclass
class Pipeline:
    env: GitHubEnv
    sqs: Any
    queue_url: str
    dlq_url: str
    queue_arn: str
    last_records: list[dict[str, Any]] = field(default_factory=list)

    def handler(self) -> ConsumerHandler:
        return make_handler(
            lambda s, c, k: self.env.channel, self.env.settings, self.env.clients, self.env.clock
        )

    def send(self, event: TaskEvent) -> None:
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=event.to_body(),
            MessageGroupId=event.task_id,
            MessageDeduplicationId=event.event_id,
        )

    def run_batch(self, handler: ConsumerHandler) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
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
                "eventSourceARN": self.queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
        if not records:
            return {"batchItemFailures": []}, []  # Lambda never invokes with an empty batch
        self.last_records = records
        response = handler({"Records": records}, None)
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for record in records:
            if record["messageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"])
        return response, records

    def make_visible(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
            )

    def depth(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def pipeline(
    github_env: GitHubEnv, aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
) -> Pipeline:
    sqs = aws_client("sqs")
    prefix = unique_name("gh")
    fifo = {"FifoQueue": "true"}
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-dlq.fifo", Attributes=fifo)["QueueUrl"]
    queue_url = sqs.create_queue(QueueName=f"{prefix}.fifo", Attributes={**fifo, "VisibilityTimeout": "360"})[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ledger = f"{prefix}-ledger"
    github_env.dynamodb.create_table(
        TableName=ledger,
        KeySchema=[{"AttributeName": LEDGER_PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": LEDGER_PARTITION_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    github_env.clock.now = time.time()  # SQS stamps messages with real time; ages are measured against it
    github_env.settings = replace(
        github_env.settings, queue_url=queue_url, dlq_url=dlq_url, ledger_table=ledger
    )
    return Pipeline(github_env, sqs, queue_url, dlq_url, arn)


@pytest.fixture(autouse=True)
def _no_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")


def test_the_lambda_module_exposes_a_handler() -> None:
    assert callable(github_handler.handler)


def test_pr_created_then_completed_through_the_runtime_edits_one_comment(pipeline: Pipeline) -> None:
    env = pipeline.env
    task_id = env.put_task()
    pipeline.send(make_event(task_id, "pr_created"))
    pipeline.send(make_event(task_id, "task_completed"))
    handler = pipeline.handler()

    response, records = pipeline.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert len(records) == 2
    [comment] = env.github.comments(repo=REPO, issue=PR)
    assert "✅ **Task completed**" in comment.body
    assert env.github.routes() == [
        "POST /repos/{repo}/issues/{n}/comments",
        "PATCH /repos/{repo}/issues/comments/{id}",
    ]
    assert handler.stats.delivered == 2
    assert pipeline.depth(pipeline.queue_url) == 0


def test_a_crash_after_the_post_then_redelivery_leaves_exactly_one_comment(pipeline: Pipeline) -> None:
    env = pipeline.env
    task_id = env.put_task()
    pipeline.send(make_event(task_id, "pr_created"))
    env.dynamodb.fail_next("update_item", table=env.table, error=Crash())  # dies right after the POST

    with pytest.raises(Crash):
        pipeline.run_batch(pipeline.handler())
    assert len(env.github.comments(repo=REPO, issue=PR)) == 1

    # A new container, once the dead attempt's claim and the message's visibility timeout have passed.
    env.clock.advance(env.settings.claim_ttl_s + 1)
    pipeline.make_visible(pipeline.last_records)  # what its visibility timeout running out does
    handler = pipeline.handler()
    response, records = pipeline.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert len(records) == 1
    [comment] = env.github.comments(repo=REPO, issue=PR)
    assert env.github.routes().count("POST /repos/{repo}/issues/{n}/comments") == 1
    assert env.task(task_id)["github_comment_id"] == comment.id
    assert handler.stats.delivered == 1
    assert "fanout.github.comment_adopted" in env.log_events()  # found by its marker, not posted again


def test_an_unrecorded_post_is_retried_by_the_runtime_without_a_second_comment(pipeline: Pipeline) -> None:
    env = pipeline.env
    task_id = env.put_task()
    pipeline.send(make_event(task_id, "pr_created"))
    env.dynamodb.fail_next("update_item", times=10, table=env.table)
    handler = pipeline.handler()

    response, records = pipeline.run_batch(handler)
    assert len(response["batchItemFailures"]) == 1
    assert handler.stats.retries == 1
    env.dynamodb.fail_next("update_item", times=0)
    pipeline.make_visible(records)
    response, _ = pipeline.run_batch(handler)

    assert response == {"batchItemFailures": []}
    [comment] = env.github.comments(repo=REPO, issue=PR)
    assert env.github.routes().count("POST /repos/{repo}/issues/{n}/comments") == 1
    assert env.task(task_id)["github_comment_id"] == comment.id


def test_a_rate_limit_defers_the_tokens_other_messages_without_calling_github(pipeline: Pipeline) -> None:
    env = pipeline.env
    first, second = env.put_task(pr_number=1), env.put_task(pr_number=2)
    pipeline.send(make_event(first))
    pipeline.send(make_event(second))
    env.github.fail(
        "POST /repos/{repo}/issues/{n}/comments", status=403, headers={"retry-after": "30"}, message=SECONDARY
    )
    handler = pipeline.handler()

    response, records = pipeline.run_batch(handler)

    assert len(response["batchItemFailures"]) == 2
    assert env.github.routes() == [
        "POST /repos/{repo}/issues/{n}/comments"
    ]  # the second task never reached GitHub
    assert handler.stats.retries == 1
    assert handler.stats.rate_limited == 1
    pipeline.make_visible(records)
    env.clock.advance(31)
    response, _ = pipeline.run_batch(handler)
    assert response == {"batchItemFailures": []}
    assert len(env.github.comments(repo=REPO, issue=1)) == 1
    assert len(env.github.comments(repo=REPO, issue=2)) == 1


def test_a_terminal_answer_is_dead_lettered_with_its_reason(pipeline: Pipeline) -> None:
    env = pipeline.env
    pipeline.send(make_event(env.put_task()))
    env.github.fail("POST /repos/{repo}/issues/{n}/comments", status=422, message="Validation Failed")

    response, _ = pipeline.run_batch(pipeline.handler())

    assert response == {"batchItemFailures": []}
    [letter] = pipeline.sqs.receive_message(QueueUrl=pipeline.dlq_url, MessageAttributeNames=["All"])[
        "Messages"
    ]
    attributes = {k: v.get("StringValue") for k, v in letter["MessageAttributes"].items()}
    assert any(value == "terminal:http_422" for value in attributes.values())
    assert pipeline.depth(pipeline.queue_url) == 0


class DownSlack:
    """A Slack channel during an outage: every delivery fails with a 5xx."""

    name = "slackdown"  # not "slack": the first Logger of a service owns its handler, leave that to Slack's tests

    def __init__(self) -> None:
        self.attempts = 0

    def prepare(self, event: TaskEvent) -> Prepared:
        return Prepared(event=event, task={"task_id": event.task_id}, rate_limit_key="slackdown:T1")

    def reconcile(self, prepared: Prepared) -> None:
        return None

    def deliver(self, prepared: Prepared) -> Retry:
        self.attempts += 1
        return Retry(None, "http_503")


def test_a_slack_outage_in_the_same_run_costs_github_no_extra_call(
    pipeline: Pipeline, aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
) -> None:
    env = pipeline.env
    sqs = pipeline.sqs
    slack_url = sqs.create_queue(QueueName=f"{unique_name('slack')}.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    slack_pipeline = replace(pipeline, queue_url=slack_url)
    slack = DownSlack()
    slack_settings = replace(env.settings, channel=slack.name, queue_url=slack_url)
    slack_handler = make_handler(lambda s, c, k: slack, slack_settings, env.clients, env.clock)
    github_handler_ = pipeline.handler()
    task_id = env.put_task()
    for event in (make_event(task_id, "pr_created"), make_event(task_id, "task_completed")):
        pipeline.send(event)  # what the router does: one copy per channel queue
        slack_pipeline.send(event)

    for _ in range(3):
        _, slack_records = slack_pipeline.run_batch(slack_handler)
        github_response, _ = pipeline.run_batch(github_handler_)
        slack_pipeline.make_visible(slack_records)
        env.clock.advance(5)

    assert slack.attempts == 3
    assert slack_handler.stats.retries == 3
    assert github_response == {"batchItemFailures": []}
    assert env.github.routes() == [
        "POST /repos/{repo}/issues/{n}/comments",
        "PATCH /repos/{repo}/issues/comments/{id}",
    ]
    assert github_handler_.stats.delivered == 2
