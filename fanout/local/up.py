"""`fanout local up`: the deployed stack, the stand-ins and the function runners, until interrupted.

Everything `fanout local run` starts, without an input and without an end: the AWS endpoint (IAM
enforced), stack `fanout-local`, the stand-ins and the pollers. It prints where everything is, the
credentials of the operator role the stack creates (`fanout:operatorRole`, exactly the policy
`FanoutNotifications.grant_operate` gives) and the operations commands to try, so each runbook can be
rehearsed on one machine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fanout import registry
from fanout.local import iam
from fanout.local.deployed import OPERATOR_ROLE_ARN
from fanout.local.fakes.faults import FaultSchedule
from fanout.local.provision import PREFIX, existing_secrets
from fanout.local.runtime import LocalRuntime, RuntimeConfig
from fanout.local.standins import STAND_INS

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


def learn_new_secrets(runtime: LocalRuntime, stop: threading.Event) -> None:
    """Tokens written later (`fanout local run --aws-endpoint`, an operator) reach the stand-ins."""
    secrets = runtime.endpoint.client("secretsmanager")
    seen: dict[str, str] = {}
    while not stop.wait(SECRET_CHECK_S):
        try:
            current = existing_secrets(secrets)
        except Exception:  # the endpoint is stopping
            return
        for name, value in current.items():
            if seen.get(name) == value:
                continue
            seen[name] = value
            for channel, app in runtime.stand_ins.items():
                if STAND_INS[channel].learn_secret(app, name, value):
                    break


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
        "",
        "Ctrl-C stops everything.",
    ]
    return lines


def run_up(port: int, out: Callable[[str], Any], stop: threading.Event) -> None:
    runtime, info = start_up(port)
    try:
        for line in describe(info):
            out(line)
        watcher = threading.Thread(target=learn_new_secrets, args=(runtime, stop), daemon=True)
        watcher.start()
        stop.wait()
    finally:
        runtime.stop()


__all__ = ["PREFIX", "UpInfo", "describe", "run_up", "start_up"]
