"""The isolation benchmark's workload and fault schedules (the same for both designs).

N Slack-origin tasks spread round-robin over W workspaces; every `github_every`-th task also has a pull
request, so its pr_created and terminal events go to GitHub as well as to Slack. Each task starts at its
own moment inside the writing window and walks its lifecycle with a fixed pause between events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fanout import event_types as et
from fanout import registry
from fanout.local.events_file import PutEvent, PutTask, Sleep, Step
from fanout.local.fakes.faults import Fault, FaultKind
from fanout.local.scenarios import new_ulid

REPO = "acme/bench"
FIRST_PR = 100
LIFECYCLE = (et.TASK_CREATED, et.SESSION_STARTED, "pr_created", et.TASK_COMPLETED)


@dataclass(frozen=True)
class WorkloadParams:
    tasks: int = 16
    workspaces: int = 4
    github_every: int = 2  # every n-th task has a PR (GitHub events)
    write_s: float = 6.0  # tasks start spread over this window
    step_s: float = 1.0  # pause between one task's lifecycle events
    fault_start_s: float = 2.0
    fault_s: float = 4.0
    retry_after_s: float = 2.0
    # The Slack stand-in's configured rate: chat.postMessage per second per workspace, a token bucket (one
    # workspace's channel; Slack allows about one message per second per channel, with short bursts).
    # 2/s keeps the fault-free run just ahead of the writing and the default run under 3 minutes on two
    # cores; 0: unlimited.
    slack_rate_per_s: float = 2.0


@dataclass(frozen=True)
class Expected:
    """Which (channel, event id) deliveries the workload asks for."""

    deliveries: frozenset[tuple[str, str]]

    def count(self, channel: str) -> int:
        return sum(1 for c, _ in self.deliveries if c == channel)


@dataclass(frozen=True)
class Workload:
    steps: list[Step]
    expected: Expected
    teams: tuple[str, ...]
    slack_team: dict[str, str]  # event id -> the Slack workspace it posts to


def team_id(index: int) -> str:
    return f"TBENCH{index + 1}"


def build_workload(params: WorkloadParams) -> Workload:
    teams = tuple(team_id(i) for i in range(params.workspaces))
    tasks: list[PutTask] = []
    timed: list[tuple[float, dict[str, Any]]] = []
    expected: set[tuple[str, str]] = set()
    slack_team: dict[str, str] = {}
    spacing = params.write_s / max(1, params.tasks)
    for index in range(params.tasks):
        task_id = f"bench-{index:04d}"
        team = teams[index % len(teams)]
        fields: dict[str, Any] = {
            "task_id": task_id,
            "user_id": "u-bench",
            "status": "COMPLETED",
            "repo": REPO,
            "task_description": f"Benchmark task {index} <with> & markup",
            "channel_source": "slack",
            "channel_metadata": {
                "slack_team_id": team,
                "slack_channel_id": f"C{team}",
                "slack_user_id": f"U{index:04d}",
            },
        }
        with_github = params.github_every > 0 and index % params.github_every == 0
        if with_github:
            fields["pr_number"] = FIRST_PR + index
            fields["pr_url"] = f"https://github.com/{REPO}/pull/{FIRST_PR + index}"
        tasks.append(PutTask(fields))
        start = index * spacing
        for step, kind in enumerate(k for k in LIFECYCLE if with_github or k != "pr_created"):
            at = start + step * params.step_s
            event_id = new_ulid(1_700_000_000 + at + index * 1e-6)
            item: dict[str, Any] = {
                "task_id": task_id,
                "event_id": event_id,
                "event_type": kind,
                "timestamp": "",
            }
            if kind == "pr_created":
                item["event_type"] = "agent_milestone"
                item["metadata"] = {"milestone": "pr_created"}
            timed.append((at, item))
            slack_team[event_id] = team
            for name, spec in registry.CHANNELS.items():
                if spec.required_options:
                    continue  # email: no workload task has an address, so it delivers nothing
                if kind in spec.default_subscriptions and (name != registry.GITHUB.name or with_github):
                    expected.add((name, event_id))
    steps: list[Step] = list(tasks)
    clock = 0.0
    for at, item in sorted(timed, key=lambda pair: pair[0]):
        if at > clock:
            steps.append(Sleep(round(at - clock, 4)))
            clock = at
        steps.append(PutEvent(item, stamp_now=True))
    return Workload(steps, Expected(frozenset(expected)), teams, slack_team)


@dataclass(frozen=True)
class FaultCase:
    name: str
    description: str
    faults: tuple[Fault, ...]
    channel: str | None  # the channel the fault hits (None: the baseline)


def fault_cases(params: WorkloadParams, teams: tuple[str, ...]) -> list[FaultCase]:
    start, duration, r = params.fault_start_s, params.fault_s, params.retry_after_s
    return [
        FaultCase("baseline", "no fault", (), None),
        FaultCase(
            "slack-429",
            f"Slack 429 Retry-After {r:g}s in workspace {teams[0]} for {params.fault_s:g}s",
            (
                Fault(
                    FaultKind.SLACK_RATELIMIT,
                    scope=teams[0],
                    retry_after_s=r,
                    start_s=start,
                    duration_s=duration,
                ),
            ),
            registry.SLACK.name,
        ),
        FaultCase(
            "slack-5xx",
            f"Slack 503 in every workspace for {params.fault_s:g}s",
            (Fault(FaultKind.SLACK_5XX, start_s=start, duration_s=duration),),
            registry.SLACK.name,
        ),
        FaultCase(
            "github-secondary",
            f"GitHub secondary rate limit (retry-after {r:g}s) for {params.fault_s:g}s",
            (Fault(FaultKind.GITHUB_SECONDARY, retry_after_s=r, start_s=start, duration_s=duration),),
            registry.GITHUB.name,
        ),
    ]
