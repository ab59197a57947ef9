"""Router benchmark: fanout's router against a minimal reference router, on one local SQS endpoint.

    .venv/bin/python bench/router.py [--events 200] [--sizes 1,10,100] [--rounds 5] [--window] [--json PATH]

Both routers get the same stream records in batches of 1, 10 and 100 (as the stream mapping delivers them)
and send to queues of their own on one moto server (in its own process) over HTTP, through real boto3 SQS
clients. fanout's router runs as deployed: its handler module with Powertools logging at INFO and its
metrics on (both written to stdout, here /dev/null). The reference (`bench/reference_router.py`, about 30
lines) deserializes with boto3's TypeDeserializer, serializes with json.dumps and sends SendMessageBatch
of 10. Each round runs every batch size through both routers, alternating which goes first; the figures
are medians over the rounds with their ranges. Goal: fanout at most 1.5x the reference's time per event
at each batch size. It is judged on the routers' CPU time in this process (parsing, planning, boto3's
request building, signing and parsing, logging, metrics): both make the same SQS calls to the same server,
so their wall times differ by that CPU time plus the loaded machine's noise (moto's answers dominate the
wall time here, and are shown next to it).

`--window` adds the batching window's trade-off (`fanout:router:batchingWindowS`, bench/router_window.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from bench.load import describe, load_average  # noqa: E402
from bench.moto_process import moto_server  # noqa: E402
from bench.reference_router import reference_router  # noqa: E402

GOAL_RATIO = 1.5
CHANNELS = ("slack", "github")
LIFECYCLE = [
    ("task_created", {}),
    ("session_started", {}),
    ("agent_milestone", {"milestone": "pr_created"}),
    ("agent_error", {"error_type": "ToolError", "message_preview": "x" * 120}),
    ("task_completed", {}),
]
# The reference routes stored event types; these send each channel what fanout's registry sends it.
REFERENCE_ROUTES = {
    "slack": frozenset({"task_created", "session_started", "agent_error", "task_completed"}),
    "github": frozenset({"agent_milestone", "task_completed"}),
}
Handler = Callable[[dict[str, Any], Any], Any]


class CountingSQS:
    """A real boto3 SQS client that counts SendMessageBatch calls and the messages they carried."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls = 0
        self.sent = 0

    def send_message_batch(self, **kwargs: Any) -> Any:
        self.calls += 1
        response = self._client.send_message_batch(**kwargs)
        self.sent += len(response.get("Successful", []))
        return response


