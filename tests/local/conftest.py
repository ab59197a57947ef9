"""Fixtures for the local runtime's tests: stand-in servers, and whole runs against the shared moto."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from fanout.local.fakes.faults import Fault, FaultSchedule
from fanout.local.fakes.github import GitHubFake
from fanout.local.fakes.server import CONTAINER_HEADER, HttpFake
from fanout.local.fakes.slack import SlackFake
from fanout.local.runner import RunOptions, RunResult, run_local
from fanout.local.scenarios import ScenarioParams

# Scenario timings scaled for CI (2 cores): short pauses, a 1 s Retry-After, a 2 s fault window.
FAST = ScenarioParams(
    step_pause_s=0.05, retry_after_s=1.0, fault_duration_s=2.0, busy_tasks=3, github_limited_calls=1
)


@pytest.fixture
def served() -> Iterator[Callable[[Any], str]]:
    """Factory: serve an app (SlackFake / GitHubFake) on loopback, return its base URL."""
    servers: list[HttpFake] = []

    def serve(app: Any) -> str:
        server = HttpFake(app).start()
        servers.append(server)
        return server.url

    yield serve
    for server in servers:
        server.stop()


@pytest.fixture
def slack_api(served: Callable[[Any], str]) -> Callable[..., tuple[SlackFake, Callable[..., Any]]]:
    """Factory: a SlackFake with faults, and `call(method, token=..., container=..., **params)`."""

    def make(*faults: Fault, tokens: dict[str, str] | None = None) -> tuple[SlackFake, Callable[..., Any]]:
        schedule = FaultSchedule(faults)
        schedule.arm()
        fake = SlackFake(schedule, tokens=tokens or {"xoxb-a": "TA"})
        base = served(fake)

        def call(
            method: str, *, token: str = "xoxb-a", container: str = "c0", **params: Any
        ) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}", CONTAINER_HEADER: container}
            return httpx.post(f"{base}/api/{method}", json=params, headers=headers)

        return fake, call

    return make


@pytest.fixture
def github_api(served: Callable[[Any], str]) -> Callable[..., tuple[GitHubFake, str]]:
    """Factory: a GitHubFake (token "ghp-a") with faults, and its base URL."""

    def make(*faults: Fault) -> tuple[GitHubFake, str]:
        schedule = FaultSchedule(faults)
        schedule.arm()
        fake = GitHubFake(schedule, tokens={"ghp-a": "bot-a"})
        return fake, served(fake)

    return make


def fresh_account() -> str:
    """An account of its own at the endpoint: runs in one test process never see each other's stack."""
    return f"{random.randrange(10**11, 10**12):012d}"


def local_options(**fields: Any) -> RunOptions:
    """A run as `fanout local run` does it (in-process endpoint, IAM enforced, stack fanout-local), in an
    account of its own, with this test worker's stand-in ports (so its cached template is reused)."""
    options = RunOptions(
        account=fresh_account(),
        port_salt=os.environ.get("PYTEST_XDIST_WORKER", "main"),
        params=FAST,
        timeout_s=90,
        show_progress=False,
    )
    for name, value in fields.items():
        setattr(options, name, value)
    return options


@pytest.fixture
def run_scenario() -> Callable[..., RunResult]:
    """Factory: one whole local run through the deployed stack (see local_options)."""

    def run(scenario: str = "happy", **overrides: Any) -> RunResult:
        options = local_options(
            scenario=scenario,
            params=FAST,
            timeout_s=90,
            show_progress=False,
        )
        for name, value in overrides.items():
            setattr(options, name, value)
        result = run_local(options)
        assert_every_call_allowed(result)
        return result

    return run


def assert_every_call_allowed(result: RunResult) -> None:
    """IAM was enforced and no AWS call of any function (handlers and pollers) was denied."""
    local = result.report["local"]
    assert local["iam_enforced"] is True
    assert local["access_denied"] == []
