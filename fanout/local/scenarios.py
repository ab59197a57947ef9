"""Built-in scenarios: events (the events file's steps, generated in code) plus a fault schedule.

Every scenario is the `happy` workload plus what makes it interesting, so runs can be compared call for
call (e.g. GitHub must see exactly the calls of a healthy run while Slack is rate-limited).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fanout.local.events_file import PutEvent, PutTask, QueueMessage, Sleep, Step
from fanout.local.fakes.faults import Fault, FaultKind

TEAM = "TLOCAL1"
DM_TEAM = "TLOCAL2"
BUSY_TEAM_CHANNEL = "CBUSY"
GONE_CHANNEL = "CGONE"
MENTION_TS = "1764000000.000100"  # the user's @mention that started the threaded task
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class SlackSeed:
    """A message that exists in Slack before the run (the user's @mention)."""

    team: str
    channel: str
    ts: str
    text: str


@dataclass(frozen=True)
class ScenarioParams:
    """Timings and sizes, scaled down by the tests."""

    step_pause_s: float = 0.2  # between one task's lifecycle events
    retry_after_s: float = 2.0
    fault_start_s: float = 0.0
    fault_duration_s: float = 4.0
    busy_tasks: int = 4  # extra Slack tasks in the rate-limited workspace
    github_limited_calls: int = 2  # calls answered by each GitHub limit in github-ratelimit


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    steps: list[Step]
    faults: tuple[Fault, ...] = ()
    slack_seeds: tuple[SlackSeed, ...] = ()
    settings_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)


def new_ulid(at: float | None = None) -> str:
    """A ULID: 48-bit milliseconds then 80 random bits, Crockford base32 (sorts by time)."""
    ms = int((time.time() if at is None else at) * 1000)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


class _Builder:
    def __init__(self, params: ScenarioParams) -> None:
        self.params = params
        self.steps: list[Step] = []
        self._clock = time.time()

    def task(self, task_id: str, **fields: Any) -> None:
        self.steps.append(PutTask({"task_id": task_id, "user_id": "u-local", **fields}))

    def event(self, task_id: str, event_type: str, metadata: dict[str, Any] | None = None) -> None:
        self._clock += 0.001  # strictly increasing ids even when built within one millisecond
        item: dict[str, Any] = {
            "task_id": task_id,
            "event_id": new_ulid(self._clock),
            "event_type": event_type,
            "timestamp": "",  # stamped when written
        }
        if metadata:
            item["metadata"] = metadata
        self.steps.append(PutEvent(item, stamp_now=True))

    def pause(self) -> None:
        if self.params.step_pause_s > 0:
            self.steps.append(Sleep(self.params.step_pause_s))


def _slack_meta(team: str, channel: str, **extra: str) -> dict[str, str]:
    return {"slack_team_id": team, "slack_channel_id": channel, **extra}


def _happy(b: _Builder) -> None:
    """Four tasks: @mention thread + PR, a failing task with an agent error, a DM, and an API task; the
    first two want email (completed, failed), the DM's address has a display name, the API task none."""
    b.task(
        "task-thread",
        status="COMPLETED",
        repo="acme/widgets",
        pr_number=42,
        pr_url="https://github.com/acme/widgets/pull/42",
        task_description="Add <!channel> & retry logic",
        cost_usd=1.37,
        duration_s=252,
        channel_source="slack",
        channel_metadata=_slack_meta(TEAM, "CLOCAL1", slack_user_id="ULOCAL1", slack_thread_ts=MENTION_TS),
        notification_email="alice@example.com",
    )
    b.task(
        "task-failing",
        status="FAILED",
        repo="acme/gadgets",
        task_description="Refactor the parser",
        error_message="Build failed: <@U999> see logs",
        channel_source="slack",
        channel_metadata=_slack_meta(TEAM, "CLOCAL2", slack_user_id="ULOCAL1"),
        notification_email="alice@example.com",
    )
    b.task(
        "task-dm",
        status="CANCELLED",
        repo="acme/widgets",
        task_description="Bump dependencies",
        channel_source="slack",
        channel_metadata=_slack_meta(DM_TEAM, "DLOCAL9", slack_user_id="ULOCAL9"),
        notification_email="Carol <carol@example.com>",  # a display name: a counted skip, never a send
        notifications={"email": {"events": ["default", "task_cancelled"]}},
    )
    b.task(
        "task-api",
        status="COMPLETED",
        repo="acme/tools",
        issue_number=7,
        pr_url="https://github.com/acme/tools/pull/8",
        task_description="Fix the flaky test",
        cost_usd=0.42,
        duration_s=75,
        channel_source="api",
    )
    for task in ("task-thread", "task-failing", "task-dm", "task-api"):
        b.event(task, "task_created")
    b.pause()
    for task in ("task-thread", "task-failing", "task-dm", "task-api"):
        b.event(task, "session_started")
    b.pause()
    b.event("task-thread", "agent_milestone", {"milestone": "pr_created"})
    b.event("task-api", "agent_milestone", {"milestone": "pr_created"})
    b.event("task-failing", "agent_error", {"error_type": "ToolError", "message_preview": "npm <b>ERR</b>"})
    b.event("task-failing", "agent_milestone", {"milestone": "repo_setup_complete"})
    b.pause()
    b.event("task-thread", "task_completed")
    b.event("task-api", "task_completed")
    b.event("task-failing", "task_failed", {"error": "exit 1"})
    b.event("task-dm", "task_cancelled")
    b.pause()
    # The reconciler emits task_stranded after task_failed: one terminal message per task.
    b.event("task-failing", "task_stranded", {"code": "STRANDED_NO_HEARTBEAT", "prior_status": "RUNNING"})


