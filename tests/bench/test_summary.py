from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from bench.isolation import judge
from bench.report import markdown_summary, summary_rows
from bench.summary import summarize

Run = dict[str, Any]


def _channel(**overrides: Any) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "duplicates": 0,
        "inside_retry_after_excess": 0,
        "lost": 0,
        "latency_p99_s": 1.0,
        "drain_s": 0.5,
        "drain_ideal_s": 0.5,
        "drain_after_release_s": 0.5,
        "drain_ideal_busy_s": 0.5,
    }
    figures.update(overrides)
    return figures


def _shown(spread: dict[str, float]) -> dict[str, float]:
    return {k: spread[k] for k in ("median", "min", "max")}


@pytest.fixture
def run() -> Callable[..., Run]:
    """A run as bench/isolation.py records it, with the figures the summary reads."""

    def make(
        case: str = "slack-5xx",
        design: str = "fanout",
        *,
        repeat: int = 0,
        drain_s: float = 4.0,
        ideal_s: float = 4.0,
        busy_s: float | None = None,
        after_release_s: float | None = None,
        p99_s: float = 1.0,
        duplicates: int = 0,
        excess: int = 0,
        samples: int = 10,
    ) -> Run:
        slack = _channel(
            drain_s=drain_s,
            drain_ideal_s=ideal_s,
            drain_ideal_busy_s=busy_s if busy_s is not None else ideal_s,
            drain_after_release_s=after_release_s if after_release_s is not None else drain_s,
            duplicates=duplicates,
            inside_retry_after_excess=excess,
        )
        github = _channel(latency_p99_s=p99_s, latency_in_fault_s=[p99_s] * samples)
        return {
            "case": case,
            "design": design,
            "repeat": repeat,
            "fault_channel": None if case == "baseline" else "slack",
            "channels": {"slack": slack, "github": github},
        }

    return make


def test_judge_compares_each_run_with_the_baseline_of_the_same_repeat(run: Callable[..., Run]) -> None:
    runs = [
        run("baseline", repeat=0, p99_s=1.0),
        run("slack-429", repeat=0, p99_s=1.05),
        run("baseline", repeat=1, p99_s=2.0),
        run("slack-429", repeat=1, p99_s=2.4),
    ]
    judge(runs)
    assert [r["github_p99_ratio"] for r in runs if r["case"] == "slack-429"] == [1.05, 1.2]
    assert [r["goals"]["gh_p99"] for r in runs if r["case"] == "slack-429"] == [True, False]


def test_summary_gives_medians_with_their_range_and_judges_the_medians(run: Callable[..., Run]) -> None:
    runs = [
        run("baseline", repeat=k) for k in range(3)
    ] + [  # drain ratios 1.0, 1.1, 2.0: the median run meets 1.2x, the worst does not
        run("slack-5xx", repeat=0, drain_s=4.0, busy_s=5.0),
        run("slack-5xx", repeat=1, drain_s=4.4, busy_s=5.0),
        run("slack-5xx", repeat=2, drain_s=8.0, busy_s=5.0),
    ]
    judge(runs)
    entry = {(e["case"], e["design"]): e for e in summarize(runs, p99_goal=1.1, drain_goal=1.2)}
    faulted = entry[("slack-5xx", "fanout")]
    assert faulted["runs"] == 3
    assert _shown(faulted["drain_s"]) == {"median": 4.4, "min": 4.0, "max": 8.0}
    assert _shown(faulted["drain_ratio"]) == {"median": 1.1, "min": 1.0, "max": 2.0}
    assert _shown(faulted["drain_busy_ratio"]) == {"median": 0.88, "min": 0.8, "max": 1.6}
    assert faulted["goals"] == {"dup": True, "retry_after": True, "gh_p99": True, "drain": True}
    assert [r["goals"]["drain"] for r in runs if r["case"] == "slack-5xx"] == [True, True, False]
    assert entry[("baseline", "fanout")]["goals"]["drain"] is None  # no fault, no drain goal


def test_one_duplicate_or_excess_call_in_any_run_fails_the_summary(run: Callable[..., Run]) -> None:
    runs = [
        run("slack-429", repeat=0),
        run("slack-429", repeat=1, duplicates=1),
        run("slack-429", repeat=2, excess=2),
    ]
    judge(runs)
    (entry,) = summarize(runs, p99_goal=1.1, drain_goal=1.2)
    assert (entry["duplicates_max"], entry["excess_max"]) == (1, 2)
    assert entry["goals"]["dup"] is False
    assert entry["goals"]["retry_after"] is False


def test_the_earlier_design_is_summarised_but_not_judged(run: Callable[..., Run]) -> None:
    runs = [run("slack-429", "legacy", repeat=k, drain_s=9.0 + k, duplicates=k) for k in range(2)]
    judge(runs)
    (entry,) = summarize(runs, p99_goal=1.1, drain_goal=1.2)
    assert entry["goals"] is None
    assert _shown(entry["drain_s"]) == {"median": 9.5, "min": 9.0, "max": 10.0}
    assert entry["duplicates_max"] == 1


