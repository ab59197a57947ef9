"""`fanout local run --aws-endpoint URL` against a running `fanout local up` attaches to it.

`local up` runs in this process (its in-process equivalent: the same start_up and registration the
command uses), with its moto server, stand-ins and runners; the run is the real CLI command. The run must
start no runners (LocalRuntime.start is made to fail), and its report must count exactly the work its own
events caused, as a standalone run of the same scenario counts it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from consumers.runtime.stats import DeliveryStats
from fanout import registry
from fanout.cli.main import app
from fanout.local import up_registry
from fanout.local.attached import find_up
from fanout.local.runner import run_local
from fanout.local.runtime import LocalRuntime, stable_port
from fanout.local.up import UpInfo, attachable, describe, start_up
from fanout.local.up_control import ControlHooks, ControlServer

from .conftest import fresh_account, local_options

runner = CliRunner()
COMPARED = ("delivered", "skipped", "terminal", "dead_lettered", "api_calls")


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("up-state")
    before = os.environ.get(up_registry.STATE_DIR_ENV)
    os.environ[up_registry.STATE_DIR_ENV] = str(path)
    yield path
    if before is None:
        os.environ.pop(up_registry.STATE_DIR_ENV, None)
    else:
        os.environ[up_registry.STATE_DIR_ENV] = before


@pytest.fixture(scope="module")
def up(state_dir: Path) -> Iterator[tuple[LocalRuntime, UpInfo]]:
    salt = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-attach"
    ports = {name: stable_port(name, salt) for name in ("slack", "github")}
    runtime, info = start_up(0, stand_in_ports=ports, account=fresh_account())
    try:
        with attachable(runtime, info):
            yield runtime, info
    finally:
        runtime.stop()


def attached_run(info: UpInfo, tmp_path: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    """The CLI command as the banner shows it: the runtime's admin identity, against up's endpoint."""
    report = tmp_path / "r.json"
    env = {**info.admin.as_env(), "AWS_DEFAULT_REGION": "us-east-1"}
    command = ["local", "run", "--aws-endpoint", info.endpoint, "--report", str(report), *args]
    result = runner.invoke(app, command, env=env)
    return result, (json.loads(report.read_text()) if report.exists() else {})


def up_counts(runtime: LocalRuntime) -> dict[str, dict[str, int]]:
    """What up's own containers did so far, per channel (all traffic)."""
    counts = {}
    for name, handlers in runtime.containers.items():
        stats = DeliveryStats.combined(h.stats for h in handlers).snapshot()
        counts[name] = {k: int(stats[k]) for k in ("delivered", "skipped", "terminal", "dead_lettered")}
        counts[name]["api_calls"] = runtime.counters[name].count
    return counts


def no_runners(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: LocalRuntime, steps: Any) -> None:
        raise AssertionError("an attached run must not start a runtime of its own")

    monkeypatch.setattr(LocalRuntime, "start", refuse)


@pytest.fixture(scope="module")
def standalone() -> Callable[[str], dict[str, Any]]:
    """The report of a standalone run of a scenario (its own endpoint, stand-ins and runners), once."""
    reports: dict[str, dict[str, Any]] = {}

    def report(scenario: str) -> dict[str, Any]:
        if scenario not in reports:
            reports[scenario] = run_local(local_options(scenario=scenario)).report
        return reports[scenario]

    return report