def email_faults(params: ScenarioParams) -> Scenario:
    b = _Builder(params)
    _happy(b)
    # By count, in order: the first send is throttled (retried), the next one goes out and its answer is
    # lost (a 5xx after sending): never resent, dead-lettered as uncertain_outcome.
    throttle = Fault(FaultKind.SES_THROTTLE, max_calls=1)
    uncertain = Fault(FaultKind.SES_5XX_AFTER_SEND, max_calls=1)
    text = "SES (its stand-in): one send throttled, then one answered 500 after sending (uncertain_outcome)"
    return Scenario("email-faults", text, b.steps, (throttle, uncertain), _seeds())


def _busy_workspace(b: _Builder) -> None:
    """Extra Slack-only tasks in the workspace the rate limit hits."""
    for index in range(b.params.busy_tasks):
        task = f"task-busy-{index}"
        b.task(
            task,
            status="COMPLETED",
            task_description=f"Busy task {index}",
            channel_source="slack",
            channel_metadata=_slack_meta(TEAM, BUSY_TEAM_CHANNEL),
        )
        b.event(task, "task_created")
        b.event(task, "task_completed")


def _window(kind: FaultKind, params: ScenarioParams, **fields: Any) -> Fault:
    return Fault(
        kind=kind,
        start_s=params.fault_start_s,
        duration_s=params.fault_duration_s,
        retry_after_s=params.retry_after_s,
        **fields,
    )


def _seeds() -> tuple[SlackSeed, ...]:
    return (SlackSeed(TEAM, "CLOCAL1", MENTION_TS, "<@UFANOUTBOT> add retry logic to widgets"),)


def happy(params: ScenarioParams) -> Scenario:
    b = _Builder(params)
    _happy(b)
    text = "Slack, GitHub and email tasks through their whole lifecycle"
    return Scenario("happy", text, b.steps, (), _seeds())


def slack_ratelimit(params: ScenarioParams) -> Scenario:
    b = _Builder(params)
    _busy_workspace(b)
    _happy(b)
    fault = _window(FaultKind.SLACK_RATELIMIT, params, scope=TEAM)
    text = f"Slack answers 429 (Retry-After {params.retry_after_s:g}s) for {TEAM}"
    return Scenario("slack-ratelimit", text, b.steps, (fault,), _seeds())


def github_ratelimit(params: ScenarioParams) -> Scenario:
    b = _Builder(params)
    _happy(b)
    # By count, not by time, so both limits are met whatever the timing: the first calls hit the
    # secondary limit (retry-after), the next ones the primary limit (x-ratelimit-remaining 0 + reset).
    hits = params.github_limited_calls
    secondary = Fault(FaultKind.GITHUB_SECONDARY, retry_after_s=params.retry_after_s, max_calls=hits)
    primary = Fault(FaultKind.GITHUB_PRIMARY, retry_after_s=params.retry_after_s, max_calls=hits)
    text = "GitHub: secondary rate limit (retry-after), then the primary limit (x-ratelimit-reset)"
    return Scenario("github-ratelimit", text, b.steps, (secondary, primary), _seeds())


def slack_outage(params: ScenarioParams) -> Scenario:
    b = _Builder(params)
    _happy(b)
    fault = _window(FaultKind.SLACK_5XX, params)
    text = f"Slack answers 503 for {params.fault_duration_s:g}s, then recovers"
    return Scenario("slack-outage", text, b.steps, (fault,), _seeds())


def poison(params: ScenarioParams) -> Scenario:
    b = _Builder(params)
    _happy(b)
    b.steps.append(QueueMessage("slack", "{this is not a task event", "poison-group", "poison-1"))
    b.steps.append(QueueMessage("github", '{"v": 99, "task_id": "x"}', "poison-group", "poison-2"))
    b.task(
        "task-gone",
        status="RUNNING",
        task_description="Channel was deleted",
        channel_source="slack",
        channel_metadata=_slack_meta(TEAM, GONE_CHANNEL),
    )
    b.event("task-gone", "task_created")
    fault = Fault(FaultKind.SLACK_ERROR, scope=GONE_CHANNEL, error="channel_not_found")
    text = "a malformed message on each queue and a Slack channel that is gone: both dead-lettered"
    return Scenario("poison", text, b.steps, (fault,), _seeds())


SCENARIOS: dict[str, Callable[[ScenarioParams], Scenario]] = {
    "happy": happy,
    "slack-ratelimit": slack_ratelimit,
    "github-ratelimit": github_ratelimit,
    "slack-outage": slack_outage,
    "poison": poison,
    "email-faults": email_faults,
}


def build_scenario(name: str, params: ScenarioParams | None = None) -> Scenario:
    try:
        factory = SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; scenarios: {', '.join(SCENARIOS)}") from None
    return factory(params or ScenarioParams())
