"""The router's batching window (`fanout:router:batchingWindowS`): SQS calls saved against latency added.

For each traffic rate and window, events arrive at random (a Poisson process, seeded) from 20 tasks
running side by side. How Lambda's stream mapping groups them into invocations is modelled, not waited
for: with no window it polls the shard four times a second and invokes with what arrived; with a window it
gathers from the first record until the window ends or 100 records are in. Each resulting batch then goes
through fanout's real router, against the same moto server as bench/router.py, which gives the measured
part: SQS calls per event and the handler's time. The latency an event gains is its modelled wait for the
invocation plus the measured handler time of its batch.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import boto3

POLL_INTERVAL_S = 0.25  # Lambda's stream pollers, without a batching window
MAX_BATCH = 100
TASKS = 20
EVENTS = 100
RATES = (0.5, 5.0, 50.0)  # events per second
WINDOWS = (0, 1, 5)  # seconds
ROUTER_MEMORY_GB = 0.25


def arrivals(rate: float, events: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    now, out = 0.0, []
    for _ in range(events):
        now += rng.expovariate(rate)
        out.append(now)
    return out


def invocations(times: Sequence[float], window_s: int) -> list[tuple[float, list[int]]]:
    """(invoke time, indexes of the events in the batch), as the stream mapping would group them."""
    groups: list[tuple[float, list[int]]] = []
    index = 0
    while index < len(times):
        first = times[index]
        close = (int(first / POLL_INTERVAL_S) + 1) * POLL_INTERVAL_S if window_s == 0 else first + window_s
        batch = []
        while index < len(times) and times[index] <= close and len(batch) < MAX_BATCH:
            batch.append(index)
            index += 1
        invoke = close if len(batch) < MAX_BATCH else times[batch[-1]]
        groups.append((invoke, batch))
    return groups


def record(index: int, run: str) -> dict[str, Any]:
    from bench.router import LIFECYCLE

    task, step = index % TASKS, (index // TASKS) % len(LIFECYCLE)
    event_type, metadata = LIFECYCLE[step]
    image = {
        "task_id": {"S": f"task-{task:03d}"},
        "event_id": {"S": f"01JWIN{run}{index:012d}"},
        "event_type": {"S": event_type},
        "timestamp": {"S": "2026-11-26T10:00:00Z"},
        "metadata": {"M": {k: {"S": v} for k, v in metadata.items()}},
    }
    return {
        "eventID": str(index),
        "eventName": "INSERT",
        "dynamodb": {"NewImage": image, "SequenceNumber": str(index)},
    }


def window_tradeoff(
    endpoint: str, make_handler: Callable[..., Any], settings_type: Callable[..., Any]
) -> list[dict[str, Any]]:
    from bench.router import CountingSQS, create_queues

    client = boto3.client("sqs", endpoint_url=endpoint)
    rows = []
    for rate in RATES:
        times = arrivals(rate, EVENTS, seed=int(rate * 1000))
        for window in WINDOWS:
            run = f"{int(rate * 10):04d}{window:03d}"
            queues = create_queues(client, f"window-{run}")
            sqs = CountingSQS(boto3.client("sqs", endpoint_url=endpoint))
            handler = make_handler(settings_type(queue_urls=queues), sqs=sqs)
            latencies, durations = [], []
            for invoke_at, batch in invocations(times, window):
                started = time.perf_counter()
                handler({"Records": [record(i, run) for i in batch]}, None)
                took = time.perf_counter() - started
                durations.append(took)
                latencies += [invoke_at - times[i] + took for i in batch]
            for url in queues.values():
                client.delete_queue(QueueUrl=url)
            latencies.sort()
            rows.append(
                {
                    "rate_per_s": rate,
                    "window_s": window,
                    "invocations_per_1000": round(1000 * len(durations) / EVENTS),
                    "sqs_calls_per_1000": round(1000 * sqs.calls / EVENTS),
                    "gb_s_per_1000": round(1000 * ROUTER_MEMORY_GB * sum(durations) / EVENTS, 2),
                    "latency_p50_s": round(statistics.median(latencies), 2),
                    "latency_p99_s": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2),
                }
            )
    return rows


def print_window(rows: list[dict[str, Any]]) -> None:
    print("\nbatching window (`fanout:router:batchingWindowS`): arrivals modelled, routing measured\n")
    print(
        "| events/s | window s | invocations per 1,000 events | SQS calls per 1,000 events "
        "| router GB-s per 1,000 events | added latency p50 / p99 s |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['rate_per_s']} | {r['window_s']} | {r['invocations_per_1000']} | {r['sqs_calls_per_1000']} "
            f"| {r['gb_s_per_1000']} | {r['latency_p50_s']} / {r['latency_p99_s']} |"
        )
