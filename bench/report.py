"""The isolation benchmark's table (stdout) and latency chart (PNG)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.summary import FIGURES

COLUMNS = (
    "case",
    "design",
    "delivered S/G (lost)",
    "dup S/G",
    "repeat writes S/G",
    "calls/msg S/G",
    "429/403 S/G",
    "in Retry-After all/own/excess (calls, of which OK)",
    "GitHub p50/p99 s (x base)",
    "drain s (ideal; backlog; busy ideal) [+release: after it]",
    "goals",
)


def _pair(run: dict[str, Any], key: str) -> str:
    ch = run["channels"]
    return f"{_fmt(ch['slack'][key])}/{_fmt(ch['github'][key])}"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _goals(goals: dict[str, bool | None] | None) -> str:
    if goals is None:
        return ""
    marks = {True: "PASS", False: "FAIL"}
    return " ".join(f"{name}={marks[v]}" for name, v in goals.items() if v is not None)


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    repeated = result.get("repeat", 1) > 1
    for run in result["runs"]:
        ch = run["channels"]
        s, g = ch["slack"], ch["github"]
        inside = (
            "/".join(
                str(s[k] + g[k])
                for k in ("inside_retry_after", "inside_own_retry_after", "inside_retry_after_excess")
            )
            + f" ({s['inside_retry_after_excess_calls'] + g['inside_retry_after_excess_calls']}, "
            + f"{s['inside_retry_after_excess_answered_ok'] + g['inside_retry_after_excess_answered_ok']})"
        )
        drained = ch[run.get("fault_channel") or "slack"]
        ratio = run.get("github_p99_ratio")
        out.append(
            [
                run["case"] + (f" #{run['repeat'] + 1}" if repeated else ""),
                run["design"],
                f"{s['delivered']}/{s['expected']} {g['delivered']}/{g['expected']} ({s['lost'] + g['lost']})",
                _pair(run, "duplicates"),
                _pair(run, "repeat_writes"),
                _pair(run, "calls_per_delivered"),
                _pair(run, "rate_limited"),
                inside,
                f"{_fmt(g['latency_p50_s'])}/{_fmt(g['latency_p99_s'])} ({_fmt(ratio)}x)",
                f"{_fmt(run['drain_s'])} ({_fmt(run['drain_ideal_s'])}; "
                f"{drained['backlog_at_fault_end']}, max {drained['backlog_largest_scope']}/ws; "
                f"busy {_fmt(drained.get('drain_ideal_busy_s'))})" + _released(drained),
                _goals(run.get("goals")),
            ]
        )
    return out


def _released(drained: dict[str, Any]) -> str:
    """The drain counted from the end of the fault's last own Retry-After window, when that is later."""
    late = drained.get("released_after_s") or 0.0
    if late <= 0:
        return ""
    return f" [+{_fmt(late)}: {_fmt(drained.get('drain_after_release_s'))}]"


SUMMARY_COLUMNS = (
    "case",
    "design",
    "runs",
    "drain s",
    "drain / ideal",
    "drain / busy ideal",
    "drain after release / ideal",
    "drain after release / busy ideal (goal)",
    "GitHub p99 x base (one run)",
    "load 1 min",
    "GitHub p99 pooled x base (samples)",
    "dup, excess, lost (max over runs)",
    "goals",
)


def summary_rows(result: dict[str, Any]) -> list[list[str]]:
    out = []
    for entry in result["summary"]:
        out.append(
            [
                entry["case"],
                entry["design"],
                str(entry["runs"]),
                *(_spread(entry[name]) for name, _ in FIGURES),
                _pooled(entry.get("github_p99_pooled")),
                f"{entry['duplicates_max']}, {entry['excess_max']}, {entry['lost_max']}",
                _goals(entry.get("goals")),
            ]
        )
    return out


def _pooled(pooled: dict[str, Any] | None) -> str:
    if not pooled or pooled["ratio"] is None:
        return "-"
    return f"{pooled['ratio']:.2f} ({pooled['samples']}; base {pooled['base_samples']})"


def _spread(spread: dict[str, float] | None) -> str:
    """A median with its range: "1.42 (1.10-2.05)"."""
    if spread is None:
        return "-"
    return f"{spread['median']:.2f} ({spread['min']:.2f}-{spread['max']:.2f})"


def print_summary(result: dict[str, Any], console: Console | None = None) -> None:
    title = f"Median (min-max) over {result['repeat']} runs per case and design"
    _print(title, SUMMARY_COLUMNS, summary_rows(result), console)


