"""Cold start as Lambda runs it: each handler's import and first invocation from the asset, against bare boto3.

    .venv/bin/python bench/coldstart.py [--rounds 7] [--json PATH] [--library-costs] [--no-bytecode]

The asset is the one the stack deploys (`infra.packaging.build_asset`: locked dependencies and the code,
with bytecode compiled by Python 3.13), copied to a read-only directory. Every measurement is a fresh
`python3.13 -I -S -B` process (isolated, no site-packages, no bytecode written: Lambda's code directory is
read-only) with only that directory on sys.path, timing with time.perf_counter inside the process:

- *import*: `import <handler module>`, against the reference `import boto3` from the same directory;
- *first invocation*: the import plus the handler's first call with a one-record batch (settings, the boto3
  clients and the HTTP client it builds, Powertools' batch processing, the log line and metrics, and the
  SQS call the record needs: the router sends a task_created event to the channel queues, a consumer
  dead-letters a malformed message), against the reference: `import boto3`, the same boto3 clients built
  with boto3 alone, and one SQS SendMessage. Every AWS call goes to a local endpoint in this process
  (`AWS_ENDPOINT_URL`) that accepts everything, so the network is the same for both.

Each round runs the reference and every handler once, starting with a different one each round, so
background load hits them alike;
the figures are medians over the rounds with their ranges, and the goal (import within 1.2x of bare
`import boto3`) is judged on the ratio of the medians. The handlers are the router plus every channel of
the registry (`fanout.registry.CHANNELS[...].handler`), so a new channel is measured without a change
here. `--library-costs` adds what each library costs: the CPU time of importing it in a fresh interpreter
that already imported what comes before it (boto3, then Powertools' Logger, ...), median over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.lambda_like import local_endpoint, read_only_copy  # noqa: E402
from bench.load import load_average  # noqa: E402
from fanout import registry  # noqa: E402

GOAL_RATIO = 1.2
ROUTER = "fanout.router.handler.handler"
ROUTER_CLIENTS = ("sqs",)
CONSUMER_CLIENTS = ("sqs", "dynamodb", "secretsmanager")
REFERENCE = "bare boto3"
QUEUE_BASE = "https://sqs.us-east-1.amazonaws.com/123456789012/"
# Values for the channels' required deployment options (`ChannelOption`), which have no default: the
# consumer refuses to start without them. A new channel with a required option needs an entry here.
OPTION_VALUES = {"FANOUT_EMAIL_FROM": "fanout@coldstart.test"}

# Run inside the measured interpreter: argv = [asset, "module.function" or "", event JSON, clients...].
PROBE = """
import sys, time
t0, c0 = time.perf_counter(), time.process_time()
sys.path.insert(0, sys.argv[1])
target, event, clients = sys.argv[2], sys.argv[3], sys.argv[4:]
if target:
    module, _, name = target.rpartition(".")
    handler = getattr(__import__(module, fromlist=[name]), name)
    t1, c1 = time.perf_counter(), time.process_time()
    import json
    handler(json.loads(event), None)
else:
    import boto3
    t1, c1 = time.perf_counter(), time.process_time()
    built = {service: boto3.client(service) for service in clients}
    built["sqs"].send_message(QueueUrl=event, MessageBody="{}")