def test_summary_table_shows_median_and_range(run: Callable[..., Run]) -> None:
    runs = [run("slack-5xx", repeat=k, drain_s=4.0 + k, ideal_s=4.0) for k in range(3)]
    judge(runs)
    result = {"repeat": 3, "summary": summarize(runs, p99_goal=1.1, drain_goal=1.2)}
    (row,) = summary_rows(result)
    assert row[:5] == ["slack-5xx", "fanout", "3", "5.00 (4.00-6.00)", "1.25 (1.00-1.50)"]
    assert row[-1] == "dup=PASS retry_after=PASS gh_p99=FAIL drain=FAIL"  # no baseline
    assert markdown_summary(result).splitlines()[2].startswith("| slack-5xx | fanout | 3 |")


def test_the_goal_compares_the_exact_median_not_the_rounded_one(run: Callable[..., Run]) -> None:
    runs = [run("slack-5xx", repeat=k, drain_s=6.016, ideal_s=4.0) for k in range(3)]  # 1.504x
    judge(runs)
    (entry,) = summarize(runs, p99_goal=1.1, drain_goal=1.5)
    assert entry["drain_release_busy_ratio"]["median"] == 1.5  # shown rounded
    assert entry["goals"]["drain"] is False
    assert [r["goals"]["drain"] for r in runs] == [False, False, False]


def test_a_run_without_the_figure_fails_the_goal_as_it_fails_alone(run: Callable[..., Run]) -> None:
    runs = [run("baseline", repeat=0), run("slack-429", repeat=0)]
    runs += [run("slack-429", repeat=k) for k in (1, 2)]  # no baseline for these two: no p99 ratio
    runs += [run("github-secondary", repeat=k, drain_s=1.0, ideal_s=0.0) for k in range(3)]  # no ideal
    judge(runs)
    entry = {e["case"]: e for e in summarize(runs, p99_goal=1.1, drain_goal=1.2)}
    assert entry["slack-429"]["github_p99_ratio"]["missing"] == 2
    assert entry["slack-429"]["goals"]["gh_p99"] is False
    assert entry["github-secondary"]["drain_ratio"]["median"] == math.inf
    assert entry["github-secondary"]["goals"]["drain"] is False
    assert all(r["goals"]["drain"] is False for r in runs if r["case"] == "github-secondary")


def test_nothing_to_drain_meets_the_drain_goal(run: Callable[..., Run]) -> None:
    runs = [run("slack-5xx", repeat=k, drain_s=0.0, ideal_s=0.0) for k in range(2)]
    judge(runs)
    (entry,) = summarize(runs, p99_goal=1.1, drain_goal=1.2)
    assert entry["drain_ratio"]["median"] == 0.0
    assert entry["goals"]["drain"] is True


def test_the_drain_goal_counts_from_the_providers_release_against_the_busy_ideal(
    run: Callable[..., Run],
) -> None:
    # 8 s after the fault's end, of which the provider held the channel 3 s; 4 s of deliveries at the
    # configured rate: 5 / 4 = 1.25x the busy ideal, although 2x the backlog-only ideal.
    runs = [
        run("slack-429", repeat=k, drain_s=8.0, ideal_s=4.0, busy_s=4.0, after_release_s=5.0)
        for k in range(3)
    ]
    judge(runs)
    (entry,) = summarize(runs, p99_goal=1.1, drain_goal=1.5)
    assert entry["drain_ratio"]["median"] == 2.0
    assert entry["drain_release_busy_ratio"]["median"] == 1.25
    assert entry["goals"]["drain"] is True
    assert [r["goals"]["drain"] for r in runs] == [True, True, True]


def test_the_github_p99_pools_the_runs_and_needs_enough_samples(run: Callable[..., Run]) -> None:
    runs = [run("baseline", repeat=k, p99_s=1.0) for k in range(3)]
    runs += [run("slack-5xx", repeat=k, p99_s=1.0 + k / 100) for k in range(3)]
    judge(runs)
    pooled = {e["case"]: e for e in summarize(runs, p99_goal=1.1, drain_goal=1.5)}["slack-5xx"]
    assert pooled["github_p99_pooled"] == {
        "p99_s": 1.02, "base_p99_s": 1.0, "ratio": 1.02, "samples": 30, "base_samples": 30, "enough": True,
    }  # fmt: skip
    assert pooled["goals"]["gh_p99"] is True
    few = [run("baseline", repeat=k, samples=9) for k in range(3)] + [
        run("slack-5xx", repeat=k, samples=9) for k in range(3)
    ]
    judge(few)
    entry = {e["case"]: e for e in summarize(few, p99_goal=1.1, drain_goal=1.5)}["slack-5xx"]
    assert entry["github_p99_pooled"]["samples"] == 27
    assert entry["goals"]["gh_p99"] is False  # 27 latencies cannot show a p99