def markdown_summary(result: dict[str, Any]) -> str:
    return _markdown(SUMMARY_COLUMNS, summary_rows(result))


WHERE_COLUMNS = (
    "case",
    "design",
    "rig",
    "GitHub queued s p50/max (pooled)",
    "GitHub deliver s p50/max (pooled)",
    "lag p99 ms: bench / slack / github process",
    "Slack AWS calls/s",
    "GitHub AWS answer p99 ms",
    "CPU/s: bench / slack / github / moto",
)


def where_rows(result: dict[str, Any]) -> list[list[str]]:
    """Where GitHub's time goes, per case and design over the fault window: medians over the runs, and
    GitHub's per-delivery timelines pooled (queued = written until its deliver started)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in result["runs"]:
        groups.setdefault((run["case"], run["design"]), []).append(run)
    out = []
    for (case, design), runs in groups.items():
        found = [r.get("where_time_goes") or {} for r in runs]
        timeline = [point for f in found for point in f.get("github_timeline", [])]

        def proc(name: str, key: str, found: list[dict[str, Any]] = found) -> str:
            return _median([(f.get("processes") or {}).get(name, {}).get(key) for f in found])

        def aws(name: str, key: str, found: list[dict[str, Any]] = found) -> str:
            return _median([(f.get("aws") or {}).get(name, {}).get(key) for f in found])

        out.append(
            [
                case,
                design,
                runs[0].get("rig", "-") if design == "fanout" else "one stream consumer",
                _p50_max([p[1] for p in timeline]),
                _p50_max([p[2] for p in timeline]),
                " / ".join(proc(n, "lag_p99_ms") for n in ("bench", "slack", "github")),
                aws("slack", "calls_per_s"),
                aws("github", "answer_p99_ms"),
                " / ".join(proc(n, "cpu_per_s") for n in ("bench", "slack", "github"))
                + " / "
                + proc("bench", "moto_cpu_per_s"),
            ]
        )
    return out


def _median(values: Sequence[float | None]) -> str:
    known = sorted(v for v in values if v is not None)
    return _fmt(float(statistics.median(known))) if known else "-"


def _p50_max(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.2f}/{max(values):.2f}"


def print_where(result: dict[str, Any], console: Console | None = None) -> None:
    title = "Where GitHub's time goes over the fault window (medians over the runs)"
    _print(title, WHERE_COLUMNS, where_rows(result), console)


def markdown_where(result: dict[str, Any]) -> str:
    return _markdown(WHERE_COLUMNS, where_rows(result))


def print_table(result: dict[str, Any], console: Console | None = None) -> None:
    title = "Isolation: fanout against the single-consumer design (S = Slack, G = GitHub)"
    _print(title, COLUMNS, rows(result), console)


def markdown(result: dict[str, Any]) -> str:
    return _markdown(COLUMNS, rows(result))


def _print(title: str, columns: Sequence[str], body: list[list[str]], console: Console | None) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in body:
        table.add_row(*row)
    (console or Console(width=200)).print(table)


def _markdown(columns: Sequence[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def draw_png(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c["name"] for c in result["cases"]]
    params = result["params"]
    channels = ("slack", "github")
    fig, axes = plt.subplots(len(cases), 2, figsize=(11, 2.6 * len(cases)), squeeze=False, sharex=True)
    styles = {"fanout": ("tab:blue", "o"), "legacy": ("tab:orange", "x")}
    for row, case in enumerate(cases):
        for col, channel in enumerate(channels):
            ax = axes[row][col]
            if case != "baseline":
                start = params["fault_start_s"]
                ax.axvspan(start, start + params["fault_s"], color="tab:red", alpha=0.12, label="fault")
            for run in result["runs"]:
                if run["case"] != case or run.get("repeat", 0) != 0:  # the first run of each
                    continue
                points = sorted(run["latency_points"][channel])
                color, marker = styles[run["design"]]
                ax.plot(
                    [p[0] for p in points],
                    [p[1] for p in points],
                    marker=marker,
                    linestyle="-",
                    linewidth=0.6,
                    markersize=3,
                    color=color,
                    label=run["design"],
                )
            ax.set_title(f"{case}: {channel}", fontsize=9)
            ax.set_ylabel("latency s", fontsize=8)
            ax.grid(alpha=0.3)
            if row == 0 and col == 0:
                ax.legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("event written at (s after the run started)", fontsize=8)
    fig.suptitle(
        "Delivery latency per event, first run of each case (lost events have no point)", fontsize=10
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