t2, c2 = time.perf_counter(), time.process_time()
sys.stdout.write("\\n%r %r %r %r %d\\n" % (t1 - t0, t2 - t0, c1 - c0, c2 - c0, len(sys.modules)))
"""


@dataclass(frozen=True)
class Subject:
    name: str
    target: str  # "module.function" of the handler; "" for the reference
    clients: tuple[str, ...]  # the boto3 clients the reference builds for the first invocation


@dataclass
class Figures:
    """Per round: wall time and CPU time of the import, and of the import plus the first invocation."""

    name: str
    import_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    import_cpu_ms: list[float] = field(default_factory=list)
    first_cpu_ms: list[float] = field(default_factory=list)
    modules: int = 0

    def add(self, sample: tuple[float, float, float, float, int]) -> None:
        imported, first, imported_cpu, first_cpu, self.modules = sample
        self.import_ms.append(1000 * imported)
        self.first_ms.append(1000 * first)
        self.import_cpu_ms.append(1000 * imported_cpu)
        self.first_cpu_ms.append(1000 * first_cpu)


def subjects() -> list[Subject]:
    """The router and every registered channel's consumer, each with its reference's boto3 clients."""
    handlers = [Subject("router", ROUTER, ROUTER_CLIENTS)]
    handlers += [Subject(name, spec.handler, CONSUMER_CLIENTS) for name, spec in registry.CHANNELS.items()]
    return handlers


def lambda_environment(endpoint: str) -> dict[str, dict[str, str]]:
    """What the stack gives the functions (queue URLs, tables, channel), with placeholders for ARNs."""
    from consumers.runtime.settings import environment_for as consumer_env
    from fanout.router.settings import environment_for as router_env

    base = QUEUE_BASE
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "coldstart",
        "AWS_SECRET_ACCESS_KEY": "coldstart",
        "POWERTOOLS_METRICS_NAMESPACE": "Fanout",
        "POWERTOOLS_SERVICE_NAME": "coldstart",
        **router_env({name: f"{base}fanout-{name}.fifo" for name in registry.CHANNELS}),
    }
    per_channel = {}
    for name, spec in registry.CHANNELS.items():
        per_channel[name] = consumer_env(
            spec,
            spec.settings,
            queue_url=f"{base}fanout-{name}.fifo",
            dlq_url=f"{base}fanout-{name}-dlq.fifo",
            task_table="PlatformTasks",
            ledger_table="FanoutLedger",
        )
        for option in spec.required_options:
            if option.env not in OPTION_VALUES:
                raise SystemExit(f"bench/coldstart.py: no value for {name}'s required option {option.env}")
            per_channel[name][option.env] = OPTION_VALUES[option.env]
    return {"": env, **{name: {**env, **extra} for name, extra in per_channel.items()}}


def first_event(subject: Subject) -> str:
    """The first invocation's event (JSON), or for the reference the queue URL of its one SQS call."""
    if not subject.target:
        return QUEUE_BASE + "reference.fifo"
    if subject.target == ROUTER:
        image = {
            "task_id": {"S": "task-coldstart"},
            "event_id": {"S": "01JCOLDSTART0000000000000001"},
            "event_type": {"S": "task_created"},
            "timestamp": {"S": "2026-11-26T10:00:00Z"},
            "metadata": {"M": {}},
        }
        record = {
            "eventID": "1",
            "eventName": "INSERT",
            "dynamodb": {"NewImage": image, "SequenceNumber": "1"},
        }
        return json.dumps({"Records": [record]})
    record = {
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": "not an event",
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764150000000",
            "ApproximateFirstReceiveTimestamp": "1764150000000",
            "MessageGroupId": "task-coldstart",
            "MessageDeduplicationId": "e-1",
        },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:fanout.fifo",
        "awsRegion": "us-east-1",
    }
    return json.dumps({"Records": [record]})


