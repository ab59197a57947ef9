"""The consumer benchmark's workload (bench/consumer.py): an instant Slack, the tables and the bot token
on the local endpoint, the tasks, and their events as Lambda's SQS batches."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from typing import Any

import httpx

from fanout.dynamo import from_item
from fanout.events import TaskEvent
from fanout.registry import LEDGER_PARTITION_KEY

TEAM = "TBENCH"
STEPS = [
    ("task_created", {}),
    ("session_started", {}),
    ("agent_error", {"error_type": "ToolError", "message_preview": "x" * 150}),
    ("task_completed", {}),
]
_seq = itertools.count(1)


class InstantSlack:
    """Answers every call at once, like Slack on its best day."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.fail_next = 0  # answer this many calls with a 503 first

    def __call__(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        self.calls[method] += 1
        if self.fail_next:
            self.fail_next -= 1
            return httpx.Response(503, text="service unavailable")
        if method == "chat.postMessage":
            return httpx.Response(
                200, json={"ok": True, "channel": "C1", "ts": f"1800000000.{next(_seq):06d}"}
            )
        return httpx.Response(200, json={"ok": True})


def provision(dynamodb: Any, secrets: Any, prefix: str) -> tuple[str, str]:
    tasks, ledger = f"{prefix}-tasks", f"{prefix}-ledger"
    for table, key in ((tasks, "task_id"), (ledger, LEDGER_PARTITION_KEY)):
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    secrets.create_secret(Name=f"{prefix}/slack/{TEAM}", SecretString=json.dumps({"bot_token": "xoxb-bench"}))
    return tasks, ledger


def put_tasks(dynamodb: Any, table: str, run: int, count: int) -> dict[str, dict[str, Any]]:
    tasks = {}
    for n in range(count):
        task_id = f"task-{run}-{n:04d}"
        item = {
            "task_id": {"S": task_id},
            "status": {"S": "RUNNING"},
            "repo": {"S": "acme/widgets"},
            "task_description": {"S": "Fix the flaky login test <!channel> " + "d" * 120},
            "channel_source": {"S": "slack"},
            "duration_s": {"N": "252"},
            "cost_usd": {"N": "1.37"},
            "pr_url": {"S": "https://github.com/acme/widgets/pull/7"},
            "channel_metadata": {
                "M": {
                    "slack_team_id": {"S": TEAM},
                    "slack_channel_id": {"S": "C1"},
                    "slack_thread_ts": {"S": f"1700000000.{n:06d}"},
                }
            },
        }
        dynamodb.put_item(TableName=table, Item=item)
        tasks[task_id] = from_item(item)
    return tasks


def make_batches(task_ids: list[str], run: int) -> list[dict[str, Any]]:
    """Step by step (every task's created, then every task's session, ...), 10 records per batch."""
    now_ms = str(int(time.time() * 1000))
    records = []
    for step, (event_type, metadata) in enumerate(STEPS):
        for task_id in task_ids:
            event = TaskEvent(
                task_id, f"01JBENCH{run:04d}{step}{task_id}", event_type, "2027-01-15T08:00:00Z", metadata
            )
            records.append(
                {
                    "messageId": f"m-{next(_seq)}",
                    "receiptHandle": f"rh-{next(_seq)}",
                    "body": event.to_body(),
                    "attributes": {
                        "MessageGroupId": task_id,
                        "ApproximateReceiveCount": "1",
                        "ApproximateFirstReceiveTimestamp": now_ms,
                        "SentTimestamp": now_ms,
                    },
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:bench.fifo",
                    "awsRegion": "us-east-1",
                }
            )
    return [{"Records": records[i : i + 10]} for i in range(0, len(records), 10)]


def redelivered(batches: list[dict[str, Any]], receive_count: int) -> list[dict[str, Any]]:
    for batch in batches:
        for record in batch["Records"]:
            record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return batches


def put_tasks_cache(dynamodb: Any, table: str, batches: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The task items of the batches, read once outside any timing (the floor renders from them)."""
    ids = {TaskEvent.from_body(r["body"]).task_id for b in batches for r in b["Records"]}
    return {
        task_id: from_item(
            dynamodb.get_item(TableName=table, Key={"task_id": {"S": task_id}}, ConsistentRead=True)["Item"]
        )
        for task_id in ids
    }