def make_records(events: int, run: str) -> list[dict[str, Any]]:
    """`events` stream records of events/5 tasks through their lifecycle, step by step (so a batch holds
    many tasks, as under load); event ids unique per run, so FIFO deduplication never drops one."""
    tasks = max(1, events // len(LIFECYCLE))
    records = []
    for seq in range(events):
        step, task = divmod(seq, tasks)
        event_type, metadata = LIFECYCLE[step % len(LIFECYCLE)]
        image = {
            "task_id": {"S": f"task-{task:05d}"},
            "event_id": {"S": f"01J{run}{seq:020d}"},
            "event_type": {"S": event_type},
            "timestamp": {"S": "2026-11-26T10:00:00Z"},
            "metadata": {"M": {k: {"S": v} for k, v in metadata.items()}},
        }
        records.append(
            {
                "eventID": str(seq),
                "eventName": "INSERT",
                "dynamodb": {"NewImage": image, "SequenceNumber": str(seq)},
            }
        )
    return records


def batches(records: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    return [{"Records": records[i : i + size]} for i in range(0, len(records), size)]


def create_queues(sqs: Any, name: str) -> dict[str, str]:
    """Fresh FIFO queues per run, so no run pays for the messages of another."""
    return {
        channel: sqs.create_queue(QueueName=f"{name}-{channel}.fifo", Attributes={"FifoQueue": "true"})[
            "QueueUrl"
        ]
        for channel in CHANNELS
    }


def timed(handler: Handler, events: list[dict[str, Any]]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for event in events:
        response = handler(event, None)
        if response["batchItemFailures"]:
            raise RuntimeError(f"a record was not routed: {response}")
    return time.perf_counter() - wall, time.process_time() - cpu


def median_span(values: Sequence[float], scale: float = 1.0) -> str:
    return f"{scale * statistics.median(values):.0f} ({scale * min(values):.0f}-{scale * max(values):.0f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200, help="stream records per run")
    parser.add_argument("--sizes", default="1,10,100", help="stream batch sizes")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", action="store_true", help="also the batching window's trade-off")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    out = sys.stdout
    # As deployed: Powertools logs at INFO and metrics are on; Lambda ships stdout to CloudWatch Logs.
    for name in ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_LOG_LEVEL"):
        os.environ.pop(name, None)
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Fanout")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "fanout-router")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the whole run: the logger keeps the stream)

    from fanout.router.handler import make_handler
    from fanout.router.settings import RouterSettings

    load_before = load_average()
    started = time.perf_counter()
    figures: dict[int, dict[str, dict[str, list[float]]]] = {
        size: {side: {"wall": [], "cpu": [], "calls": [], "sent": []} for side in ("fanout", "reference")}
        for size in sizes
    }
    window_rows: list[dict[str, Any]] = []
    with moto_server() as endpoint:
        client = boto3.client("sqs", endpoint_url=endpoint)
        for round_number in range(args.rounds):
            for size in sizes:
                sides = ["fanout", "reference"] if round_number % 2 == 0 else ["reference", "fanout"]
                for side in sides:
                    queues = {side: create_queues(client, f"bench-{side}-{round_number}-{size}")}
                    sqs = CountingSQS(boto3.client("sqs", endpoint_url=endpoint))
                    if side == "fanout":
                        handler = make_handler(RouterSettings(queue_urls=queues[side]), sqs=sqs)  # type: ignore[arg-type]
                    else:
                        handler = reference_router(sqs, queues[side], REFERENCE_ROUTES)
                    events = batches(make_records(args.events, f"R{round_number:02d}S{size:03d}"), size)
                    handler(batches(make_records(10, f"W{round_number:02d}S{size:03d}"), 10)[0], None)  # warm
                    sqs.calls = sqs.sent = 0
                    wall, cpu = timed(handler, events)
                    per = figures[size][side]
                    per["wall"].append(wall / args.events)
                    per["cpu"].append(cpu / args.events)
                    per["calls"].append(sqs.calls)
                    per["sent"].append(sqs.sent)
                    for url in queues[side].values():
                        client.delete_queue(QueueUrl=url)
        if args.window:
            from bench.router_window import window_tradeoff

            window_rows = window_tradeoff(endpoint, make_handler, RouterSettings)
    load_after = load_average()
    sys.stdout = out

    rows = []
    for size in sizes:
        mine, ref = figures[size]["fanout"], figures[size]["reference"]
        ratio = statistics.median(mine["cpu"]) / statistics.median(ref["cpu"])
        rows.append(
            {
                "batch_size": size,
                "fanout_us_per_event": median_span(mine["wall"], 1e6),
                "reference_us_per_event": median_span(ref["wall"], 1e6),
                "ratio": round(ratio, 2),
                "wall_ratio": round(statistics.median(mine["wall"]) / statistics.median(ref["wall"]), 2),
                "fanout_cpu_us_per_event": median_span(mine["cpu"], 1e6),
                "reference_cpu_us_per_event": median_span(ref["cpu"], 1e6),
                "sqs_calls_per_1000": round(1000 * statistics.median(mine["calls"]) / args.events),
                "reference_sqs_calls_per_1000": round(1000 * statistics.median(ref["calls"]) / args.events),
                "messages_sent": (statistics.median(mine["sent"]), statistics.median(ref["sent"])),
                "verdict": "PASS" if ratio <= GOAL_RATIO else "FAIL",
            }
        )
    print(
        f"bench/router.py --events {args.events} --rounds {args.rounds}: {time.perf_counter() - started:.0f} s, "
        f"load average before {describe(load_before)}, after {describe(load_after)}\n"
    )
    print(
        "| stream batch size | fanout CPU us/event | reference CPU us/event | ratio (goal <= 1.5x) | wall us/event "
        "fanout / reference (ratio) | SQS calls per 1,000 events fanout / reference | messages sent |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['batch_size']} | {r['fanout_cpu_us_per_event']} | {r['reference_cpu_us_per_event']} "
            f"| {r['ratio']:.2f}x {r['verdict']} | {r['fanout_us_per_event']} / {r['reference_us_per_event']} "
            f"({r['wall_ratio']:.2f}x) | {r['sqs_calls_per_1000']} / {r['reference_sqs_calls_per_1000']} "
            f"| {r['messages_sent'][0]:.0f} / {r['messages_sent'][1]:.0f} |"
        )
    if window_rows:
        from bench.router_window import print_window

        print_window(window_rows)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"load_before": load_before, "load_after": load_after, "rows": rows, "window": window_rows}
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0 if all(r["verdict"] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
