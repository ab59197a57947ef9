"""`fanout local up`: the deployed stack, the stand-ins and the function runners, until interrupted.

Everything `fanout local run` starts, without an input and without an end: the AWS endpoint (IAM
enforced), stack `fanout-local`, the stand-ins and the pollers. It prints where everything is, the
credentials of the operator role the stack creates (`fanout:operatorRole`, exactly the policy
`FanoutNotifications.grant_operate` gives) and the operations commands to try, so each runbook can be
rehearsed on one machine.

A `fanout local run --aws-endpoint URL` against it attaches (fanout/local/attached.py): up serves a small
control API on 127.0.0.1 (fanout/local/up_control.py) and registers it for its endpoint
(fanout/local/up_registry.py); the run writes its input, starts no runners, and reads from up exactly the
work its own events caused.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fanout import registry
from fanout.local import iam, up_faults, up_registry
from fanout.local.deployed import OPERATOR_ROLE_ARN
from fanout.local.fakes.faults import FaultSchedule
from fanout.local.provision import PREFIX, Resources, existing_secrets
from fanout.local.runtime import LocalRuntime, RuntimeConfig
from fanout.local.standins import STAND_INS
from fanout.local.up_control import ControlHooks, ControlServer

SECRET_CHECK_S = 2.0


@dataclass(frozen=True)
class UpInfo:
    endpoint: str
    stack: str
    stand_ins: dict[str, str]
    operator: iam.Credentials
    admin: iam.Credentials
    not_rehearsed: dict[str, list[str]]


def start_up(
    port: int, *, stand_in_ports: dict[str, int] | None = None, account: str | None = None
) -> tuple[LocalRuntime, UpInfo]:
    """Deploy and run; the runtime keeps running until `stop()` (`account`: tests only)."""
    settings = {name: spec.settings for name, spec in registry.CHANNELS.items()}
    schedule = FaultSchedule()
    schedule.arm()
    runtime = LocalRuntime(
        RuntimeConfig(
            settings=settings, faults=schedule, endpoint_port=port, stand_in_ports=stand_in_ports or {}
        )
    )
    runtime.start([])
    assert runtime.deployment is not None
    assert runtime.endpoint.admin_credentials is not None
    operator = iam.assume(
        runtime.endpoint.client("sts"), runtime.deployment.outputs[OPERATOR_ROLE_ARN], "fanout-operator"
    )
    info = UpInfo(
        endpoint=runtime.endpoint.url,
        stack=runtime.deployment.stack_name,
        stand_ins={name: runtime.api_urls[name] for name in runtime.stand_ins},
        operator=operator,
        admin=runtime.endpoint.admin_credentials,
        not_rehearsed=runtime.deployment.not_created,
    )
    return runtime, info


class SecretLearner:
    """Tokens written later (`fanout local run --aws-endpoint`, an operator) reach the stand-ins: read
    every few seconds, and at once when an attached run asks (before it writes its events)."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self._runtime = runtime
        self._seen: dict[str, str] = {}
        self._lock = threading.Lock()

    def learn_once(self) -> int:
        """Teach the stand-ins every new or changed token; returns how many."""
        with self._lock:
            current = existing_secrets(self._runtime.endpoint.client("secretsmanager"))
            learned = 0
            for name, value in current.items():
                if self._seen.get(name) == value:
                    continue
                self._seen[name] = value
                learned += 1
                for channel, app in self._runtime.stand_ins.items():
                    if STAND_INS[channel].learn_secret(app, name, value):
                        break
            return learned

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(SECRET_CHECK_S):
            try:
                self.learn_once()
            except Exception:  # the endpoint is stopping
                return


