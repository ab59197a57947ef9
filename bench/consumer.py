"""Slack consumer benchmark: per-message overhead and AWS calls per delivered message. Ratios, one run.

    .venv/bin/python bench/consumer.py [--tasks 10] [--repeat 3] [--json PATH]

The whole Lambda path runs in-process: the runtime's `make_handler(build_slack_channel, ...)` gets SQS
batches (Lambda's record shape, 10 per batch, FIFO groups = tasks), reads and writes DynamoDB and reads
Secrets Manager on a local moto server (its own process) over HTTP, and talks to an instant Slack fake
(httpx.MockTransport). Each task is an @mention thread: task_created, session_started, agent_error,
task_completed.

(a) consumer overhead per message = handler time minus the time spent waiting on the AWS HTTP round trip
    (botocore's Endpoint._send, timed), so moto's own speed does not count; botocore's request building
    and response parsing do count, as they would in Lambda, and are shown apart from the runtime's and
    the channel's own code (handler time minus all time inside boto3 calls), and the Slack channel's share
    of that (its prepare/reconcile/deliver, Slack HTTP calls through httpx included). Against the floor: parsing
    the message body and rendering its blocks (plus serializing the post), the work no consumer can skip;
(b) AWS calls per delivered message, by operation (a botocore `before-call` hook), against the goal: the
    ledger claim and completion, one task read, and the bookkeeping writes the behaviour needs;
(c) Slack calls per delivered message.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3  # noqa: E402
import httpx  # noqa: E402
from aws_lambda_powertools import Logger  # noqa: E402
from botocore.client import BaseClient  # noqa: E402
from botocore.endpoint import Endpoint  # noqa: E402

from bench.moto_process import moto_server  # noqa: E402
from consumers.runtime.clients import AWS_CONFIG, Clients  # noqa: E402
from consumers.runtime.lambda_entry import make_handler  # noqa: E402
from consumers.runtime.settings import ConsumerSettings  # noqa: E402
from consumers.slack.channel import build_slack_channel  # noqa: E402
from consumers.slack.render import message_metadata, render  # noqa: E402
from fanout.dynamo import from_item  # noqa: E402
from fanout.events import TaskEvent  # noqa: E402
from fanout.registry import LEDGER_PARTITION_KEY  # noqa: E402

TEAM = "TBENCH"
STEPS = [
    ("task_created", {}),
    ("session_started", {}),
    ("agent_error", {"error_type": "ToolError", "message_preview": "x" * 150}),
    ("task_completed", {}),
]
# What the behaviour needs per message beyond the runtime's claim + completion and one task read.
BOOKKEEPING_WRITES = {"task_created": 1, "session_started": 1, "agent_error": 1, "task_completed": 2}
FLOOR_REPEAT = 20  # the floor is cheap and noisy at this size: best of many
_seq = itertools.count(1)
_timers = {"wire": 0.0, "boto3": 0.0, "channel": 0.0}


def timed(name: str, original: Any) -> Any:
    """Wrap a botocore method to add the time spent inside it to `_timers[name]`."""

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            _timers[name] += time.perf_counter() - start

    return wrapper


class InstantSlack:
    """Answers every call at once, like Slack on its best day."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        self.calls[method] += 1
        if method == "chat.postMessage":
            return httpx.Response(
                200, json={"ok": True, "channel": "C1", "ts": f"1800000000.{next(_seq):06d}"}
            )
        return httpx.Response(200, json={"ok": True})


def aws(service: str, endpoint: str, counter: Counter[str]) -> Any:
    client = boto3.client(service, endpoint_url=endpoint, config=AWS_CONFIG)  # type: ignore[call-overload]

    def count(model: Any, **_: Any) -> None:
        counter[f"{service}:{model.name}"] += 1

    client.meta.events.register("before-call.*.*", count)
    return client


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


def floor(batches: list[dict[str, Any]], tasks: dict[str, dict[str, Any]]) -> None:
    for batch in batches:
        for record in batch["Records"]:
            event = TaskEvent.from_body(record["body"])
            message = render(event, tasks[event.task_id])
            body = {"channel": "C1", "text": message.text, "blocks": list(message.blocks)}
            json.dumps({**body, "metadata": message_metadata(event)}, separators=(",", ":"))


def time_channel(channel: Any) -> None:
    """Add the time spent in the channel's own code (its calls minus the boto3 time inside them)."""
    for name in ("prepare", "reconcile", "deliver"):
        original = getattr(channel, name)

        def wrapper(*args: Any, _original: Any = original) -> Any:
            start, boto3_before = time.perf_counter(), _timers["boto3"]
            try:
                return _original(*args)
            finally:
                _timers["channel"] += time.perf_counter() - start - (_timers["boto3"] - boto3_before)

        setattr(channel, name, wrapper)


