"""Smoke test: the isolation benchmark end to end on a tiny workload (both designs, one Slack fault).

It runs the benchmark as a script in a subprocess, as a user would: the script quiets the consumers'
logs and metrics through the environment, which must not leak into other tests of this worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tiny_run_writes_the_table_and_fanout_has_no_duplicates(moto_endpoint: str, tmp_path: Path) -> None:
    out = tmp_path / "isolation.json"
    env_before = dict(os.environ)
    done = subprocess.run(
        [
            sys.executable, str(ROOT / "bench" / "isolation.py"),
            "--tasks", "2", "--workspaces", "1", "--write-s", "0.2", "--step-s", "0.1",
            "--fault-start-s", "0", "--fault-s", "1", "--retry-after-s", "1", "--slack-rate", "0",
            "--cases", "slack-429", "--json", str(out), "--no-png", "--aws-endpoint", moto_endpoint,
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    assert dict(os.environ) == env_before
    result = json.loads(out.read_text())
    assert "slack-429" in done.stdout  # the table
    assert f"JSON: {out}" in done.stdout
    runs = {(r["case"], r["design"]): r for r in result["runs"]}
    assert set(runs) == {(c, d) for c in ("baseline", "slack-429") for d in ("fanout", "legacy")}
    for (_case, design), run in runs.items():
        slack, github = run["channels"]["slack"], run["channels"]["github"]
        # 2 tasks: 3 Slack events each; 1 with a PR: pr_created + task_completed on GitHub.
        assert (slack["expected"], github["expected"]) == (6, 2)
        assert slack["delivered"] + slack["lost"] == 6
        assert slack["rate_per_s"] is None  # --slack-rate 0: unlimited
        if design == "fanout":
            assert run["drained"]
            assert (slack["delivered"], github["delivered"]) == (6, 2)
            assert slack["duplicates"] == github["duplicates"] == 0
            assert run["goals"]["dup"] is True
            # Each channel consumer ran in a process of its own, and sent back what it recorded.
            assert run["rig"] == "process per channel"
            processes = run["where_time_goes"]["processes"]
            assert {"bench", "slack", "github"} <= set(processes)
            assert processes["github"]["lag_samples"] > 0
        else:
            assert run["legacy"]["records"] == 7  # 3 + 3 lifecycle events and one pr_created
            assert run["goals"] is None
    summary = {(e["case"], e["design"]): e for e in result["summary"]}
    assert set(summary) == set(runs)
    assert all(e["runs"] == 1 for e in summary.values())
    assert summary[("slack-429", "fanout")]["goals"]["dup"] is True
    faulted = runs[("slack-429", "legacy")]
    assert faulted["legacy"]["records_retried"] > 0  # the 429 failed records, so the stream replayed them
    assert faulted["channels"]["slack"]["rate_limited"] > 0  # the stand-in announced Retry-After windows
