"""`fanout local run --aws-endpoint URL` against a running `fanout local up`: write, wait, count.

`local up` already runs the stack's functions on that endpoint. A run that started runners of its own
would poll the same queues: nothing would be delivered twice (the ledger), but its report would count
only the share its own runners happened to take, and its drain decision would ignore up's work in
flight. So when the endpoint has a live `up` (fanout/local/up_registry.py), the run attaches instead: it
writes its input (tasks, events, secrets, raw queue messages) into the running environment, starts no
runner, waits until up says the stream is read and every queue is empty (or the timeout: exit 1), and
reports exactly the work its own events caused, as up's containers counted it per event id
(fanout/local/tally.py), with the queues' depths read from the endpoint.

A scenario's faults join up's stand-ins' schedule (fanout/local/up_faults.py) and its Slack seeds up's
Slack stand-in. What cannot be rehearsed this way is refused before anything is written (exit 2): other
provider URLs (up's functions call up's stand-ins), faults for a stand-in up does not serve, and channel
settings other than the deployed ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from consumers.runtime.stats import percentile
from fanout import registry
from fanout.local import up_registry
from fanout.local.endpoint import AwsEndpoint
from fanout.local.events_file import PutEvent, QueueMessage, Step, event_count
from fanout.local.fakes.faults import Fault
from fanout.local.progress import Progress
from fanout.local.provision import ChannelResources, Resources, ensure_secret
from fanout.local.report import ChannelTotals, build_report, summary_table, write_report
from fanout.local.runner import (
    EXIT_DRAINED,
    EXIT_TIMEOUT,
    BadInput,
    Plan,
    RunOptions,
    RunResult,
    plan_run,
    run_local,
    summary_lines,
)
from fanout.local.runtime import DRAIN_CHECK_S, DRAIN_CONFIRMATIONS
from fanout.local.standins import STAND_INS, given_secrets
from fanout.local.tally import summed
from fanout.local.up_control import UpClient
from fanout.local.up_faults import fault_to_json
from fanout.local.writer import Writer


@dataclass
class AttachedResult:
    report: dict[str, Any]
    exit_code: int
    up_pid: int


def run_or_attach(options: RunOptions, *, attach: bool = True) -> RunResult | AttachedResult:
    """What `fanout local run` does: attach to a live `local up` on --aws-endpoint, else run alone."""
    plan = plan_run(options)  # bad input is bad input either way, found before anything else
    up = find_up(options.aws_endpoint) if attach and options.aws_endpoint else None
    if up is None:
        return run_local(options)
    client, info = up
    problems = attach_problems(options, plan.faults, plan.settings, info)
    if problems:
        client.close()
        raise BadInput(
            f"{options.aws_endpoint} is run by `fanout local up` (pid {info['pid']}), and this run cannot "
            f"attach to it: {'; '.join(problems)} (or use an endpoint without `local up`)"
        )
    try:
        return run_attached(options, plan, client, info)
    finally:
        client.close()


def find_up(endpoint: str) -> tuple[UpClient, dict[str, Any]] | None:
    """A live `local up` registered for `endpoint` that answers as itself, else None (stale: ignored)."""
    found = up_registry.live_registration(endpoint)
    if found is None:
        return None
    client = UpClient(found.control_url, timeout_s=3.0)
    try:
        info = client.info()
    except (httpx.HTTPError, ValueError):
        client.close()
        return None
    same = info.get("pid") == found.pid and up_registry.endpoint_key(str(info.get("endpoint", ""))) == (
        up_registry.endpoint_key(endpoint)
    )
    if not same:  # the pid was reused by another process, or another up took the port
        client.close()
        return None
    return client, info


def attach_problems(
    options: RunOptions,
    faults: Sequence[Fault],
    settings: Mapping[str, registry.ChannelSettings],
    info: Mapping[str, Any],
) -> list[str]:
    problems = []
    if options.slack_url or options.github_url:
        problems.append("--slack-url/--github-url cannot apply: up's functions call up's stand-ins")
    served = set(info.get("stand_ins") or [])
    unserved = sorted(
        str(fault.kind)
        for fault in faults
        for name, stand_in in STAND_INS.items()
        if stand_in.only_with_faults and fault.kind in stand_in.only_with_faults and name not in served
    )
    if unserved:
        problems.append(f"faults for a stand-in up does not serve ({', '.join(unserved)})")
    deployed = {name: spec.settings for name, spec in registry.CHANNELS.items()}
    changed = sorted(name for name, value in settings.items() if deployed.get(name) != value)
    if changed:
        problems.append(f"channel settings differ from the deployed stack's ({', '.join(changed)})")
    if options.prefix != info.get("stack") or options.account is not None:
        problems.append(f"up runs stack {info.get('stack')}, not {options.prefix}")
    return problems


def run_keys(steps: Sequence[Step]) -> list[str]:
    """The keys the run's work is counted under (fanout/local/tally.py): its events' ids, and the
    deduplication ids of the raw queue messages it writes."""
    keys = [str(step.item.get("event_id")) for step in steps if isinstance(step, PutEvent)]
    return keys + [step.dedup_id for step in steps if isinstance(step, QueueMessage)]


def run_attached(options: RunOptions, plan: Plan, up: UpClient, info: Mapping[str, Any]) -> AttachedResult:
    steps = plan.steps
    console = options.console or Console(stderr=False)
    resources = resources_from(info)
    endpoint = AwsEndpoint(options.aws_endpoint).start()
    secrets, sqs = endpoint.client("secretsmanager"), endpoint.client("sqs")
    keys = run_keys(steps)
    channels = list(info.get("channels") or resources.channels)
    try:
        _provide_secrets(secrets, steps, info, up)
        up.seed_slack(asdict(seed) for seed in plan.seeds)
    except (ClientError, BotoCoreError) as exc:
        raise BadInput(
            f"cannot write to {endpoint.url}: {exc} (use the credentials `fanout local up` printed)"
        ) from None
    writer = Writer(
        steps,
        resources=resources,
        dynamodb=endpoint.client("dynamodb"),
        sqs=sqs,
        secrets=_Teaching(secrets, up.learn_secrets),
        clock=time.time,
    )
    total = event_count(steps)

    lost: list[str] = []  # up stopped answering: the run cannot know what happened, it ends undrained

    baseline = up.tally(keys)  # what keys an earlier run used too already counted

    def counts_or_none() -> dict[str, dict[str, Any]]:
        try:
            return summed(up.tally(keys), baseline)
        except httpx.HTTPError as exc:
            lost.append(f"`fanout local up` (pid {info.get('pid')}) stopped answering: {exc}")
            return {}

    def snapshot() -> dict[str, Any]:
        return _snapshot(counts_or_none() if not lost else {}, writer.state.events_written, total)

    stop = threading.Event()
    deadline = time.monotonic() + options.timeout_s
    up.add_faults(fault_to_json(fault) for fault in plan.faults)  # their timeline starts now, as alone
    started = time.time()
    drained, denied = False, list[str]()
    thread = threading.Thread(target=writer.run, args=(stop,), name="writer", daemon=True)
    thread.start()
    with Progress(console, snapshot, enabled=options.show_progress) as progress:
        while thread.is_alive() and time.monotonic() < deadline:
            progress.tick()
            thread.join(0.25)
        finished_at = writer.state.finished_at
        if finished_at is not None and writer.state.error is None and not lost:
            try:
                drained, denied = wait_drained(up, finished_at, deadline, progress.tick)
            except httpx.HTTPError as exc:
                lost.append(f"`fanout local up` (pid {info.get('pid')}) stopped answering: {exc}")
    stop.set()
    thread.join(timeout=5)
    wall = time.time() - started
    counts = counts_or_none()
    drained = drained and not lost
    totals = {name: _totals(counts.get(name, {}), sqs, resources.channels[name]) for name in channels}
    report = build_report(
        events_written=writer.state.events_written,
        drained=drained,
        wall_seconds=wall,
        channels=totals,
        local={
            "input": options.scenario if options.events_file is None else str(options.events_file),
            "aws_endpoint": endpoint.url,
            "attached_to": {
                "pid": info.get("pid"),
                "stack": info.get("stack"),
                "control_url": up.control_url,
            },
            "runners_started": 0,
            "counted_keys": len(keys),
            "writer_error": writer.state.error,
            "access_denied": denied,
            "up_error": lost[0] if lost else None,
        },
    )
    if options.report_path is not None:
        write_report(report, options.report_path)
    if options.show_progress:
        console.print(summary_table(report, title="fanout local run (attached)"))
        for line in attached_lines(report) + summary_lines(report):
            console.print(line, highlight=False, soft_wrap=True)
    ok = drained and not denied and writer.state.error is None and not lost
    return AttachedResult(report, EXIT_DRAINED if ok else EXIT_TIMEOUT, int(info.get("pid") or 0))


def wait_drained(
    up: UpClient, since: float, deadline: float, on_tick: Callable[[], None]
) -> tuple[bool, list[str]]:
    """Up's stream read past `since` and nothing queued or in flight, confirmed a few times in a row."""
    confirmations = 0
    while time.monotonic() < deadline:
        on_tick()
        state = up.idle(since)
        denied = [str(line) for line in state.get("access_denied") or []]
        if denied:
            return False, denied
        confirmations = confirmations + 1 if state.get("idle") else 0
        if confirmations >= DRAIN_CONFIRMATIONS:
            return True, []
        time.sleep(DRAIN_CHECK_S)
    return False, []


