"""Figures of one run (one design, one fault case), from the stand-ins and the delivery log.

- delivered / lost: expected (channel, event) deliveries that happened / never happened;
- duplicates (seen by the stand-ins): Slack posts carrying an event id already posted; GitHub status
  comments posted for a task that already had one;
- repeat writes: a Delivered outcome for a (channel, event) already delivered (the provider applied the
  same event again: a harmless PATCH on GitHub, a second post on Slack);
- calls per delivered message, and calls landing inside an announced Retry-After window: all of them,
  those inside a window announced to the very container, and the excess: for each window the stand-in
  announced (a 429/403 with Retry-After for a scope), each container may make one call inside it (the
  one through which it learns of the window); the excess is the calls beyond that, summed over windows
  and containers (a call inside two overlapping windows counts in both), next to the number of distinct
  calls that were a container's second or later call inside some window;
- latency (delivery time minus the event's write time) p50/p99 per channel for the events written while
  the fault was on (the same window in the baseline);
- drain: backlog = events written before the fault's end and not yet delivered then; drain time = from
  the fault's end until the last of them was delivered; ideal = backlog / configured rate. With a rate
  per scope (Slack: posts/s per workspace), the ideal is the largest per-scope backlog / rate, since
  one workspace's bucket cannot drain another's backlog (equal to backlog / (rate x workspaces) when the
  backlog is spread evenly, which is also reported). Also reported: when the provider released the
  channel (the fault's end, or the end of the last window the fault itself announced, if later: no
  client honouring Retry-After can call before it), and the drain counted from then. Events keep being
  written after the fault, and a channel that serves them while it drains (per-task FIFO order lets it,
  and starving them would be no better) has delivered more than the backlog by the drain's end: the
  *busy* ideal counts, per scope, the backlog plus the later events delivered before that scope's last
  backlog event, over the rate.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.recording import Delivery
from fanout.local.fakes.calllog import AnnouncedWindow, Call

SLACK = "slack"
GITHUB = "github"


@dataclass(frozen=True)
class Window:
    start: float  # epoch seconds
    end: float


@dataclass
class ChannelFigures:
    expected: int
    delivered: int
    lost: int
    duplicates: int
    repeat_writes: int
    api_calls: int
    calls_per_delivered: float | None
    inside_retry_after: int
    inside_own_retry_after: int
    inside_retry_after_excess: int  # beyond the first per container, per window
    inside_retry_after_excess_calls: int  # distinct calls that were a 2nd+ call inside some window
    inside_retry_after_excess_answered_ok: int  # ... that the provider accepted (it had lifted the limit)
    rate_limited: int  # Retry-After windows announced (calls answered 429, or 403 rate limit)
    latency_p50_s: float | None
    latency_p99_s: float | None
    latency_samples: int
    backlog_at_fault_end: int
    backlog_largest_scope: int
    drain_s: float | None
    rate_per_s: float | None  # configured, per scope
    drain_ideal_s: float | None  # largest per-scope backlog / rate
    drain_ideal_even_s: float | None  # backlog / (rate x scopes)
    mean_service_s: float | None
    released_after_s: float = 0.0  # the fault's last own window ends this long after the fault's end
    drain_after_release_s: float | None = None
    served_during_drain: int = 0  # events written after the fault's end, delivered while draining
    drain_ideal_busy_s: float | None = None  # largest per-scope (backlog + served during drain) / rate
    latency_in_fault_s: list[float] = field(default_factory=list)  # the p50/p99 samples, for pooling


def percentile(values: Iterable[float], q: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(0, math.ceil(q / 100 * len(ordered)) - 1)  # nearest rank
    return ordered[rank]


def slack_duplicates(posted_event_ids: Iterable[str | None]) -> int:
    counts = Counter(e for e in posted_event_ids if e is not None)
    return sum(n - 1 for n in counts.values() if n > 1)


def github_duplicates(calls: Iterable[Call]) -> int:
    posts = Counter(
        c.target for c in calls if c.ok and c.http_method == "POST" and c.api.endswith("/comments")
    )
    return sum(n - 1 for n in posts.values() if n > 1)


def retry_after_figures(
    calls: Iterable[Call], windows: Iterable[AnnouncedWindow]
) -> tuple[int, int, int, int, int]:
    """(calls inside any window, inside one announced to the same container, excess per window summed,
    distinct excess calls, of which the provider answered OK). A window's announcing call is inside it
    (it is that container's first). A window limited to one API method counts only calls to it."""
    all_calls = list(calls)
    inside = [c for c in all_calls if c.inside_retry_after]
    own = sum(1 for c in inside if c.inside_own_retry_after)
    excess = 0
    excess_calls: set[int] = set()
    for window in windows:
        per_container: dict[str | None, list[int]] = {}
        for index, c in enumerate(all_calls):
            limited = window.api is None or c.api == window.api
            if c.scope == window.scope and limited and window.announced_at <= c.t < window.until:
                per_container.setdefault(c.container, []).append(index)
        for indexes in per_container.values():
            ordered = sorted(indexes, key=lambda i: all_calls[i].t)
            excess += len(ordered) - 1
            excess_calls.update(ordered[1:])
    answered_ok = sum(1 for i in excess_calls if all_calls[i].ok)
    return len(inside), own, excess, len(excess_calls), answered_ok


def channel_figures(
    channel: str,
    *,
    expected: set[str],
    deliveries: list[Delivery],
    calls: list[Call],
    duplicates: int,
    fault: Window,
    windows: Iterable[AnnouncedWindow] = (),
    scope_of: Mapping[str, str] | None = None,
    scopes: int = 1,
    rate_per_s: float | None = None,
) -> ChannelFigures:
    """`scope_of` maps event id to its rate scope (Slack workspace); `rate_per_s` is per scope."""
    mine = sorted((d for d in deliveries if d.channel == channel), key=lambda d: d.delivered_at)
    first: dict[str, Delivery] = {}
    for item in mine:
        first.setdefault(item.event_id, item)
    delivered = [first[e] for e in expected if e in first]
    in_window = [d.delivered_at - d.written_at for d in delivered if fault.start <= d.written_at < fault.end]
    backlog = [
        d
        for e in expected
        if (d := first.get(e)) is not None and d.written_at < fault.end and d.delivered_at > fault.end
    ]
    drain = max((d.delivered_at - fault.end for d in backlog), default=0.0)
    announced = list(windows)
    released = max(
        [fault.end]
        + [w.until for w in announced if w.api is None and fault.start <= w.announced_at < fault.end]
    )
    scope = (scope_of or {}).get
    per_scope = Counter(scope(d.event_id, "") for d in backlog)
    largest = max(per_scope.values(), default=0)
    last_of_scope: dict[str, float] = {}
    for d in backlog:
        key = scope(d.event_id, "")
        last_of_scope[key] = max(last_of_scope.get(key, 0.0), d.delivered_at)
    served = Counter(
        scope(d.event_id, "")
        for d in delivered
        if d.written_at >= fault.end and d.delivered_at < last_of_scope.get(scope(d.event_id, ""), 0.0)
    )
    busiest = max((n + served[key] for key, n in per_scope.items()), default=0)
    inside, own, excess, excess_calls, excess_ok = retry_after_figures(calls, announced)
    services = [d.service_s for d in delivered]
    return ChannelFigures(
        expected=len(expected),
        delivered=len(delivered),
        lost=len(expected) - len(delivered),
        duplicates=duplicates,
        repeat_writes=len(mine) - len(first),
        api_calls=len(calls),
        calls_per_delivered=round(len(calls) / len(delivered), 2) if delivered else None,
        inside_retry_after=inside,
        inside_own_retry_after=own,
        inside_retry_after_excess=excess,
        inside_retry_after_excess_calls=excess_calls,
        inside_retry_after_excess_answered_ok=excess_ok,
        rate_limited=len(announced),
        latency_p50_s=_round(percentile(in_window, 50)),
        latency_p99_s=_round(percentile(in_window, 99)),
        latency_samples=len(in_window),
        backlog_at_fault_end=len(backlog),
        backlog_largest_scope=largest,
        drain_s=round(drain, 3),
        rate_per_s=rate_per_s,
        drain_ideal_s=round(largest / rate_per_s, 3) if rate_per_s else None,
        drain_ideal_even_s=round(len(backlog) / (rate_per_s * scopes), 3) if rate_per_s else None,
        mean_service_s=_round(sum(services) / len(services)) if services else None,
        released_after_s=round(released - fault.end, 3),
        drain_after_release_s=round(max(drain - (released - fault.end), 0.0), 3),
        served_during_drain=sum(served.values()),
        drain_ideal_busy_s=round(busiest / rate_per_s, 3) if rate_per_s else None,
        latency_in_fault_s=sorted(round(v, 3) for v in in_window),
    )


def drain_diagnostics(calls: Iterable[Call], scope: str, start: float, end: float) -> dict[str, Any]:
    """What one scope's provider saw while draining [start, end]: writes that went through, 429s (and
    their Retry-After), achieved write rate and the longest pause between successful writes."""
    mine = sorted((c for c in calls if c.scope == scope and start <= c.t <= end), key=lambda c: c.t)
    writes = [c.t for c in mine if c.ok and c.api == "chat.postMessage"]
    limited = [c for c in mine if c.status == 429]
    gaps = [b - a for a, b in zip([start, *writes], [*writes, end], strict=True)]
    span = end - start
    return {
        "scope": scope,
        "calls": len(mine),
        "writes_ok": len(writes),
        "answered_429": len(limited),
        "write_rate_per_s": round(len(writes) / span, 2) if span > 0 else None,
        "first_write_after_s": round(writes[0] - start, 2) if writes else None,
        "longest_pause_s": round(max(gaps, default=0.0), 2),
    }


def as_dict(figures: Mapping[str, ChannelFigures]) -> dict[str, Any]:
    return {name: asdict(value) for name, value in figures.items()}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def where_time_goes(
    fault: Window,
    *,
    processes: Mapping[
        str, tuple[Iterable[tuple[float, float]], Iterable[tuple[float, float, float | None]]]
    ],
    aws_calls: Iterable[Any],  # bench.recording.AwsCall
    deliveries: Iterable[Delivery],
) -> dict[str, Any]:
    """Evidence for GitHub's latency while Slack fails, over the fault window (the same window in the
    baseline): per process of the rig, its scheduling lateness (GIL and CPU waits) and the CPU it used
    per second (and moto's server's); each channel's AWS calls and how long the endpoint took to answer
    them; each GitHub delivery's timeline (written -> deliver started -> delivered)."""
    calls = [c for c in aws_calls if fault.start <= c.started_at < fault.end]
    span = fault.end - fault.start
    per_channel: dict[str, Any] = {}
    for name in sorted({c.channel for c in calls}):
        mine = [c for c in calls if c.channel == name]
        per_channel[name] = {
            "calls": len(mine),
            "calls_per_s": round(len(mine) / span, 2) if span > 0 else None,
            "answer_p50_ms": _ms(percentile((c.duration_s for c in mine), 50)),
            "answer_p99_ms": _ms(percentile((c.duration_s for c in mine), 99)),
            "by_operation": dict(Counter(c.operation for c in mine).most_common()),
        }
    github = sorted(
        (d for d in deliveries if d.channel == GITHUB and fault.start <= d.written_at < fault.end),
        key=lambda d: d.written_at,
    )
    return {
        "processes": {name: process_load(fault, lag, cpu) for name, (lag, cpu) in processes.items()},
        "aws": per_channel,
        # [written (s into the window), queued until deliver started, deliver (provider call) s]
        "github_timeline": [
            [
                round(d.written_at - fault.start, 3),
                round(d.delivered_at - d.service_s - d.written_at, 3),
                round(d.service_s, 3),
            ]
            for d in github
        ],
    }


def process_load(
    fault: Window, lag: Iterable[tuple[float, float]], cpu: Iterable[tuple[float, float, float | None]]
) -> dict[str, Any]:
    """One process over the fault window: how late a 5 ms sleep woke (p50, p99, max, summed), the CPU
    seconds per second it used, and those of the other process it watched (moto's server), if any."""
    inside = [late for t, late in lag if fault.start <= t < fault.end]
    edges = sorted(r for r in cpu if fault.start <= r[0] <= fault.end)
    own = other = None
    if len(edges) >= 2 and edges[-1][0] > edges[0][0]:
        (t0, own0, other0), (t1, own1, other1) = edges[0], edges[-1]
        own = round((own1 - own0) / (t1 - t0), 3)
        if other0 is not None and other1 is not None:
            other = round((other1 - other0) / (t1 - t0), 3)
    return {
        "lag_samples": len(inside),
        "lag_p50_ms": _ms(percentile(inside, 50)),
        "lag_p99_ms": _ms(percentile(inside, 99)),
        "lag_max_ms": _ms(max(inside)) if inside else None,
        "lag_total_s": round(sum(inside), 3),
        "cpu_per_s": own,
        "moto_cpu_per_s": other,
    }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)
