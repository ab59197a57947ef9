"""Slack consumer benchmark: AWS calls per delivered message against the earlier design's, and the
per-message overhead. One run, every path side by side.

    .venv/bin/python bench/consumer.py [--tasks 10] [--repeat 3] [--json PATH]

The whole Lambda path runs in-process: the runtime's `make_handler(build_slack_channel, ...)` gets SQS
batches (Lambda's record shape, 10 per batch, FIFO groups = tasks), reads and writes DynamoDB and reads
Secrets Manager on a local moto server (its own process) over HTTP, and talks to an instant Slack fake
(httpx.MockTransport). Each task is an @mention thread: task_created, session_started, agent_error,
task_completed. Each path gets a fresh container (handler), warmed on a task of its own first.

(a) AWS calls per delivered message (a botocore `before-call` hook), by operation:
    - *cold path*: every message delivered on its first receipt, in a quiet workspace (goal <= 3);
    - *hot paths* (goal <= 3.5 each): every message redelivered (receive count 2: it came back from a
      wait or a crashed container), and a workspace that saw trouble (Slack answered 503 on it in this
      container just before: for two minutes each message's claim also checks, in its transaction, that
      no sibling's Retry-After window is open);
    - *reference*: the earlier design's calls for the same messages, measured: the same Slack channel
      object's `prepare` (the task read) and `deliver` (the post and its bookkeeping write), inline, with
      no delivery ledger, no queue and no shared windows;
(b) consumer overhead per message on the cold path = handler time minus the time spent waiting on the AWS
    HTTP round trip (botocore's Endpoint._send, timed), so moto's own speed does not count; botocore's
    request building and response parsing do count, as they would in Lambda, and are shown apart from the
    runtime's and the channel's own code, and the Slack channel's share of that. Against the floor:
    parsing the message body and rendering its blocks (plus serializing the post);
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

from bench.consumer_workload import (  # noqa: E402
    InstantSlack,
    make_batches,
    provision,
    put_tasks,
    put_tasks_cache,
    redelivered,
)
from bench.load import describe, load_average  # noqa: E402
from bench.moto_process import moto_server  # noqa: E402
from consumers.runtime.channel import Prepared  # noqa: E402
from consumers.runtime.clients import AWS_CONFIG, Clients  # noqa: E402
from consumers.runtime.lambda_entry import make_handler  # noqa: E402
from consumers.runtime.outcomes import Delivered  # noqa: E402
from consumers.runtime.settings import ConsumerSettings  # noqa: E402
from consumers.runtime.task_writes import apply_alone  # noqa: E402
from consumers.slack.channel import build_slack_channel  # noqa: E402
from consumers.slack.render import message_metadata, render  # noqa: E402
from fanout.events import TaskEvent  # noqa: E402

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


def aws(service: str, endpoint: str, counter: Counter[str]) -> Any:
    client = boto3.client(service, endpoint_url=endpoint, config=AWS_CONFIG)  # type: ignore[call-overload]

    def count(model: Any, **_: Any) -> None:
        counter[f"{service}:{model.name}"] += 1

    client.meta.events.register("before-call.*.*", count)
    return client


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


GOAL_COLD = 3.0
GOAL_HOT = 3.5
REFERENCE_CALLS = "earlier design"


def run_batches(handler: Any, batches: list[dict[str, Any]], *, allow_retries: bool = False) -> int:
    """Run the batches through the handler; a message sent back is run again (as its next receipt) when
    allow_retries, else the run fails. Returns the messages delivered."""
    delivered_before = handler.stats.delivered
    pending = batches
    for _ in range(10):
        retry: list[dict[str, Any]] = []
        with contextlib.redirect_stdout(io.StringIO()):  # EMF metric lines: written, not shown
            for batch in pending:
                failed = {f["itemIdentifier"] for f in handler(batch, None)["batchItemFailures"]}
                retry += [r for r in batch["Records"] if r["messageId"] in failed]
        if not retry:
            break
        if not allow_retries:
            raise SystemExit(f"{len(retry)} messages failed on the cold path")
        time.sleep(1.1)  # the whole-second visibility wait the message was given
        pending = [{"Records": redelivered([{"Records": retry}], 2)[0]["Records"]}]
    return int(handler.stats.delivered - delivered_before)


def reference_run(channel: Any, dynamodb: Any, batches: list[dict[str, Any]]) -> int:
    """The earlier design: each event through the channel inline, prepare then deliver, and the
    delivery's bookkeeping write on its own (no ledger to commit it with)."""
    delivered = 0
    for batch in batches:
        for record in batch["Records"]:
            prepared = channel.prepare(TaskEvent.from_body(record["body"]))
            if not isinstance(prepared, Prepared):
                continue
            outcome = channel.deliver(prepared)
            record = outcome.record if isinstance(outcome, Delivered) else None
            if record is not None and not apply_alone(dynamodb, record):
                outcome = record.lost()
            if isinstance(outcome, Delivered):
                delivered += 1
    return delivered


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10, help="tasks per run (4 messages each)")
    parser.add_argument("--repeat", type=int, default=3, help="cold-path overhead runs; the best is reported")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    load_before = load_average()
    started = time.perf_counter()
    Logger(service="slack", stream=io.StringIO())  # the service's log lines are written, but not shown
    Endpoint._send = timed("wire", Endpoint._send)  # type: ignore[method-assign]
    BaseClient._make_api_call = timed("boto3", BaseClient._make_api_call)  # type: ignore[method-assign]
    paths: dict[str, dict[str, Any]] = {}
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
        run_ids = itertools.count()

        def workload(count: int, receive_count: int = 1) -> list[dict[str, Any]]:
            run = next(run_ids)
            tasks = put_tasks(dynamodb, tasks_table, run, count)
            return redelivered(make_batches(list(tasks), run), receive_count)

        def counted(name: str, fn: Any, batches: list[dict[str, Any]], goal: float | None) -> None:
            counter.clear()
            slack.calls.clear()
            delivered = fn(batches)
            messages = sum(len(b["Records"]) for b in batches)
            if delivered != messages:
                raise SystemExit(f"{name}: {delivered}/{messages} delivered")
            paths[name] = {
                "aws_calls": sum(counter.values()) / delivered,
                "by_operation": {k: v / delivered for k, v in sorted(counter.items())},
                "slack_calls": sum(slack.calls.values()) / delivered,
                "slack_by_method": {k: v / delivered for k, v in sorted(slack.calls.items())},
                "goal": goal,
            }

        # The cold path, with the overhead figures: the best of --repeat runs on one warmed container.
        handler = make_handler(build_slack_channel, settings, clients)
        time_channel(handler.channel)
        run_batches(handler, workload(1))  # warms imports, the token cache and the connections
        best: dict[str, float] | None = None
        for _ in range(args.repeat):
            batches = workload(args.tasks)
            messages = sum(len(b["Records"]) for b in batches)
            _timers.update(wire=0.0, boto3=0.0, channel=0.0)
            start = time.perf_counter()
            counted("cold", lambda b, h=handler: run_batches(h, b), batches, GOAL_COLD)
            total = time.perf_counter() - start
            wire, in_boto3, in_channel = _timers["wire"], _timers["boto3"], _timers["channel"]
            floor_s = min(
                timed_call(floor, batches, put_tasks_cache(dynamodb, tasks_table, batches)) for _ in range(3)
            )
            result = {
                "messages": messages,
                "handler_us": 1e6 * total / messages,
                "aws_wire_us": 1e6 * wire / messages,
                "boto3_client_us": 1e6 * (in_boto3 - wire) / messages,
                "overhead_us": 1e6 * (total - wire) / messages,
                "own_code_us": 1e6 * (total - in_boto3) / messages,
                "channel_code_us": 1e6 * in_channel / messages,
                "floor_us": 1e6 * floor_s / messages,
            }
            if best is None or result["overhead_us"] < best["overhead_us"]:
                best = result
        assert best is not None, "--repeat must be at least 1"

        # Hot path 1: every message comes back once (a fresh container, warmed).
        handler = make_handler(build_slack_channel, settings, clients)
        run_batches(handler, workload(1))
        counted("redelivered", lambda b, h=handler: run_batches(h, b), workload(args.tasks, 2), GOAL_HOT)

        # Hot path 2: the workspace saw trouble in this container (one 503), then every message is new.
        handler = make_handler(build_slack_channel, settings, clients)
        slack.fail_next = 1
        run_batches(handler, workload(1), allow_retries=True)
        counted(
            "troubled workspace",
            lambda b, h=handler: run_batches(h, b, allow_retries=True),
            workload(args.tasks),
            GOAL_HOT,
        )

        # The earlier design, for the same messages: the same channel, inline.
        channel = build_slack_channel(settings, clients, time.time)
        reference_run(channel, clients.dynamodb, workload(1))
        counted(
            REFERENCE_CALLS, lambda b: reference_run(channel, clients.dynamodb, b), workload(args.tasks), None
        )
    load_after = load_average()

    reference = paths[REFERENCE_CALLS]["aws_calls"]
    print(
        f"bench/consumer.py --tasks {args.tasks} --repeat {args.repeat}: {best['messages']} messages per path, "
        f"{time.perf_counter() - started:.0f} s, load average before {describe(load_before)}, "
        f"after {describe(load_after)}\n"
    )
    print(
        "| path | AWS calls / delivered message | by operation | goal | earlier design | verdict | Slack calls |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, path in paths.items():
        ops = ", ".join(f"{op.split(':')[1]} {n:.2f}" for op, n in path["by_operation"].items())
        goal = path["goal"]
        verdict = "" if goal is None else ("PASS" if path["aws_calls"] <= goal else "FAIL")
        path["verdict"] = verdict
        print(
            f"| {name} | {path['aws_calls']:.2f} | {ops} | {'' if goal is None else f'<= {goal}'} "
            f"| {reference:.2f} | {verdict} | {path['slack_calls']:.2f} |"
        )
    print(
        f"\ncold path overhead per message (best of {args.repeat}): {best['overhead_us']:.0f} us against the floor "
        f"{best['floor_us']:.0f} us; boto3 client-side {best['boto3_client_us']:.0f} us, runtime + channel code "
        f"{best['own_code_us']:.0f} us (Slack channel {best['channel_code_us']:.0f} us); handler wall time "
        f"{best['handler_us']:.0f} us, of which waiting on AWS {best['aws_wire_us']:.0f} us"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "load_before": load_before,
            "load_after": load_after,
            "paths": paths,
            "cold_overhead": best,
        }
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