def attached_lines(report: Mapping[str, Any]) -> list[str]:
    attached = report.get("local", {}).get("attached_to") or {}
    return [
        f"attached to `fanout local up` (pid {attached.get('pid')}, stack {attached.get('stack')}): "
        "its runners did the work, none started here; the counts are this run's own events only"
    ]


def resources_from(info: Mapping[str, Any]) -> Resources:
    """The stack's resource names as up serves them (the stack up deployed and polls)."""
    data = info["resources"]
    deployed = {name: spec.settings for name, spec in registry.CHANNELS.items()}
    return Resources(
        task_table=data["task_table"],
        events_table=data["events_table"],
        ledger_table=data["ledger_table"],
        stream_arn=data["stream_arn"],
        github_token_secret=data["github_token_secret"],
        channels={
            name: ChannelResources(name=name, settings=deployed[name], **values)
            for name, values in data["channels"].items()
            if name in deployed
        },
    )


def _provide_secrets(secrets: Any, steps: Sequence[Step], info: Mapping[str, Any], up: UpClient) -> None:
    """Each channel's local secrets unless the input has them, known to up's stand-ins before any event
    is written (as a standalone run seeds its own)."""
    given = given_secrets(steps)
    for name in info.get("stand_ins") or []:
        stand_in = STAND_INS.get(name)
        if stand_in is None:
            continue
        for secret, value in stand_in.default_secrets(steps).items():
            if secret not in given:
                ensure_secret(secrets, secret, value)
    up.learn_secrets()


