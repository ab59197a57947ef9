"""Every benchmark, one table: figure, goal, reference, measured, verdict (`make bench`).

    .venv/bin/python bench/all.py [--only coldstart,router,consumer,isolation] [--reuse] [--markdown PATH]

Runs each benchmark in its own process (so one's imports, logging and moto server do not touch the
next), one after the other, each writing its JSON (and its own printed tables, `<name>.txt`) under
bench/results/, then reads the JSON files and prints one table. `--reuse` prints the table from the JSON files already there without running anything.
Every goal is a ratio against a reference measured in the same run of its benchmark; the load average of
the machine is recorded by each benchmark and printed next to the table. Benchmarks never run in CI.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
COMMANDS = {
    "coldstart": ["bench/coldstart.py", "--rounds", "7"],
    "router": ["bench/router.py", "--rounds", "5", "--window"],
    "consumer": ["bench/consumer.py", "--repeat", "3"],
    "isolation": ["bench/isolation.py", "--repeat", "5", "--no-png"],
}
Row = tuple[str, str, str, str, str]


def run(name: str) -> float:
    # Relative to the repository (the benchmarks record their command line in their results).
    command = [sys.executable, *COMMANDS[name], "--json", str((RESULTS / f"{name}.json").relative_to(ROOT))]
    started = time.perf_counter()
    print(f"$ {' '.join(['.venv/bin/python', *command[1:]])}", file=sys.stderr, flush=True)
    printed = RESULTS / f"{name}.txt"
    with printed.open("w", encoding="utf-8") as out:  # each benchmark's own tables, kept for the docs
        subprocess.run(command, cwd=ROOT, check=False, stdout=out)
    sys.stderr.write(printed.read_text(encoding="utf-8"))
    return time.perf_counter() - started


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "FAIL")


def coldstart_rows(data: dict[str, Any]) -> list[Row]:
    return [
        (
            f"cold start: {r['handler']} import (CPU ms)",
            "<= 1.2x",
            f"bare `import boto3`, same asset: {r['reference_import_cpu_ms']}",
            f"{r['import_cpu_ms']} = {r['import_ratio']:.2f}x",
            r["verdict"],
        )
        for r in data["rows"]
    ]


def router_rows(data: dict[str, Any]) -> list[Row]:
    return [
        (
            f"router: batch of {r['batch_size']}, CPU us per event",
            "<= 1.5x",
            f"30-line reference router: {r['reference_cpu_us_per_event']}",
            f"{r['fanout_cpu_us_per_event']} = {r['ratio']:.2f}x",
            r["verdict"],
        )
        for r in data["rows"]
    ]


def consumer_rows(data: dict[str, Any]) -> list[Row]:
    paths = data["paths"]
    reference = paths["earlier design"]["aws_calls"]
    return [
        (
            f"consumer: AWS calls per delivered message, {name}",
            f"<= {path['goal']}",
            f"earlier design: {reference:.2f}",
            f"{path['aws_calls']:.2f}",
            path["verdict"],
        )
        for name, path in paths.items()
        if path["goal"] is not None
    ]


def isolation_rows(data: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    legacy = {e["case"]: e for e in data["summary"] if e["design"] == "legacy"}
    runs = data["repeat"]
    for entry in (e for e in data["summary"] if e["design"] == "fanout"):
        case, goals, old = entry["case"], entry["goals"], legacy.get(entry["case"], {})
        rows.append(
            (
                f"isolation {case}: duplicates, excess calls in Retry-After (max over {runs} runs)",
                "0, 0 in every run",
                f"earlier design: {old.get('duplicates_max', '?')}, {old.get('excess_max', '?')}",
                f"{entry['duplicates_max']}, {entry['excess_max']}",
                verdict(goals["dup"] and goals["retry_after"]),
            )
        )
        if goals.get("gh_p99") is not None:
            pooled, old_pooled = entry["github_p99_pooled"], old.get("github_p99_pooled") or {}
            rows.append(
                (
                    f"isolation {case}: GitHub p99 while Slack fails, x fault-free",
                    "<= 1.1x",
                    f"same design fault-free ({pooled['base_samples']} samples); earlier design "
                    f"{old_pooled.get('ratio')}x",
                    f"{pooled['ratio']}x ({pooled['samples']} samples)",
                    verdict(goals["gh_p99"]),
                )
            )
        if goals.get("drain") is not None:
            spread = entry["drain_release_busy_ratio"] or {}
            old_spread = old.get("drain_release_busy_ratio") or {}
            rows.append(
                (
                    f"isolation {case}: drain from the provider's release, x busy ideal",
                    "<= 1.5x (median)",
                    f"busy ideal at the configured rate; earlier design {_ratio(old_spread.get('median'))}",
                    f"{spread.get('median', '-')}x ({spread.get('min', '-')}-{spread.get('max', '-')})",
                    verdict(goals["drain"]),
                )
            )
    return rows


def _ratio(value: float | None) -> str:
    """A ratio for the table; a design with no configured rate (the earlier design's unpaced GitHub
    writes) has no ideal to compare with."""
    if value is None or value == float("inf"):
        return "no ideal (no configured rate)"
    return f"{value}x"


READERS = {
    "coldstart": coldstart_rows,
    "router": router_rows,
    "consumer": consumer_rows,
    "isolation": isolation_rows,
}


def load_of(data: dict[str, Any]) -> str:
    before, after = data.get("load_before"), data.get("load_after")
    show = lambda v: "/".join(f"{x:.2f}" for x in v) if v else "?"  # noqa: E731
    return f"load {show(before)} -> {show(after)}"


def table(names: Sequence[str]) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    for name in names:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            rows.append((f"{name}: no results", "", "", "", "FAIL"))
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        rows += READERS[name](data)
        notes.append(f"- {name}: `.venv/bin/python {' '.join(COMMANDS[name])}`, {load_of(data)}")
    return rows, notes


def markdown(rows: list[Row]) -> str:
    lines = ["| figure | goal | reference | measured | verdict |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(COMMANDS), help="comma-separated benchmarks")
    parser.add_argument("--reuse", action="store_true", help="print the table from the last results")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n]
    unknown = set(names) - set(COMMANDS)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    took = {} if args.reuse else {name: run(name) for name in names}
    rows, notes = table(names)
    text = markdown(rows) + "\n\n" + "\n".join(notes)
    if took:
        text += "\n\nwall time: " + ", ".join(f"{n} {s:.0f} s" for n, s in took.items())
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0 if all(row[4] in {"PASS", "-"} for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
