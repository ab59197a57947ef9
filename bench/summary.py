"""Repeated runs of the isolation benchmark, summarised per case and design.

One run's drain or p99 moves a lot between runs of the same code (the emulated containers, the
stand-ins and the legacy model share one process on two cores), so a verdict near a goal's line says
little. With `--repeat N` every case runs N times for both designs, interleaved, and this gives the
median of each figure a goal is judged on, with its range. The median verdicts use the same goals as
one run; duplicates and excess calls must be zero in every run, not in the median one, and a goal whose
figure is missing from any run (no ideal to compare with, no baseline) fails, as it does for that run.
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
    ("github_p99_ratio", lambda r: r["github_p99_ratio"]),
)


def summarize(runs: Iterable[Run], *, p99_goal: float, drain_goal: float) -> list[Run]:
    """One entry per (case, design) in first-seen order: run count, each figure's median and range,
    the worst duplicates and excess calls, and (fanout) the goals judged on the medians."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run["case"], run["design"]), []).append(run)
    summary = []
    for (case, design), members in groups.items():
        entry: Run = {"case": case, "design": design, "runs": len(members)}
        for name, read in FIGURES:
            entry[name] = _spread([read(r) for r in members])
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

    return {
        "dup": entry["duplicates_max"] == 0,
        "retry_after": entry["excess_max"] == 0,
        "gh_p99": median_within("github_p99_ratio", p99_goal) if slack_fault else None,
        "drain": median_within("drain_ratio", drain_goal) if faulted else None,
        "drain_busy": median_within("drain_busy_ratio", drain_goal) if faulted else None,
    }


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
