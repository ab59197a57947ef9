from __future__ import annotations

import pytest

from consumers.runtime.stats import DeliveryStats, percentile


def test_counts_and_latency_percentiles() -> None:
    stats = DeliveryStats()
    for ms in (100.0, 300.0, 200.0, 4000.0):
        stats.count("delivered", ms)
    stats.count("retries")
    stats.count("dead_lettered")

    snap = stats.snapshot()

    assert snap["delivered"] == 4
    assert snap["retries"] == 1
    assert snap["dead_lettered"] == 1
    assert snap["skipped"] == 0
    assert snap["latency_ms"] == {"p50": 200.0, "p99": 4000.0}


def test_no_deliveries_have_no_percentiles() -> None:
    assert DeliveryStats().snapshot()["latency_ms"] == {"p50": None, "p99": None}
    assert percentile([], 50) is None


def test_containers_combine_into_channel_totals() -> None:
    a, b = DeliveryStats(), DeliveryStats()
    a.count("delivered", 10.0)
    b.count("delivered", 20.0)
    b.count("rate_limited")

    total = DeliveryStats.combined([a, b])

    assert total.delivered == 2
    assert total.rate_limited == 1
    assert sorted(total.latencies_ms) == [10.0, 20.0]
    assert a.delivered == 1


def test_an_unknown_counter_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown counter"):
        DeliveryStats().count("latencies_ms")
