"""Isolation benchmark: fanout against the single-consumer design, side by side, under provider faults.

    .venv/bin/python bench/isolation.py [--tasks 40] [--workspaces 4] [--github-every 2] [--write-s 6]
        [--step-s 1] [--fault-start-s 2] [--fault-s 4] [--retry-after-s 2] [--slack-rate 2] [--cases ...]
        [--repeat 1] [--json bench/results/isolation.json] [--png docs/isolation-latency.png | --no-png]

The same workload and fault schedule through both designs for each case (baseline, Slack 429 with
Retry-After, Slack 5xx burst, GitHub secondary rate limit): fanout (router, per-channel FIFO queues,
consumers: the local runtime's, each channel consumer in a process of its own as Lambda runs it, see
bench/channel_process.py; --threads keeps them threads of this process) and the model of the
earlier design in bench/legacy.py (one stream consumer calling every channel inline). The Slack stand-in allows
--slack-rate posts per second per workspace (429 + Retry-After beyond it), the channel rate the drain
goal is measured against. Figures are in bench/measure.py; goals are checked for fanout only: GitHub p99
while Slack fails within 1.1x of the same design's baseline, over at least --min-p99-samples latencies
(pooled over the runs of a case); drain from the provider's release within 1.5x of the busy ideal
(median over the runs); no duplicate and no excess call inside a Retry-After window in any run. With
--repeat N every case runs N times per design, interleaved, and a summary gives each figure's median and
range (bench/summary.py). The machine's load average is recorded with every run, and so is where
GitHub's time goes (per process lateness and CPU, AWS calls per channel, GitHub delivery timelines).

The earlier design's model does not pace GitHub writes (the earlier design never did): its GitHub
channel is fanout's with the pacer's wait removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import uuid
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if __name__ in {"__main__", "__mp_main__"}:
    # Quiet the consumers' logs and metrics when run as a script (and in its consumer processes, which
    # import it as __mp_main__), before they are imported. Imported as a module (tests), the process
    # environment is left alone.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

from bench import measure  # noqa: E402
from bench.channel_process import ProcessPerChannelRuntime, process_per_channel  # noqa: E402
from bench.legacy import RETRY_ATTEMPTS, LegacyStats, legacy_stream_handler, unpaced_github_channel  # noqa: E402
from bench.load import load_average  # noqa: E402
from bench.moto_process import PIDS as MOTO_PIDS  # noqa: E402
from bench.moto_process import cpu_seconds, moto_server  # noqa: E402
from bench.recording import AwsCallLog, DeliveryLog, LagProbe, recording, recording_aws  # noqa: E402
from bench.report import draw_png, print_summary, print_table, print_where  # noqa: E402
from bench.summary import against, summarize  # noqa: E402
from bench.workload import FaultCase, Workload, WorkloadParams, build_workload, fault_cases  # noqa: E402
from consumers.github.pacer import WRITE_INTERVAL_S  # noqa: E402
from fanout import registry  # noqa: E402
from fanout.local.emulator import containers  # noqa: E402
from fanout.local.endpoint import AwsEndpoint  # noqa: E402
from fanout.local.runner import RunOptions, run_local  # noqa: E402

DESIGNS = ("fanout", "legacy")
DUP_GOAL = 0
GITHUB_P99_GOAL = 1.1
DRAIN_GOAL = 1.5  # drain from the provider's release, against the busy ideal
MIN_P99_SAMPLES = 30


def run_account(run_id: str) -> str:
    """Each run deploys its stack into an account of its own at the shared endpoint."""
    return f"{zlib.crc32(run_id.encode()) % 10**12:012d}"


def run_case(
    design: str,
    case: FaultCase,
    workload: Workload,
    params: WorkloadParams,
    aws: str,
    run_id: str,
    *,
    processes: bool = True,
) -> dict[str, Any]:
    """One run. `processes`: fanout's channel consumers each in a process of their own, as Lambda runs
    them (bench/channel_process.py); otherwise threads of this process, as the local runtime runs them."""
    log = DeliveryLog()
    aws_calls = AwsCallLog()
    if design == "fanout":
        factories = {
            name: recording_aws(containers.channel_factory(name), log, aws_calls)
            for name in registry.CHANNELS
        }
    else:  # one set of clients serves every channel: its calls cannot be told apart per channel
        factories = {name: recording(containers.channel_factory(name), log) for name in registry.CHANNELS}
    stats = LegacyStats()
    options = RunOptions(
        steps=workload.steps,
        faults=case.faults,
        aws_endpoint=aws,
        account=run_account(run_id),
        timeout_s=params.write_s + 3 * params.step_s + params.fault_start_s + params.fault_s + 60,
        show_progress=False,
        slack_rate_per_s=params.slack_rate_per_s or None,
    )
    if design == "fanout":
        options.channel_factories = factories
    else:
        unpaced = {**factories, measure.GITHUB: recording(unpaced_github_channel, log)}
        options.stream_handler_factory = legacy_stream_handler(unpaced, stats)
    started = time.monotonic()
    moto_pid = MOTO_PIDS.get(aws)
    rig = process_per_channel() if design == "fanout" and processes else contextlib.nullcontext()
    with rig, LagProbe(lambda: cpu_seconds(moto_pid) if moto_pid else None) as probe:
        result = run_local(options)
    children = result.runtime.child_results() if isinstance(result.runtime, ProcessPerChannelRuntime) else {}
    for child in children.values():
        for delivery in child.deliveries:
            log.add(delivery)
        aws_calls.extend(child.aws_calls)
    armed = result.runtime.config.faults.armed_at or time.time()
    window = measure.Window(armed + params.fault_start_s, armed + params.fault_start_s + params.fault_s)
    slack, github = result.slack, result.github
    assert slack is not None
    assert github is not None
    deliveries = log.items()
    channels: dict[str, measure.ChannelFigures] = {}
    slack_calls = slack.log.calls()
    rates = {
        measure.SLACK: params.slack_rate_per_s or None,
        measure.GITHUB: github_rate(design),
    }
    for name, calls, windows, duplicates in (
        (
            measure.SLACK,
            slack_calls,
            slack.windows.all(),
            measure.slack_duplicates(m.event_id for m in slack.messages(include_deleted=True)),
        ),
        (
            measure.GITHUB,
            github.log.calls(),
            github.windows.all(),
            measure.github_duplicates(github.log.calls()),
        ),
    ):
        expected = {e for c, e in workload.expected.deliveries if c == name}
        is_slack = name == measure.SLACK
        channels[name] = measure.channel_figures(
            name,
            expected=expected,
            deliveries=deliveries,
            calls=calls,
            duplicates=duplicates,
            fault=window,
            windows=windows,
            scope_of=workload.slack_team if is_slack else None,
            scopes=len(workload.teams) if is_slack else 1,
            rate_per_s=rates[name],
        )
    slack_drain = channels[measure.SLACK].drain_s or 0.0

    return {
        "design": design,
        "case": case.name,
        "fault_channel": case.channel,
        "drained": result.exit_code == 0,
        "wall_s": round(time.monotonic() - started, 2),
        "load": list(load_average()),
        "channels": measure.as_dict(channels),
        "stream": result.report.get("local", {}).get("stream", {}),
        "slack_drain_by_workspace": [
            measure.drain_diagnostics(slack_calls, team, window.end, window.end + slack_drain)
            for team in workload.teams
        ],
        "rig": "process per channel" if children else "threads of one process",
        "legacy": None
        if design == "fanout"
        else {
            "records": stats.records,
            "invocations_of_records": stats.attempts,
            "records_retried": stats.retried,
            "records_discarded": stats.discarded,
            "lost": len(stats.lost),
            "swallowed": stats.swallowed,
        },
        "where_time_goes": measure.where_time_goes(
            window,
            processes={
                "bench": (probe.samples, probe.cpu),
                **{name: (child.lag, child.cpu) for name, child in children.items()},
            },
            aws_calls=aws_calls.items(),
            deliveries=log.first().values(),
        ),
        "latency_points": {
            name: [
                [round(d.written_at - armed, 3), round(d.delivered_at - d.written_at, 3)]
                for d in log.first().values()
                if d.channel == name
            ]
            for name in registry.CHANNELS
        },
    }


def github_rate(design: str) -> float | None:
    """GitHub's configured write rate: every fanout container paces its writes WRITE_INTERVAL_S apart, so
    the channel writes at most max_concurrency per interval. The earlier design never paced: no rate."""
    if design == "legacy":
        return None
    return registry.get(registry.GITHUB.name).settings.max_concurrency / WRITE_INTERVAL_S


def judge(runs: list[dict[str, Any]]) -> None:
    """Add ratios and goal verdicts (fanout rows). GitHub p99 is compared with the same design's
    baseline; drain with the faulted channel's backlog / configured rate (Slack in the baseline)."""
    baseline = {(r["design"], r.get("repeat", 0)): r for r in runs if r["case"] == "baseline"}
    for run in runs:
        base = baseline.get((run["design"], run.get("repeat", 0)))
        ch = run["channels"]
        gh_p99, base_p99 = (
            ch["github"]["latency_p99_s"],
            (base or {}).get("channels", {}).get("github", {}).get("latency_p99_s"),
        )
        run["github_p99_ratio"] = round(gh_p99 / base_p99, 2) if gh_p99 and base_p99 else None
        drained = ch[run["fault_channel"] or measure.SLACK]
        run["drain_s"] = drained["drain_s"]
        run["drain_ideal_s"] = drained["drain_ideal_s"]
        run["drain_after_release_s"] = drained["drain_after_release_s"]
        run["drain_ideal_busy_s"] = drained["drain_ideal_busy_s"]
        ideal = drained["drain_ideal_s"]
        run["drain_ratio"] = round(run["drain_s"] / ideal, 2) if ideal else None
        if run["design"] != "fanout":
            run["goals"] = None
            continue
        goals: dict[str, bool | None] = {
            "dup": all(f["duplicates"] == DUP_GOAL for f in ch.values()),
            "retry_after": all(f["inside_retry_after_excess"] == 0 for f in ch.values()),
        }
        slack_fault = run["case"].startswith("slack")
        goals["gh_p99"] = (
            run["github_p99_ratio"] is not None and run["github_p99_ratio"] <= GITHUB_P99_GOAL
            if slack_fault
            else None
        )
        ratio = against(run["drain_after_release_s"], drained["drain_ideal_busy_s"])
        goals["drain"] = (
            ratio is not None and ratio <= DRAIN_GOAL if run["fault_channel"] is not None else None
        )
        run["goals"] = goals


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = WorkloadParams()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=d.tasks)
    parser.add_argument("--workspaces", type=int, default=d.workspaces)
    parser.add_argument("--github-every", type=int, default=d.github_every)
    parser.add_argument("--write-s", type=float, default=d.write_s)
    parser.add_argument("--step-s", type=float, default=d.step_s)
    parser.add_argument("--fault-start-s", type=float, default=d.fault_start_s)
    parser.add_argument("--fault-s", type=float, default=d.fault_s)
    parser.add_argument("--retry-after-s", type=float, default=d.retry_after_s)
    parser.add_argument(
        "--slack-rate",
        type=float,
        default=d.slack_rate_per_s,
        help="the Slack stand-in's chat.postMessage per second per workspace (0: unlimited)",
    )
    parser.add_argument(
        "--cases", nargs="+", default=None, help="subset of: baseline slack-429 slack-5xx github-secondary"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per case and design, interleaved; summarised by median"
    )
    parser.add_argument(
        "--min-p99-samples",
        type=int,
        default=MIN_P99_SAMPLES,
        help="GitHub latencies (pooled over a case's runs) the p99 goal needs on each side",
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "isolation.json")
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "isolation-latency.png")
    parser.add_argument("--no-png", action="store_true")
    parser.add_argument(
        "--aws-endpoint", default=None, help="an AWS endpoint (moto) to use; default: start one"
    )
    parser.add_argument(
        "--threads",
        action="store_true",
        help="run fanout's channel consumers as threads of this process, as the local runtime does "
        "(default: a process per channel consumer, as Lambda runs them)",
    )
    parser.add_argument(
        "--moto-in-process",
        action="store_true",
        help="start moto's server in this process, as the local runtime does (default: its own process)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.tasks < 1 or args.workspaces < 1 or args.repeat < 1:
        raise SystemExit("--tasks, --workspaces and --repeat must be at least 1")
    params = WorkloadParams(
        tasks=args.tasks,
        workspaces=args.workspaces,
        github_every=args.github_every,
        write_s=args.write_s,
        step_s=args.step_s,
        fault_start_s=args.fault_start_s,
        fault_s=args.fault_s,
        retry_after_s=args.retry_after_s,
        slack_rate_per_s=args.slack_rate,
    )
    workload = build_workload(params)
    cases = fault_cases(params, workload.teams)
    if args.cases:
        unknown = set(args.cases) - {c.name for c in cases}
        if unknown:
            raise SystemExit(f"unknown cases: {', '.join(sorted(unknown))}")
        cases = [c for c in cases if c.name in args.cases or c.name == "baseline"]
    runs: list[dict[str, Any]] = []
    load_before = list(load_average())
    started = time.monotonic()
    token = uuid.uuid4().hex[:6]  # resource names of this run only, even on a shared endpoint
    with contextlib.ExitStack() as stack:
        url = args.aws_endpoint
        if url is None and not args.moto_in_process:
            url = stack.enter_context(moto_server())
        endpoint = stack.enter_context(AwsEndpoint(url, enforce_iam=False))
        # Repeats interleave (every case, then every case again) so background load hits all alike.
        for repeat in range(args.repeat):
            for index, case in enumerate(cases):
                for design in DESIGNS:
                    # A fresh workload per run: new event ids, so nothing of one run is seen by the next.
                    fresh = build_workload(params)
                    run_id = f"{token}-{repeat}-{index}{design[0]}"
                    run = run_case(
                        design, case, fresh, params, endpoint.url, run_id, processes=not args.threads
                    )
                    run["repeat"] = repeat
                    runs.append(run)
                    load = "/".join(f"{v:.2f}" for v in run["load"])
                    print(
                        f"  {case.name:<17} {design:<7} #{repeat + 1} {run['wall_s']:6.1f}s load {load}",
                        file=sys.stderr,
                    )
    judge(runs)
    result = {
        "command": " ".join(["bench/isolation.py", *(argv if argv is not None else sys.argv[1:])]),
        "params": asdict(params),
        "legacy_retry_attempts": RETRY_ATTEMPTS,
        "cases": [{"name": c.name, "description": c.description} for c in cases],
        "repeat": args.repeat,
        "wall_s": round(time.monotonic() - started, 1),
        "runs": runs,
        "load_before": load_before,
        "load_after": list(load_average()),
        "summary": summarize(
            runs, p99_goal=GITHUB_P99_GOAL, drain_goal=DRAIN_GOAL, min_samples=args.min_p99_samples
        ),
    }
    print_table(result)
    print_where(result)
    print_summary(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(f"JSON: {args.json}")
    if not args.no_png:
        draw_png(result, args.png)
        print(f"PNG: {args.png}")
    return result


if __name__ == "__main__":
    main()