def run_probe(
    python: Path, asset: Path, subject: Subject, env: Mapping[str, str]
) -> tuple[float, float, float, float, int]:
    """Seconds of import and of import + first invocation, wall then CPU, and the modules loaded, of one
    fresh interpreter."""
    args = [subject.target, first_event(subject), *subject.clients]
    result = subprocess.run(
        [str(python), "-I", "-S", "-B", "-c", PROBE, str(asset), *args],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=asset,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{subject.name} failed in the asset:\n{result.stderr[-3000:]}")
    *times, modules = result.stdout.strip().splitlines()[-1].split()
    wall, first, cpu, first_cpu = map(float, times)
    return wall, first, cpu, first_cpu, int(modules)


# (library, what the process imports first): the CPU time of importing the library on top of that.
LIBRARIES = (
    ("aws_lambda_powertools: Logger and Metrics (the package imports both)", "boto3",
     "from aws_lambda_powertools import Logger; import aws_lambda_powertools.metrics"),
    ("aws_lambda_powertools.utilities.batch (no longer imported)", "boto3; from aws_lambda_powertools import Logger",
     "import aws_lambda_powertools.utilities.batch"),
    ("aws_lambda_powertools.utilities.parameters (Slack and GitHub tokens: imported by the first token read)",
     "boto3; from aws_lambda_powertools import Logger", "import aws_lambda_powertools.utilities.parameters"),
    ("httpx (with idna; httpcore comes with the first client)", "boto3", "import httpx"),
    ("fanout.router.handler (the router's own code)", "boto3; from aws_lambda_powertools import Logger; "
     "import aws_lambda_powertools.metrics", "import fanout.router.handler"),
    ("consumers.runtime.lambda_entry (runtime code, httpx excluded)", "boto3, httpx; import fanout.router.handler",
     "import consumers.runtime.lambda_entry"),
    ("consumers.slack.handler (Slack code)", "boto3, httpx; import consumers.runtime.lambda_entry",
     "import consumers.slack.handler"),
    ("consumers.github.handler (GitHub code)", "boto3, httpx; import consumers.runtime.lambda_entry",
     "import consumers.github.handler"),
)  # fmt: skip


# Handlers whose import is split into the dataclasses it creates and the rest (`--library-costs`).
DATACLASS_SPLIT = ("consumers.slack.handler", "consumers.github.handler")

# Python 3.13's dataclasses writes and compiles the source of each class's methods at class creation: the
# CPU time spent in it while a handler module is imported on top of boto3, and how many classes.
DATACLASS_PROBE = """
import sys, time, dataclasses
sys.path.insert(0, sys.argv[1])
import boto3
spent = [0.0, 0]
make = dataclasses._process_class
def timed(*args, **kwargs):
    c = time.process_time()
    try:
        return make(*args, **kwargs)
    finally:
        spent[0] += time.process_time() - c
        spent[1] += 1
dataclasses._process_class = timed
c = time.process_time()
__import__(sys.argv[2])
print(time.process_time() - c, spent[0], spent[1])
"""


def dataclass_cost(
    python: Path, asset: Path, module: str, env: Mapping[str, str]
) -> tuple[float, float, int]:
    """CPU ms of importing `module` on top of boto3, the part of it spent creating dataclasses, and how
    many dataclasses it created."""
    result = subprocess.run(
        [str(python), "-I", "-S", "-B", "-c", DATACLASS_PROBE, str(asset), module],
        capture_output=True,
        text=True,
        env=dict(env),
        check=True,
    )
    total, spent, count = result.stdout.strip().splitlines()[-1].split()
    return 1000 * float(total), 1000 * float(spent), int(count)


def library_cost(python: Path, asset: Path, first: str, measured: str, env: Mapping[str, str]) -> float:
    """CPU ms of `measured` in a fresh interpreter that already imported `first` from the asset."""
    code = (
        f"import sys, time; sys.path.insert(0, {str(asset)!r}); import {first}; "
        f"c = time.process_time(); {measured}; print(time.process_time() - c)"
    )
    result = subprocess.run(
        [str(python), "-I", "-S", "-B", "-c", code], capture_output=True, text=True, env=dict(env), check=True
    )
    return 1000 * float(result.stdout.strip().splitlines()[-1])


def measure(
    python: Path, asset: Path, rounds: int, *, endpoint: str, with_costs: bool
) -> tuple[dict[str, Figures], dict[str, str]]:
    envs = lambda_environment(endpoint)
    reference = Subject(REFERENCE, "", CONSUMER_CLIENTS)
    handlers = subjects()
    figures = {s.name: Figures(s.name) for s in [reference, *handlers]}
    for clients in {s.clients for s in handlers}:
        figures[reference_name(clients)] = Figures(reference_name(clients))
    costs: dict[str, list[float]] = defaultdict(list)
    everyone = [reference, *handlers]
    for round_number in range(rounds):
        # Each round starts with a different subject: the first process of a round may meet a colder
        # cache or a busier moment, and no subject should always be the one that does.
        shift = round_number % len(everyone)
        for subject in everyone[shift:] + everyone[:shift]:
            env = envs.get(subject.name, envs[""])
            figures[subject.name].add(run_probe(python, asset, subject, env))
        for clients in {s.clients for s in handlers}:  # the reference's first invocation per client set
            sample = run_probe(python, asset, Subject(REFERENCE, "", clients), envs[""])
            figures[reference_name(clients)].add(sample)
        if with_costs:
            for name, first, measured in LIBRARIES:
                costs[name].append(library_cost(python, asset, first, measured, envs["slack"]))
            for module in DATACLASS_SPLIT:
                total, spent, count = dataclass_cost(python, asset, module, envs["slack"])
                costs[f"{module} on top of boto3: all of it"].append(total)
                costs[f"{module}: creating its {count} dataclasses (part of the above)"].append(spent)
    return figures, {name: span(values) for name, values in costs.items()}


def reference_name(clients: Sequence[str]) -> str:
    return f"{REFERENCE} + {', '.join(clients)}"


def span(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def ratio(mine: Sequence[float], reference: Sequence[float]) -> float:
    return round(statistics.median(mine) / statistics.median(reference), 2)


def rows(figures: Mapping[str, Figures]) -> list[dict[str, Any]]:
    """One row per handler: import and first invocation against their references, with the verdict.

    The verdict uses CPU time: on a shared machine a process's wall time is mostly other processes'
    scheduling, while the work an import does (finding, reading and executing modules) is CPU time in
    the process. Wall time is shown next to it."""
    reference = figures[REFERENCE]
    out = []
    for subject in subjects():
        mine = figures[subject.name]
        first_reference = figures[reference_name(subject.clients)]
        import_ratio = ratio(mine.import_cpu_ms, reference.import_cpu_ms)
        out.append(
            {
                "handler": subject.name,
                "import_cpu_ms": span(mine.import_cpu_ms),
                "reference_import_cpu_ms": span(reference.import_cpu_ms),
                "import_ratio": import_ratio,
                "import_wall_ms": span(mine.import_ms),
                "reference_import_wall_ms": span(reference.import_ms),
                "import_wall_ratio": ratio(mine.import_ms, reference.import_ms),
                "first_cpu_ms": span(mine.first_cpu_ms),
                "reference_first_cpu_ms": span(first_reference.first_cpu_ms),
                "first_ratio": ratio(mine.first_cpu_ms, first_reference.first_cpu_ms),
                "first_wall_ratio": ratio(mine.first_ms, first_reference.first_ms),
                "modules": mine.modules,
                "reference_modules": reference.modules,
                "verdict": "PASS" if import_ratio <= GOAL_RATIO else "FAIL",
            }
        )
    return out


def print_table(table: list[dict[str, Any]], costs: Mapping[str, str]) -> None:
    head = (
        "| handler | import CPU ms | bare `import boto3` CPU ms | ratio (goal <= 1.2x) | wall ms (boto3) "
        "| wall ratio | first invocation CPU ms | bare boto3 + same clients + 1 call, CPU ms | ratio "
        "(wall) | modules (boto3) |"
    )
    print(head)
    print("|" + "---|" * (head.count(" | ") + 1))
    for r in table:
        print(
            f"| {r['handler']} | {r['import_cpu_ms']} | {r['reference_import_cpu_ms']} "
            f"| {r['import_ratio']:.2f}x {r['verdict']} | {r['import_wall_ms']} ({r['reference_import_wall_ms']}) "
            f"| {r['import_wall_ratio']:.2f}x | {r['first_cpu_ms']} | {r['reference_first_cpu_ms']} "
            f"| {r['first_ratio']:.2f}x ({r['first_wall_ratio']:.2f}x) | {r['modules']} ({r['reference_modules']}) |"
        )
    if costs:
        print(
            "\nwhat each library costs on import, CPU ms on top of what is already imported (median (range)):\n"
        )
        print("| library | CPU ms |")
        print("|---|---|")
        for name, value in costs.items():
            print(f"| {name} | {value} |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--library-costs", action="store_true", help="also what each library costs on import")
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="measure the asset with its bytecode removed (for comparison)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from infra.packaging import build_asset, find_lambda_python

    python = find_lambda_python()
    asset = build_asset()
    load_before = load_average()
    with read_only_copy(asset.path, bytecode=not args.no_bytecode) as copy, local_endpoint() as endpoint:
        figures, costs = measure(python, copy, args.rounds, endpoint=endpoint, with_costs=args.library_costs)
    load_after = load_average()
    table = rows(figures)
    print(
        f"bench/coldstart.py --rounds {args.rounds}{' --no-bytecode' if args.no_bytecode else ''}: "
        f"Python {python}, asset {asset.asset_hash}, "
        f"load average before {load_before}, after {load_after}\n"
    )
    print_table(table, costs)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "rounds": args.rounds,
            "load_before": load_before,
            "load_after": load_after,
            "rows": table,
            "figures": {k: asdict(v) for k, v in figures.items()},
            "import_costs_ms": costs,
        }
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0 if all(r["verdict"] == "PASS" for r in table) else 1


if __name__ == "__main__":
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    raise SystemExit(main())
