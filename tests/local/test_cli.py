"""`fanout local run` through typer: flags, exit codes, the report file."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from fanout.local.cli import local_app
from fanout.local.report import CHANNEL_KEYS, REPORT_KEYS

runner = CliRunner()


@pytest.fixture(autouse=True)
def lambda_logging_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command quiets Powertools through the environment; keep the test process's as it was
    (INFO is Powertools' own default, so loggers first built here behave as anywhere else)."""
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def test_happy_run_exits_0_and_writes_the_contract_report(tmp_path):
    report_path = tmp_path / "report.json"
    result = runner.invoke(local_app, ["run", "--scenario", "happy", "--report", str(report_path)])

    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert set(REPORT_KEYS) <= set(report)
    assert report["drained"] is True
    assert set(report["channels"]) == {"slack", "github", "email"}  # every channel the local stack deploys
    for channel in report["channels"].values():
        assert set(channel) == set(CHANNEL_KEYS)
        assert set(channel["latency_ms"]) == {"p50", "p99"}
    assert report["events_written"] == 17
    assert "delivered" in result.output


def test_bad_events_file_exits_2_before_anything_is_written(tmp_path, moto_endpoint, aws_client):
    events = tmp_path / "events.jsonl"
    events.write_text('{"task": {"task_id": "t1"}}\n{"event": {"task_id": "t1"}}\n')
    tables_before = aws_client("dynamodb").list_tables()["TableNames"]

    result = runner.invoke(local_app, ["run", "--events-file", str(events), "--aws-endpoint", moto_endpoint])

    assert result.exit_code == 2
    assert "line 2" in result.output
    assert "event_id" in result.output
    assert aws_client("dynamodb").list_tables()["TableNames"] == tables_before


def test_unknown_scenario_and_bad_flags_exit_2():
    assert runner.invoke(local_app, ["run", "--scenario", "nope"]).exit_code == 2
    assert runner.invoke(local_app, ["run", "--slack-url", "not-a-url"]).exit_code == 2
    assert runner.invoke(local_app, ["run", "--timeout", "0"]).exit_code == 2
    assert runner.invoke(local_app, ["run", "--timeout", "nan"]).exit_code == 2


def test_a_report_path_that_cannot_be_written_exits_2_before_the_run(tmp_path):
    result = runner.invoke(local_app, ["run", "--report", str(tmp_path / "missing" / "r.json")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    result = runner.invoke(local_app, ["run", "--report", str(tmp_path)])
    assert result.exit_code == 2
    assert "is a directory" in result.output


def test_unreachable_aws_endpoint_exits_2():
    result = runner.invoke(local_app, ["run", "--aws-endpoint", "http://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "cannot reach the AWS endpoint" in result.output


def test_empty_events_file_drains_and_exits_0(tmp_path):
    events = tmp_path / "empty.jsonl"
    events.write_text("")
    report_path = tmp_path / "report.json"
    result = runner.invoke(local_app, ["run", "--events-file", str(events), "--report", str(report_path)])
    assert result.exit_code == 0, result.output
    assert json.loads(report_path.read_text())["events_written"] == 0


def test_timeout_with_work_pending_exits_1(tmp_path):
    events = tmp_path / "slow.jsonl"
    events.write_text('{"sleep": 60}\n{"task": {"task_id": "t1"}}\n')
    report_path = tmp_path / "report.json"
    result = runner.invoke(
        local_app, ["run", "--events-file", str(events), "--timeout", "1", "--report", str(report_path)]
    )
    assert result.exit_code == 1
    assert json.loads(report_path.read_text())["drained"] is False


def test_handler_logs_go_to_stderr_and_stdout_has_progress_and_summary_only(tmp_path):
    """Run as a user runs it (its own process), with the handlers logging at INFO."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "INFO"}
    done = subprocess.run(
        [sys.executable, "-m", "fanout.cli.main", "local", "run", "--scenario", "happy", "--timeout", "90"],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-2000:]
    json_lines = [line for line in done.stdout.splitlines() if line.lstrip().startswith("{")]
    assert json_lines == []
    assert "delivered" in done.stdout  # the summary table
    assert "stack fanout-local" in done.stdout
    logged = [line for line in done.stderr.splitlines() if line.startswith("{")]
    assert any('"fanout.slack.delivered"' in line for line in logged)