def control_hooks(runtime: LocalRuntime, info: UpInfo, learner: SecretLearner) -> ControlHooks:
    """What an attached run may ask (fanout/local/up_control.py), answered from the running runtime."""
    assert runtime.resources is not None
    resources = runtime.resources
    channels = sorted(runtime.pollers)

    def describe_self() -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "endpoint": info.endpoint,
            "stack": info.stack,
            "channels": channels,
            "stand_ins": sorted(runtime.stand_ins),
            "resources": resources_json(resources),
        }

    def seed_slack(seeds: Iterable[Mapping[str, str]]) -> int:
        count = 0
        for seed in seeds:
            if runtime.slack is not None:
                runtime.slack.seed_message(seed["team"], seed["channel"], seed["ts"], seed["text"])
                count += 1
        return count

    def idle(since: float) -> dict[str, Any]:
        return {"idle": runtime.idle(since), "access_denied": runtime.denials.lines()}

    def add_faults(faults: list[Mapping[str, Any]]) -> int:
        return up_faults.join(runtime.config.faults, [up_faults.fault_from_json(f) for f in faults])

    return ControlHooks(
        info=describe_self,
        learn_secrets=learner.learn_once,
        seed_slack=seed_slack,
        add_faults=add_faults,
        tally=lambda keys: runtime.tally.entries(channels, keys),
        idle=idle,
    )


def resources_json(resources: Resources) -> dict[str, Any]:
    """The stack's resource names (no credentials), as an attached run writes to them."""
    return {
        "task_table": resources.task_table,
        "events_table": resources.events_table,
        "ledger_table": resources.ledger_table,
        "stream_arn": resources.stream_arn,
        "github_token_secret": resources.github_token_secret,
        "channels": {
            name: {
                "queue_url": ch.queue_url,
                "queue_arn": ch.queue_arn,
                "dlq_url": ch.dlq_url,
                "dlq_arn": ch.dlq_arn,
            }
            for name, ch in resources.channels.items()
        },
    }


@contextlib.contextmanager
def attachable(runtime: LocalRuntime, info: UpInfo) -> Iterator[str]:
    """Serve the control API and register it for the endpoint, so runs against it attach; yields the
    control URL. The registration goes when the block ends."""
    learner = SecretLearner(runtime)
    learner.learn_once()
    server = ControlServer(control_hooks(runtime, info, learner)).start()
    path = up_registry.register(info.endpoint, server.url, info.stack)
    stop = threading.Event()
    watcher = threading.Thread(target=learner.run, args=(stop,), name="secret-watch", daemon=True)
    watcher.start()
    try:
        yield server.url
    finally:
        stop.set()
        up_registry.unregister(path)
        server.stop()


def describe(info: UpInfo) -> list[str]:
    """What `fanout local up` prints: where things are, who to be, what to try."""
    url, stack = info.endpoint, info.stack
    common = f"--endpoint-url {url} --stack {stack}"
    lines = [
        f"AWS endpoint:  {url}  (IAM enforced)",
        f"stack:         {stack}",
        *(f"{name} stand-in: {base}" for name, base in sorted(info.stand_ins.items())),
    ]
    if info.not_rehearsed:
        kinds = ", ".join(f"{kind} ({len(ids)})" for kind, ids in sorted(info.not_rehearsed.items()))
        lines.append(f"not rehearsed (the endpoint cannot create them): {kinds}")
    lines += [
        "",
        "operator credentials (the stack's OperatorRoleArn: exactly the operator policy):",
        *(f"  export {k}={v}" for k, v in info.operator.as_env().items()),
        "  export AWS_DEFAULT_REGION=us-east-1",
        "",
        "then try:",
        f"  fanout status {common}",
        f"  fanout dlq peek --channel slack {common}",
        f"  fanout dlq redrive --channel slack --engine client --dry-run {common}",
        f"  fanout channel pause slack {common}",
        f"  fanout channel resume slack {common}",
        "",
        "to write events into this environment (the runtime's own identity, not the operator's):",
        "  env " + " ".join(f"{k}={v}" for k, v in info.admin.as_env().items()),
        f"      fanout local run --aws-endpoint {url} --scenario happy",
        "  such a run attaches: it starts no runners of its own (this process's run the functions), waits",
        "  until the queues drain, and reports exactly what its own events caused.",
        "",
        "Ctrl-C stops everything.",
    ]
    return lines


def run_up(port: int, out: Callable[[str], Any], stop: threading.Event) -> None:
    runtime, info = start_up(port)
    try:
        with attachable(runtime, info):
            for line in describe(info):
                out(line)
            stop.wait()
    finally:
        runtime.stop()


__all__ = ["PREFIX", "UpInfo", "attachable", "describe", "run_up", "start_up"]