class _Teaching:
    """The writer's Secrets Manager client: a secret the input writes reaches up's stand-ins before
    the next step is written."""

    def __init__(self, secrets: Any, learn: Callable[[], int]) -> None:
        self._secrets = secrets
        self._learn = learn
        self.exceptions = secrets.exceptions

    def create_secret(self, **kwargs: Any) -> Any:
        answer = self._secrets.create_secret(**kwargs)
        self._learn()
        return answer

    def put_secret_value(self, **kwargs: Any) -> Any:
        answer = self._secrets.put_secret_value(**kwargs)
        self._learn()
        return answer


def _totals(counts: Mapping[str, Any], sqs: Any, channel: ChannelResources) -> ChannelTotals:
    latencies = sorted(float(v) for v in counts.get("latencies_ms") or [])
    delivery = {k: v for k, v in counts.items() if k != "latencies_ms"}
    delivery["latency_ms"] = {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99)}
    return ChannelTotals(
        delivery=delivery,
        api_calls=int(counts.get("api_calls", 0)),
        queue_depth=_depth(sqs, channel.queue_url),
        dlq_depth=_depth(sqs, channel.dlq_url),
        invocations=0,  # up's invocations carry other traffic too: only records are counted per event
        records=int(counts.get("records", 0)),
        failures_reported=0,
        max_concurrency_seen=0,
    )


def _depth(sqs: Any, queue_url: str) -> int:
    """Visible + in flight + delayed; -1 when the endpoint cannot say (it went away with up)."""
    try:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
    except (BotoCoreError, ClientError):
        return -1
    return sum(int(v) for v in attributes.values())


def _snapshot(counts: Mapping[str, Mapping[str, Any]], written: int, total: int) -> dict[str, Any]:
    channels = {
        name: {
            "delivered": c.get("delivered", 0),
            "retries": c.get("retries", 0) + c.get("rate_limited", 0) + c.get("deferred", 0),
            "dead_lettered": c.get("dead_lettered", 0),
            "records": c.get("records", 0),
            "in_flight": 0,
            "api_calls": c.get("api_calls", 0),
        }
        for name, c in counts.items()
    }
    phase = "writing" if written < total else "draining"
    return {"phase": phase, "events_written": written, "events_total": total, "channels": channels}
