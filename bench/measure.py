"""Figures of one run (one design, one fault case), from the stand-ins and the delivery log.

- delivered / lost: expected (channel, event) deliveries that happened / never happened;
- duplicates (seen by the stand-ins): Slack posts carrying an event id already posted; GitHub status
  comments posted for a task that already had one;
- repeat writes: a Delivered outcome for a (channel, event) already delivered (the provider applied the
  same event again: a harmless PATCH on GitHub, a second post on Slack);
- calls per delivered message, and calls landing inside an announced Retry-After window: all of them,
  those inside a window announced to the very container, and the excess beyond the first per container;
- latency (delivery time minus the event's write time) p50/p99 per channel for the events written while
  the fault was on (the same window in the baseline);
- drain: from the fault's end until every event written before it was delivered on every channel, next
  to the ideal: the backlog at the fault's end divided by the channel rate (see `channel_rate`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bench.recording import Delivery
from fanout.local.fakes.calllog import Call

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
    inside_retry_after_excess: int  # beyond the first per container
    latency_p50_s: float | None
    latency_p99_s: float | None
    latency_samples: int
    backlog_at_fault_end: int
    drain_s: float | None
    mean_service_s: float | None


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


def retry_after_figures(calls: Iterable[Call]) -> tuple[int, int, int]:
    inside = [c for c in calls if c.inside_retry_after]
    own = sum(1 for c in inside if c.inside_own_retry_after)
    per_container = Counter(c.container for c in inside)
    excess = sum(n - 1 for n in per_container.values() if n > 1)
    return len(inside), own, excess


def channel_figures(
    channel: str,
    *,
    expected: set[str],
    deliveries: list[Delivery],
    calls: list[Call],
    duplicates: int,
    fault: Window,
) -> ChannelFigures:
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
    inside, own, excess = retry_after_figures(calls)
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
        latency_p50_s=_round(percentile(in_window, 50)),
        latency_p99_s=_round(percentile(in_window, 99)),
        latency_samples=len(in_window),
        backlog_at_fault_end=len(backlog),
        drain_s=round(drain, 3),
        mean_service_s=_round(sum(services) / len(services)) if services else None,
    )


def channel_rate(concurrency: int, mean_service_s: float | None) -> float | None:
    """Messages per second a channel's consumers deliver when busy: concurrency / mean service time (the
    time deliver takes for one message, measured in the fault-free run of the same design)."""
    if not mean_service_s:
        return None
    return concurrency / mean_service_s


def as_dict(figures: Mapping[str, ChannelFigures]) -> dict[str, Any]:
    return {name: asdict(value) for name, value in figures.items()}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
