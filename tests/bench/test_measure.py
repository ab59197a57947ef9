"""The isolation benchmark's figures: duplicates, Retry-After counts, percentiles, windows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bench import measure
from bench.recording import AwsCall, Delivery
from fanout.local.fakes.calllog import AnnouncedWindow, Call


@pytest.fixture
def call() -> Callable[..., Call]:
    def make(**fields: Any) -> Call:
        values: dict[str, Any] = {
            "t": 0.0,
            "provider": "github",
            "http_method": "POST",
            "path": "/repos/acme/bench/issues/1/comments",
            "api": "POST /repos/{repo}/issues/{n}/comments",
            "scope": "token",
            "container": "github-0",
            "status": 201,
            "target": "acme/bench#1",
        }
        values.update(fields)
        return Call(**values)

    return make


@pytest.fixture
def delivery() -> Callable[..., Delivery]:
    def make(event_id: str, written: float, delivered: float, channel: str = "github") -> Delivery:
        return Delivery(channel, event_id, "task_completed", written, delivered, 0.01)

    return make


def test_slack_duplicates_count_posts_beyond_the_first_per_event() -> None:
    assert measure.slack_duplicates(["e1", "e1", "e1", "e2", None, None]) == 2


def test_github_duplicates_count_extra_status_comments_per_task(call: Callable[..., Call]) -> None:
    calls = [
        call(),
        call(),  # a second comment on the same PR
        call(status=403, error="secondary rate limit"),  # failed: not a comment
        call(http_method="PATCH", api="PATCH /repos/{repo}/issues/comments/{id}", status=200),
        call(target="acme/bench#2"),
    ]
    assert measure.github_duplicates(calls) == 1


def test_retry_after_excess_allows_one_call_per_container_per_window(call: Callable[..., Call]) -> None:
    windows = [
        AnnouncedWindow("T1", 10.0, 12.0, "a"),  # a learns of it through its own 429 at t=10
        AnnouncedWindow("T1", 20.0, 21.0, "b"),
    ]
    calls = [
        call(t=10.0, scope="T1", container="a", status=429),  # announcing call: a's first
        call(t=10.5, scope="T1", container="b", inside_retry_after=True),  # b's first: how b learns
        call(t=11.0, scope="T1", container="b", inside_retry_after=True),  # b's second: excess
        call(t=11.5, scope="T1", container="a", inside_retry_after=True, inside_own_retry_after=True),
        call(t=11.9, scope="T2", container="a"),  # another scope
        call(t=12.0, scope="T1", container="a"),  # the window has ended
        call(t=20.0, scope="T1", container="b", status=429),
        call(t=20.5, scope="T1", container="a", inside_retry_after=True),  # a's first in the 2nd window
    ]
    assert measure.retry_after_figures(calls, windows) == (4, 1, 2, 2, 2)


def test_overlapping_windows_count_the_excess_in_each_but_the_call_once(call: Callable[..., Call]) -> None:
    windows = [AnnouncedWindow("T1", 0.0, 2.0, "a"), AnnouncedWindow("T1", 0.5, 2.5, "b")]
    calls = [call(t=t, scope="T1", container="c", inside_retry_after=True) for t in (1.0, 1.5)]
    assert measure.retry_after_figures(calls, windows) == (2, 0, 2, 1, 1)


def test_a_window_limited_to_one_method_counts_only_calls_to_it(call: Callable[..., Call]) -> None:
    windows = [AnnouncedWindow("T1", 0.0, 1.0, "a", api="chat.postMessage")]
    calls = [
        call(t=0.0, scope="T1", container="a", api="chat.postMessage", status=429),
        call(t=0.2, scope="T1", container="a", api="reactions.add", status=200),
        call(t=0.4, scope="T1", container="a", api="chat.postMessage", status=429),
    ]
    assert measure.retry_after_figures(calls, windows)[2:4] == (1, 1)


def test_percentile_is_nearest_rank() -> None:
    assert measure.percentile([], 50) is None
    assert measure.percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.0
    assert measure.percentile(range(1, 101), 99) == 99


def test_channel_figures_window_backlog_and_lost(delivery: Callable[..., Delivery]) -> None:
    deliveries = [
        delivery("e1", written=1.0, delivered=1.5),  # before the fault
        delivery("e2", written=3.0, delivered=7.0),  # written in the fault, delivered after it ends
        delivery("e2", written=3.0, delivered=8.0),  # a repeat write
        delivery("other", written=3.0, delivered=3.1, channel="slack"),
    ]
    figures = measure.channel_figures(
        "github",
        expected={"e1", "e2", "e3"},
        deliveries=deliveries,
        calls=[],
        duplicates=0,
        fault=measure.Window(2.0, 6.0),
    )
    assert (figures.delivered, figures.lost, figures.repeat_writes) == (2, 1, 1)
    assert figures.latency_samples == 1
    assert figures.latency_p99_s == 4.0
    assert figures.backlog_at_fault_end == 1
    assert figures.drain_s == 1.0


def test_drain_ideal_is_the_largest_workspace_backlog_over_the_rate(
    delivery: Callable[..., Delivery],
) -> None:
    deliveries = [
        delivery("a1", written=3.0, delivered=8.0, channel="slack"),
        delivery("a2", written=4.0, delivered=9.0, channel="slack"),
        delivery("a3", written=5.0, delivered=10.0, channel="slack"),
        delivery("b1", written=5.0, delivered=7.0, channel="slack"),
        delivery("b2", written=7.0, delivered=12.0, channel="slack"),  # written after the fault: no backlog
        delivery("a4", written=6.5, delivered=9.5, channel="slack"),  # ... served while TA drained
    ]
    figures = measure.channel_figures(
        "slack",
        expected={"a1", "a2", "a3", "a4", "b1", "b2"},
        deliveries=deliveries,
        calls=[],
        duplicates=0,
        fault=measure.Window(2.0, 6.0),
        scope_of={"a1": "TA", "a2": "TA", "a3": "TA", "a4": "TA", "b1": "TB", "b2": "TB"},
        scopes=2,
        rate_per_s=2.0,
    )
    assert (figures.backlog_at_fault_end, figures.backlog_largest_scope) == (4, 3)
    assert figures.served_during_drain == 1  # a4; b2 came after TB's backlog was done
    assert figures.drain_ideal_busy_s == 2.0  # TA: 3 backlog + 1 served, at 2/s
    assert figures.drain_s == 4.0  # the last backlog message (a3) at 10.0, the fault ended at 6.0
    assert figures.drain_ideal_s == 1.5  # TA's 3 messages at 2/s
    assert figures.drain_ideal_even_s == 1.0  # 4 messages at 2/s x 2 workspaces


def test_the_drain_is_also_counted_from_when_the_faults_own_last_window_ends(
    delivery: Callable[..., Delivery],
) -> None:
    windows = [
        AnnouncedWindow("TA", announced_at=5.5, until=7.5, container="c1"),  # the fault's own
        AnnouncedWindow("TA", announced_at=5.8, until=9.0, container="c2", api="chat.postMessage"),
        AnnouncedWindow("TA", announced_at=6.5, until=8.5, container="c1"),  # after the fault's end
    ]
    figures = measure.channel_figures(
        "slack",
        expected={"a1"},
        deliveries=[delivery("a1", written=3.0, delivered=10.0, channel="slack")],
        calls=[],
        duplicates=0,
        fault=measure.Window(2.0, 6.0),
        windows=windows,
        scope_of={"a1": "TA"},
        rate_per_s=2.0,
    )
    assert figures.drain_s == 4.0
    assert figures.released_after_s == 1.5  # the posting rate's windows and later ones do not count
    assert figures.drain_after_release_s == 2.5


def test_drain_diagnostics_count_writes_429s_and_pauses(call: Callable[..., Call]) -> None:
    post = {"provider": "slack", "api": "chat.postMessage", "http_method": "POST", "scope": "T1"}
    calls = [
        call(t=6.5, status=200, **post),
        call(t=7.0, status=429, error="ratelimited", **post),
        call(t=9.0, status=200, **post),
        call(t=9.5, status=200, **{**post, "scope": "T2"}),
    ]
    figures = measure.drain_diagnostics(calls, "T1", 6.0, 10.0)
    assert figures == {
        "scope": "T1",
        "calls": 3,
        "writes_ok": 2,
        "answered_429": 1,
        "write_rate_per_s": 0.5,
        "first_write_after_s": 0.5,
        "longest_pause_s": 2.5,
    }


def test_where_time_goes_counts_the_fault_window_only(delivery: Callable[..., Delivery]) -> None:
    fault = measure.Window(100.0, 104.0)
    lag = [(99.0, 0.5), (100.5, 0.001), (101.0, 0.003), (103.9, 0.010), (104.0, 0.9)]
    cpu = [(99.0, 0.0, 0.0), (100.0, 1.0, 10.0), (104.0, 3.0, 12.0), (105.0, 9.0, 99.0)]
    calls = [
        AwsCall("slack", "sqs.ChangeMessageVisibility", 100.1, 0.02),
        AwsCall("slack", "dynamodb.UpdateItem", 101.0, 0.04),
        AwsCall("github", "dynamodb.GetItem", 102.0, 0.01),
        AwsCall("github", "dynamodb.GetItem", 104.5, 5.0),  # after the window: not counted
    ]
    deliveries = [
        Delivery("github", "e1", "task_completed", 101.0, 102.5, 0.5),
        Delivery("slack", "e2", "task_completed", 101.0, 101.2, 0.1),
        Delivery("github", "e3", "task_completed", 99.0, 100.5, 0.1),  # written before the window
    ]

    found = measure.where_time_goes(
        fault, processes={"bench": (lag, cpu)}, aws_calls=calls, deliveries=deliveries
    )

    bench = found["processes"]["bench"]
    assert bench["lag_samples"] == 3
    assert (bench["lag_p50_ms"], bench["lag_max_ms"], bench["lag_total_s"]) == (3.0, 10.0, 0.014)
    assert bench["cpu_per_s"] == 0.5  # (3 - 1) CPU seconds over 4 s
    assert bench["moto_cpu_per_s"] == 0.5
    assert found["aws"]["slack"]["calls"] == 2
    assert found["aws"]["slack"]["calls_per_s"] == 0.5
    assert found["aws"]["slack"]["answer_p99_ms"] == 40.0
    assert found["aws"]["github"]["by_operation"] == {"dynamodb.GetItem": 1}
    # written 1 s into the window, waited 1 s before deliver started, deliver took 0.5 s
    assert found["github_timeline"] == [[1.0, 1.0, 0.5]]


def test_process_load_without_readings_says_so() -> None:
    empty = measure.process_load(measure.Window(0.0, 1.0), [], [(0.5, 1.0, None)])
    assert empty["lag_samples"] == 0
    assert empty["lag_p99_ms"] is None
    assert empty["cpu_per_s"] is None
