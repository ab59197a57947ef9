"""The isolation benchmark's figures: duplicates, Retry-After counts, percentiles, windows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bench import measure
from bench.recording import Delivery
from fanout.local.fakes.calllog import Call


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


def test_retry_after_excess_allows_one_call_per_container(call: Callable[..., Call]) -> None:
    calls = [
        call(inside_retry_after=True, container="a"),
        call(inside_retry_after=True, container="b"),
        call(inside_retry_after=True, inside_own_retry_after=True, container="b"),
        call(container="c"),
    ]
    assert measure.retry_after_figures(calls) == (3, 1, 1)


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


def test_channel_rate_is_concurrency_over_service_time() -> None:
    assert measure.channel_rate(5, 0.05) == pytest.approx(100.0)
    assert measure.channel_rate(5, None) is None
