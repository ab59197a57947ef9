"""Repeated runs of the isolation benchmark, summarised per case and design.

One run's drain or p99 moves a lot between runs of the same code (the emulated containers, the
stand-ins and the legacy model share one process on two cores), so a verdict near a goal's line says
little. With `--repeat N` every case runs N times for both designs, interleaved, and this gives the
median of each figure a goal is judged on, with its range. The median verdicts use the same goals as
one run; duplicates and excess calls must be zero in every run, not in the median one, and a goal whose
figure is missing from any run (no ideal to compare with, no baseline) fails, as it does for that run.

Two goals are judged on more than one run's figure:
- GitHub p99 while Slack fails: one run has 6 to 9 GitHub events in the fault window, so its p99 is
  their maximum. The p99 is taken over the samples of every run of the case pooled, against the same
  design's baseline samples pooled, and the goal needs at least `min_samples` on both sides;
- drain: from the provider's release (the fault's end, or the end of the last Retry-After window the
  fault announced) against the busy ideal (the backlog plus the later events the channel served while
  draining, over the configured rate), median over the runs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from typing import Any

Run = dict[str, Any]

# (figure, how to read it from a run): the ratios the goals are about, and the drain they come from.
FIGURES: tuple[tuple[str, Callable[[Run], float | None]], ...] = (
    ("drain_s", lambda r: r["drain_s"]),
    ("drain_ratio", lambda r: against(r["drain_s"], r["drain_ideal_s"])),
    ("drain_busy_ratio", lambda r: against(r["drain_s"], r["drain_ideal_busy_s"])),
    ("drain_after_release_ratio", lambda r: against(r["drain_after_release_s"], r["drain_ideal_s"])),
    ("drain_release_busy_ratio", lambda r: against(r["drain_after_release_s"], r["drain_ideal_busy_s"])),
    ("github_p99_ratio", lambda r: r["github_p99_ratio"]),
    ("load_1m", lambda r: (r.get("load") or [None])[0]),
)


def summarize(runs: Iterable[Run], *, p99_goal: float, drain_goal: float, min_samples: int = 30) -> list[Run]:
    """One entry per (case, design) in first-seen order: run count, each figure's median and range,
    the pooled GitHub p99, the worst duplicates and excess calls, and (fanout) the goals."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run["case"], run["design"]), []).append(run)
    summary = []
    for (case, design), members in groups.items():
        entry: Run = {"case": case, "design": design, "runs": len(members)}
        for name, read in FIGURES:
            entry[name] = _spread([read(r) for r in members])
        entry["github_p99_pooled"] = pooled_p99(members, groups.get(("baseline", design), []), min_samples)
        entry["duplicates_max"] = max(_channel_sum(r, "duplicates") for r in members)
        entry["excess_max"] = max(_channel_sum(r, "inside_retry_after_excess") for r in members)
        entry["lost_max"] = max(_channel_sum(r, "lost") for r in members)
        entry["goals"] = _goals(entry, members, p99_goal, drain_goal) if design == "fanout" else None
        summary.append(entry)
    return summary


def _goals(entry: Run, members: list[Run], p99_goal: float, drain_goal: float) -> dict[str, bool | None]:
    faulted = members[0].get("fault_channel") is not None
    slack_fault = entry["case"].startswith("slack")

    def median_within(name: str, goal: float) -> bool:
        spread = entry[name]
        if spread is None or spread["missing"]:
            return False
        return bool(spread["exact_median"] <= goal)

    pooled = entry["github_p99_pooled"]
    return {
        "dup": entry["duplicates_max"] == 0,
        "retry_after": entry["excess_max"] == 0,
        "gh_p99": bool(pooled["enough"] and pooled["ratio"] <= p99_goal) if slack_fault else None,
        "drain": median_within("drain_release_busy_ratio", drain_goal) if faulted else None,
    }


def pooled_p99(members: list[Run], baseline: list[Run], min_samples: int) -> dict[str, Any]:
    """GitHub p99 over the fault-window latencies of every run pooled, against the baseline's pooled."""
    mine = [v for r in members for v in r["channels"]["github"].get("latency_in_fault_s", [])]
    base = [v for r in baseline for v in r["channels"]["github"].get("latency_in_fault_s", [])]
    p99, base_p99 = _nearest_rank(mine, 99), _nearest_rank(base, 99)
    return {
        "p99_s": p99,
        "base_p99_s": base_p99,
        "ratio": round(p99 / base_p99, 2) if p99 is not None and base_p99 else None,
        "samples": len(mine),
        "base_samples": len(base),
        "enough": len(mine) >= min_samples and len(base) >= min_samples,
    }


def _nearest_rank(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _spread(readings: list[float | None]) -> dict[str, float] | None:
    """Median and range of the runs that have the figure (rounded for display; the goal compares the
    exact median), and how many runs miss it."""
    values = [v for v in readings if v is not None]
    if not values:
        return None
    median = statistics.median(values)
    return {
        "median": round(median, 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "exact_median": median,
        "runs": len(values),
        "missing": len(readings) - len(values),
    }


def against(value: float | None, ideal: float | None) -> float | None:
    """value / ideal; with no ideal to compare against (no backlog, or no configured rate) only a drain
    of 0 meets a goal on the ratio. One run's verdict (isolation.judge) uses the same rule."""
    if value is None:
        return None
    if not ideal:
        return 0.0 if value == 0 else math.inf
    return value / ideal


def _channel_sum(run: Run, key: str) -> int:
    return sum(int(figures[key]) for figures in run["channels"].values())
