"""`run_local(options) -> RunResult`: one whole local run, as the CLI, the tests and the benchmark use it.

Everything about the input is checked before anything is written (BadInput, exit status 2).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import EndpointConnectionError
from rich.console import Console

from fanout import registry
from fanout.local.deploy import DeployError
from fanout.local.events_file import EventsFileError, Step, event_count, load_events_file
from fanout.local.fakes.faults import Fault, FaultSchedule
from fanout.local.fakes.github import GitHubFake
from fanout.local.fakes.slack import SlackFake
from fanout.local.progress import Progress
from fanout.local.provision import PREFIX
from fanout.local.report import build_report, summary_table, write_report
from fanout.local.runtime import ChannelFactory, LocalRuntime, RuntimeConfig, StreamHandlerFactory
from fanout.local.scenarios import ScenarioParams, SlackSeed, build_scenario
from fanout.local.synth import SynthError

EXIT_DRAINED = 0
EXIT_TIMEOUT = 1
EXIT_BAD_INPUT = 2


class BadInput(ValueError):
    """The input cannot run (bad events file, unknown scenario, bad flag); nothing was written."""


@dataclass
class RunOptions:
    scenario: str = "happy"
    events_file: str | Path | None = None
    slack_url: str | None = None
    github_url: str | None = None
    aws_endpoint: str | None = None
    report_path: str | Path | None = None
    timeout_s: float = 120.0
    # Library use (benchmark, tests): a workload instead of a scenario's or file's, extra faults,
    # scaled scenario timings, channel settings overrides, another resource prefix, other factories.
    steps: Sequence[Step] | None = None
    faults: Sequence[Fault] = ()
    params: ScenarioParams | None = None
    settings_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    prefix: str = PREFIX
    channel_factories: Mapping[str, ChannelFactory] = field(default_factory=dict)
    stream_handler_factory: StreamHandlerFactory | None = None  # see RuntimeConfig
    slack_rate_per_s: float | None = None  # the Slack stand-in's posts/s per workspace (None: unlimited)
    account: str | None = None  # an account of its own at the endpoint (see RuntimeConfig)
    stand_in_ports: Mapping[str, int] = field(default_factory=dict)
    port_salt: str = ""
    extra_context: Mapping[str, Any] = field(default_factory=dict)
    template_hook: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # see RuntimeConfig
    show_progress: bool = True
    console: Console | None = None


@dataclass
class RunResult:
    report: dict[str, Any]
    exit_code: int
    runtime: LocalRuntime  # stopped; its stand-ins keep what they received
    dead_letters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # DLQ peeks at the end

    @property
    def slack(self) -> SlackFake | None:
        return self.runtime.slack

    @property
    def github(self) -> GitHubFake | None:
        return self.runtime.github


@dataclass(frozen=True)
class Plan:
    title: str
    steps: Sequence[Step]
    faults: tuple[Fault, ...]
    seeds: tuple[SlackSeed, ...]
    settings: dict[str, registry.ChannelSettings]


def plan_run(options: RunOptions) -> Plan:
    """Resolve and validate the whole input; raises BadInput."""
    if not (math.isfinite(options.timeout_s) and options.timeout_s > 0):
        raise BadInput(f"--timeout must be a positive number of seconds, got {options.timeout_s:g}")
    if options.report_path is not None:
        _check_writable(Path(options.report_path))
    for flag, url in (
        ("--slack-url", options.slack_url),
        ("--github-url", options.github_url),
        ("--aws-endpoint", options.aws_endpoint),
    ):
        if url is not None and (urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).netloc):
            raise BadInput(f"{flag} must be an http(s) URL, got {url!r}")
    try:
        scenario = build_scenario(options.scenario, options.params)
    except KeyError as exc:
        raise BadInput(str(exc.args[0])) from None
    overrides: dict[str, dict[str, Any]] = {k: dict(v) for k, v in scenario.settings_overrides.items()}
    for channel, values in options.settings_overrides.items():
        overrides.setdefault(channel, {}).update(values)
    settings: dict[str, registry.ChannelSettings] = {}
    for name, spec in registry.CHANNELS.items():
        try:
            settings[name] = spec.validate(spec.settings.with_overrides(overrides.pop(name, {})))
        except registry.InvalidChannelSettings as exc:
            raise BadInput(str(exc)) from None
    if overrides:
        raise BadInput(f"settings for unknown channels: {', '.join(overrides)}")
    if options.steps is not None:
        return Plan("workload", list(options.steps), tuple(options.faults), (), settings)
    if options.events_file is not None:
        try:
            steps = load_events_file(options.events_file)
        except EventsFileError as exc:
            raise BadInput(str(exc)) from None
        return Plan(str(options.events_file), steps, tuple(options.faults), (), settings)
    faults = scenario.faults + tuple(options.faults)
    return Plan(f"scenario {scenario.name}", scenario.steps, faults, scenario.slack_seeds, settings)


def _check_writable(path: Path) -> None:
    """The report is written at the end of the run: a path it cannot go to is bad input, found first."""
    if path.is_dir():
        raise BadInput(f"--report {path} is a directory")
    parent = path.parent
    if not parent.is_dir():
        raise BadInput(f"--report {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BadInput(f"--report {path}: not writable")


def run_local(options: RunOptions) -> RunResult:
    plan = plan_run(options)
    console = options.console or Console(stderr=False)
    schedule = FaultSchedule(plan.faults)
    runtime = LocalRuntime(
        RuntimeConfig(
            settings=plan.settings,
            faults=schedule,
            slack_url=options.slack_url,
            github_url=options.github_url,
            aws_endpoint=options.aws_endpoint,
            prefix=options.prefix,
            slack_seeds=plan.seeds,
            channel_factories=options.channel_factories,
            stream_handler_factory=options.stream_handler_factory,
            slack_rate_per_s=options.slack_rate_per_s,
            account=options.account,
            stand_in_ports=options.stand_in_ports,
            port_salt=options.port_salt,
            extra_context=options.extra_context,
            template_hook=options.template_hook,
        )
    )
    stop = threading.Event()
    drained = False
    writer_error: str | None = None
    try:
        try:
            runtime.start(plan.steps)
        except EndpointConnectionError as exc:
            raise BadInput(f"cannot reach the AWS endpoint: {exc}") from None
        except SynthError as exc:  # nothing was deployed: the stack refused the local context
            raise BadInput(f"cannot synthesize the stack: {exc}") from None
        except DeployError as exc:
            raise BadInput(f"cannot deploy the stack: {exc}") from None
        writer = runtime.writer(plan.steps)
        total_events = event_count(plan.steps)

        def snapshot() -> dict[str, Any]:
            return _snapshot(runtime, writer.state.events_written, total_events)

        deadline = time.monotonic() + options.timeout_s
        schedule.arm()
        started = time.time()
        thread = threading.Thread(target=writer.run, args=(stop,), name="writer", daemon=True)
        thread.start()
        with Progress(console, snapshot, enabled=options.show_progress) as progress:
            while thread.is_alive() and time.monotonic() < deadline and not runtime.denied:
                progress.tick()
                thread.join(0.25)
            finished_at = writer.state.finished_at
            if finished_at is not None and writer.state.error is None and not runtime.denied:
                drained = runtime.wait_drained(finished_at, deadline, on_tick=progress.tick)
        stop.set()
        thread.join(timeout=5)
        wall = time.time() - started
        runtime.stop_pollers()
        totals = runtime.totals()
        dead_letters = {name: runtime.dlq_messages(name) for name in runtime.pollers}
        writer_error = writer.state.error
        report = build_report(
            events_written=writer.state.events_written,
            drained=drained,
            wall_seconds=wall,
            channels=totals,
            local=_details(runtime, plan.title, writer_error),
        )
    finally:
        stop.set()
        runtime.stop()
    if options.report_path is not None:
        write_report(report, options.report_path)
    if options.show_progress:
        console.print(summary_table(report))
        for line in summary_lines(report):
            console.print(line, highlight=False, soft_wrap=True)
        if writer_error:
            console.print(f"[red]{writer_error}[/red]", highlight=False)
    ok = drained and not runtime.denied
    return RunResult(report, EXIT_DRAINED if ok else EXIT_TIMEOUT, runtime, dead_letters)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """What the table does not show: the deployment, what it does not rehearse, any AccessDenied."""
    local = report.get("local", {})
    deployment = local.get("deployment") or {}
    lines = []
    if deployment:
        lines.append(
            f"stack {deployment.get('stack')} {deployment.get('action')} at {local.get('aws_endpoint')} "
            f"(template {'cached' if deployment.get('synth_cached') else 'synthesized'}, "
            f"synth {deployment.get('synth_s', 0):.1f} s, deploy {deployment.get('deploy_s', 0):.1f} s)"
        )
    missing = deployment.get("not_rehearsed") or {}
    if missing:
        listed = ", ".join(f"{kind} ({len(ids)})" for kind, ids in sorted(missing.items()))
        lines.append(f"not rehearsed (the endpoint cannot create them): {listed}")
    lines += local.get("access_denied") or []
    return lines


def _details(runtime: LocalRuntime, title: str, writer_error: str | None) -> dict[str, Any]:
    stream = runtime.stream
    return {
        "input": title,
        "aws_endpoint": runtime.endpoint.url,
        "stream": {
            "records": stream.stats.records if stream else 0,
            "replays": stream.stats.replays if stream else 0,
            "errors": stream.stats.errors[:20] if stream else [],
        },
        "fifo_order_put_backs": {name: p.guard.released for name, p in runtime.pollers.items()},
        "writer_error": writer_error,
        "access_denied": runtime.denials.lines(),
        "iam_enforced": runtime.endpoint.iam_enforced,
        "deployment": _deployment(runtime),
        "router_given_up": list(stream.given_up) if stream else [],
    }


def _deployment(runtime: LocalRuntime) -> dict[str, Any]:
    deployment, synthesized = runtime.deployment, runtime.synthesized
    if deployment is None or synthesized is None:
        return {}
    return {
        "stack": deployment.stack_name,
        "action": deployment.action,
        "not_rehearsed": deployment.not_created,
        "synth_cached": synthesized.cached,
        "synth_s": round(runtime.timings.get("synth_s", 0.0), 3),
        "deploy_s": round(runtime.timings.get("deploy_s", 0.0), 3),
        "template_key": synthesized.key,
    }


def _snapshot(runtime: LocalRuntime, written: int, total: int) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for name, poller in runtime.pollers.items():
        counts = {"delivered": 0, "retries": 0, "dead_lettered": 0}
        for container in runtime.containers.get(name, []):
            stats = container.stats
            counts["delivered"] += stats.delivered
            counts["retries"] += stats.retries + stats.rate_limited + stats.deferred
            counts["dead_lettered"] += stats.dead_lettered
        channels[name] = {
            **counts,
            "records": poller.stats.records,
            "in_flight": poller.stats.in_flight,
            "api_calls": runtime.counters[name].count,
        }
    stream = runtime.stream
    return {
        "phase": "writing" if written < total else "draining",
        "events_written": written,
        "events_total": total,
        "stream_records": stream.stats.records if stream else 0,
        "stream_replays": stream.stats.replays if stream else 0,
        "channels": channels,
    }