def same_work(
    expected: dict[str, dict[str, int]], got: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    """`expected` as `got` should equal it: every count the same, except the email channel's API calls,
    which include the SES quota read each container makes once per refresh period (10 min). How many
    email containers take a run's messages varies, and up's containers may have read it for an earlier
    run: the reads differ by at most the channel's concurrency, and the sends are the same."""
    email = registry.get("email").settings.max_concurrency
    assert abs(got["email"]["api_calls"] - expected["email"]["api_calls"]) <= email, (got, expected)
    assert got["email"]["api_calls"] >= got["email"]["delivered"], got
    return {**expected, "email": {**expected["email"], "api_calls": got["email"]["api_calls"]}}


def compared(report: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {ch: {k: v[k] for k in COMPARED} for ch, v in report["channels"].items()}


def test_runs_against_up_attach_and_count_exactly_their_own_events(
    up: tuple[LocalRuntime, UpInfo],
    standalone: Callable[[str], dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One test, in this order, so one `up` serves it all whatever worker runs it: the banner, a run
    that cannot attach, happy twice in a row, then poison with its fault."""
    runtime, info = up
    alone = {name: standalone(name) for name in ("happy", "poison")}
    no_runners(monkeypatch)
    assert runtime.resources is not None
    channels = runtime.resources.channels

    banner = "\n".join(describe(info))
    assert f"fanout local run --aws-endpoint {info.endpoint} --scenario happy" in banner
    assert "attaches" in banner

    # Another provider URL cannot apply to up's functions: refused, nothing written.
    records_before = runtime.stream.stats.records if runtime.stream else 0
    result, report = attached_run(info, tmp_path, "--slack-url", "http://127.0.0.1:1/api")
    assert result.exit_code == 2, result.output
    assert "cannot attach" in result.output
    assert "--slack-url" in result.output
    assert report == {}
    assert (runtime.stream.stats.records if runtime.stream else 0) == records_before

    expected = compared(alone["happy"])
    assert expected["slack"]["delivered"] > 0
    assert expected["github"]["api_calls"] > 0
    for round_, scenario in enumerate(("happy", "happy", "poison"), start=1):
        before = up_counts(runtime)
        dlq_before = {ch: runtime.depth(c.dlq_url) for ch, c in channels.items()}
        result, report = attached_run(info, tmp_path, "--scenario", scenario, "--timeout", "90")
        assert result.exit_code == 0, result.output
        assert "attached to `fanout local up`" in result.output
        got = compared(report)
        # The same work as alone, every time (not doubled, not the earlier runs' share).
        assert got == same_work(compared(alone[scenario]), got), f"round {round_}: {report}"
        assert report["drained"] is True
        assert report["events_written"] == alone[scenario]["events_written"]
        assert report["local"]["runners_started"] == 0
        assert report["local"]["attached_to"]["pid"] == os.getpid()
        for channel, values in report["channels"].items():
            assert values["queue_depth"] == 0, (channel, report)
            assert values["dlq_depth"] == dlq_before[channel] + values["dead_lettered"], (channel, report)
            if values["delivered"]:
                assert values["latency_ms"]["p50"] is not None
        # up's own containers did exactly that work (nothing else writes to this up meanwhile).
        after = up_counts(runtime)
        done = {ch: {k: after[ch][k] - before[ch][k] for k in COMPARED} for ch in after}
        assert done == got, f"round {round_}"
    # poison: a malformed message on two queues (counted under their deduplication ids) and a Slack
    # channel that is gone (a stand-in fault that joined up's schedule): dead-lettered as alone.
    assert report["channels"]["slack"]["terminal"] == 1
    assert report["channels"]["slack"]["dead_lettered"] == 2
    assert report["channels"]["github"]["dead_lettered"] == 1


def test_a_stale_or_foreign_registration_is_ignored(state_dir: Path) -> None:
    endpoint = "http://127.0.0.1:59999"
    # An up that died: its pid is gone. The file is removed and the run goes on alone.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = up_registry.state_path(endpoint)
    path.write_text(
        json.dumps(
            {"pid": dead.pid, "endpoint": endpoint, "control_url": "http://127.0.0.1:1/x/", "stack": "s"}
        )
    )
    assert find_up(endpoint) is None
    assert not path.exists()

    # A live pid (reused by another process) whose control URL answers nothing.
    path.write_text(
        json.dumps(
            {"pid": os.getpid(), "endpoint": endpoint, "control_url": "http://127.0.0.1:1/x/", "stack": "s"}
        )
    )
    assert find_up(endpoint) is None

    # A control server that answers, but as another process or for another endpoint.
    def info_of(pid: int, served: str) -> ControlHooks:
        return ControlHooks(
            info=lambda: {"pid": pid, "endpoint": served, "stack": "fanout-local"},
            learn_secrets=lambda: 0,
            seed_slack=lambda seeds: 0,
            add_faults=lambda faults: 0,
            tally=lambda keys: {},
            idle=lambda since: {"idle": True},
        )

    for pid, served in ((os.getppid(), endpoint), (os.getpid(), "http://127.0.0.1:1")):
        server = ControlServer(info_of(pid, served)).start()
        try:
            up_registry.register(endpoint, server.url, "fanout-local")
            assert find_up(endpoint) is None
        finally:
            server.stop()
    # ... and the live one is found, under any spelling of the same endpoint.
    server = ControlServer(info_of(os.getpid(), endpoint)).start()
    try:
        registered = up_registry.register(endpoint, server.url, "fanout-local")
        found = find_up("http://localhost:59999/")
        assert found is not None
        assert found[1]["pid"] == os.getpid()
        found[0].close()
        up_registry.unregister(registered)
        assert not registered.exists()
    finally:
        server.stop()
