"""bench/all.py: one table from every benchmark's JSON, each goal next to its reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import all as bench_all


def write(results: Path, name: str, data: object) -> None:
    (results / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")


def test_the_table_lists_each_goal_with_its_reference_and_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_all, "RESULTS", tmp_path)
    write(tmp_path, "coldstart", {"load_before": [1, 2, 3], "load_after": [1, 2, 3], "rows": [
        {"handler": "slack", "import_cpu_ms": "240 (230-250)", "reference_import_cpu_ms": "190 (180-200)",
         "import_ratio": 1.26, "verdict": "FAIL"}]})  # fmt: skip
    write(tmp_path, "consumer", {"paths": {
        "cold": {"aws_calls": 3.0, "goal": 3.0, "verdict": "PASS"},
        "earlier design": {"aws_calls": 2.0, "goal": None, "verdict": ""}}})  # fmt: skip
    rows, notes = bench_all.table(["coldstart", "consumer", "router"])
    assert rows[0] == (
        "cold start: slack import (CPU ms)", "<= 1.2x", "bare `import boto3`, same asset: 190 (180-200)",
        "240 (230-250) = 1.26x", "FAIL",
    )  # fmt: skip
    assert rows[1][1:] == ("<= 3.0", "earlier design: 2.00", "3.00", "PASS")
    assert rows[2] == ("router: no results", "", "", "", "FAIL")  # a benchmark that did not run fails
    assert "load 1.00/2.00/3.00 -> 1.00/2.00/3.00" in notes[0]
    assert bench_all.markdown(rows).splitlines()[0] == "| figure | goal | reference | measured | verdict |"
