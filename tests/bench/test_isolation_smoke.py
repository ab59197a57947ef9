"""Smoke test: the isolation benchmark end to end on a tiny workload (both designs, one Slack fault)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import isolation


def test_tiny_run_writes_the_table_and_fanout_has_no_duplicates(moto_endpoint: str, tmp_path: Path) -> None:
    out = tmp_path / "isolation.json"
    result = isolation.main(
        [
            "--tasks", "2", "--workspaces", "1", "--write-s", "0.2", "--step-s", "0.1",
            "--fault-start-s", "0", "--fault-s", "1", "--retry-after-s", "1",
            "--cases", "slack-429", "--json", str(out), "--no-png", "--aws-endpoint", moto_endpoint,
        ]
    )  # fmt: skip

    assert json.loads(out.read_text()) == result
    runs = {(r["case"], r["design"]): r for r in result["runs"]}
    assert set(runs) == {(c, d) for c in ("baseline", "slack-429") for d in ("fanout", "legacy")}
    for (_case, design), run in runs.items():
        slack, github = run["channels"]["slack"], run["channels"]["github"]
        # 2 tasks: 3 Slack events each; 1 with a PR: pr_created + task_completed on GitHub.
        assert (slack["expected"], github["expected"]) == (6, 2)
        assert slack["delivered"] + slack["lost"] == 6
        if design == "fanout":
            assert run["drained"]
            assert (slack["delivered"], github["delivered"]) == (6, 2)
            assert slack["duplicates"] == github["duplicates"] == 0
            assert run["goals"]["dup"] is True
        else:
            assert run["legacy"]["records"] == 8  # every event record, once each
            assert run["goals"] is None
    faulted = runs[("slack-429", "legacy")]
    assert faulted["legacy"]["records_retried"] > 0  # the 429 failed records, so the stream replayed them