def timed_call(fn: Any, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10, help="tasks per run (4 messages each)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    Logger(service="slack", stream=io.StringIO())  # the service's log lines are written, but not shown
    Endpoint._send = timed("wire", Endpoint._send)  # type: ignore[method-assign]
    BaseClient._make_api_call = timed("boto3", BaseClient._make_api_call)  # type: ignore[method-assign]
    with moto_server() as endpoint:
        counter: Counter[str] = Counter()
        dynamodb, secrets = aws("dynamodb", endpoint, counter), aws("secretsmanager", endpoint, counter)
        prefix = f"bench{int(time.time())}"
        tasks_table, ledger = provision(dynamodb, secrets, prefix)
        slack = InstantSlack()
        clients = Clients(
            sqs=aws("sqs", endpoint, counter),
            dynamodb=dynamodb,
            secrets=secrets,
            http=httpx.Client(transport=httpx.MockTransport(slack)),
        )
        settings = ConsumerSettings(
            channel="slack",
            queue_url=f"{endpoint}/000000000000/bench.fifo",
            dlq_url=f"{endpoint}/000000000000/bench-dlq.fifo",
            task_table=tasks_table,
            ledger_table=ledger,
            api_base_url="https://slack.bench/api",
            max_attempts=10,
            max_age_s=7200,
            backoff_base_s=2.0,
            backoff_cap_s=900.0,
            claim_ttl_s=60,
            slack_secret_prefix=f"{prefix}/slack/",
        )
        handler = make_handler(build_slack_channel, settings, clients)
        time_channel(handler.channel)
        best: dict[str, float] | None = None
        for run in range(args.repeat + 1):  # run 0 warms up (imports, token cache, connections)
            tasks = put_tasks(dynamodb, tasks_table, run, args.tasks)
            batches = make_batches(list(tasks), run)
            messages = sum(len(b["Records"]) for b in batches)
            counter.clear()
            slack.calls.clear()
            delivered_before = handler.stats.delivered
            _timers.update(wire=0.0, boto3=0.0, channel=0.0)
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # EMF metric lines: written, not shown
                failures = sum(len(handler(batch, None)["batchItemFailures"]) for batch in batches)
            total = time.perf_counter() - start
            wire, in_boto3, in_channel = _timers["wire"], _timers["boto3"], _timers["channel"]
            floor_s = min(timed_call(floor, batches, tasks) for _ in range(FLOOR_REPEAT))
            delivered = handler.stats.delivered - delivered_before
            if failures or delivered != messages:
                raise SystemExit(f"run {run}: {failures} failures, {delivered}/{messages} delivered")
            result = {
                "messages": messages,
                "handler_us": 1e6 * total / messages,
                "aws_wire_us": 1e6 * wire / messages,
                "boto3_client_us": 1e6 * (in_boto3 - wire) / messages,
                "overhead_us": 1e6 * (total - wire) / messages,
                "own_code_us": 1e6 * (total - in_boto3) / messages,
                "channel_code_us": 1e6 * in_channel / messages,
                "floor_us": 1e6 * floor_s / messages,
                "aws_calls": sum(counter.values()) / messages,
                "slack_calls": sum(slack.calls.values()) / messages,
            }
            result["overhead_vs_floor"] = result["overhead_us"] / result["floor_us"]
            result["own_code_vs_floor"] = result["own_code_us"] / result["floor_us"]
            result["channel_code_vs_floor"] = result["channel_code_us"] / result["floor_us"]
            by_operation = {k: v / messages for k, v in sorted(counter.items())}
            if run and (best is None or result["overhead_us"] < best["overhead_us"]):
                best = result
                best_ops = by_operation
                best_slack = {k: v / messages for k, v in sorted(slack.calls.items())}
    assert best is not None, "--repeat must be at least 1"
    goal = 3 + sum(BOOKKEEPING_WRITES.values()) / len(BOOKKEEPING_WRITES)
    rows = [
        ("(a) consumer overhead / message", f"{best['overhead_us']:.0f} us", f"floor {best['floor_us']:.0f} us",
         f"{best['overhead_vs_floor']:.1f}x"),
        ("    of which boto3 client-side", f"{best['boto3_client_us']:.0f} us", "", ""),
        ("    of which runtime + channel code", f"{best['own_code_us']:.0f} us", f"floor {best['floor_us']:.0f} us",
         f"{best['own_code_vs_floor']:.1f}x"),
        ("      of which Slack channel code", f"{best['channel_code_us']:.0f} us", f"floor {best['floor_us']:.0f} us",
         f"{best['channel_code_vs_floor']:.1f}x"),
        ("    (handler wall time / message)", f"{best['handler_us']:.0f} us", f"AWS wire {best['aws_wire_us']:.0f} us", ""),
        ("(b) AWS calls / delivered message", f"{best['aws_calls']:.2f}", f"goal <= {goal:.2f}",
         f"{best['aws_calls'] / goal:.2f}x"),
        *[(f"      {op}", f"{n:.2f}", "", "") for op, n in best_ops.items()],
        ("(c) Slack calls / delivered message", f"{best['slack_calls']:.2f}", "", ""),
        *[(f"      {op}", f"{n:.2f}", "", "") for op, n in best_slack.items()],
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    print(f"{best['messages']} messages per run, best of {args.repeat}")
    print(f"{'measure':<{width}}  {'value':>10}  {'against':>20}  ratio")
    for name, value, against, ratio in rows:
        print(f"{name:<{width}}  {value:>10}  {against:>20}  {ratio}")
    if args.json:
        args.json.write_text(
            json.dumps({**best, "aws_by_operation": best_ops, "slack_by_method": best_slack}, indent=2)
        )


if __name__ == "__main__":
    main()
