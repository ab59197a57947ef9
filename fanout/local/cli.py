"""`fanout local run`: the whole pipeline on this machine (contract: local-runtime.md)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fanout.local.runner import EXIT_BAD_INPUT, BadInput, RunOptions
from fanout.local.scenarios import SCENARIOS

# The handlers' own logs and metrics would drown the summary; a local run shows warnings only. Set here,
# in the command, not in the library: Powertools loggers keep the level they were first built with.
QUIET_LAMBDA_ENVIRONMENT = {
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "FanoutLocal",
}

local_app = typer.Typer(
    help="Run the router and the channel consumers locally against moto and stand-in Slack/GitHub.",
    no_args_is_help=True,
    add_completion=False,
)


@local_app.callback()
def local() -> None:
    """The whole pipeline on this machine: moto, stand-in Slack and GitHub, the real handlers."""


@local_app.command("run")
def run(
    scenario: Annotated[
        str, typer.Option("--scenario", help=f"built-in scenario: {', '.join(SCENARIOS)}")
    ] = "happy",
    events_file: Annotated[
        Path | None, typer.Option("--events-file", help="JSONL input instead of a scenario's events")
    ] = None,
    slack_url: Annotated[
        str | None, typer.Option("--slack-url", help="send Slack API calls here instead of the stand-in")
    ] = None,
    github_url: Annotated[
        str | None, typer.Option("--github-url", help="send GitHub API calls here instead of the stand-in")
    ] = None,
    aws_endpoint: Annotated[
        str | None,
        typer.Option("--aws-endpoint", help="use this AWS-compatible endpoint instead of an in-process one"),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="write the JSON delivery report here")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="give up after this many seconds")] = 120.0,
    attach: Annotated[
        bool,
        typer.Option(
            "--attach/--no-attach",
            help="with --aws-endpoint run by `fanout local up`: write into it and let its runners work "
            "(default), or start runners of our own beside them",
        ),
    ] = True,
) -> None:
    """Write the input, run everything until every queue drained, print a summary, write the report.

    Exit status: 0 drained, 1 timed out with work queued or in flight, 2 bad input (nothing written).
    Against an endpoint a running `fanout local up` serves, the run attaches: no runners of its own, and
    the report counts exactly what its own events caused.
    """
    from fanout.local.attached import run_or_attach

    for name, value in QUIET_LAMBDA_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    # stdout carries progress and the summary only: the handlers' JSON log lines (and anything else
    # printed while the run works) go to stderr, as a function's logs go to its log group.
    console = Console(file=sys.stdout)
    if not console.is_terminal:
        console = Console(file=sys.stdout, width=max(console.width, 120))  # a log file gets the whole table
    options = RunOptions(
        scenario=scenario,
        events_file=events_file,
        slack_url=slack_url,
        github_url=github_url,
        aws_endpoint=aws_endpoint,
        report_path=report,
        timeout_s=timeout,
        console=console,
    )
    try:
        with contextlib.redirect_stdout(sys.stderr):
            result = run_or_attach(options, attach=attach)
    except BadInput as exc:
        Console(stderr=True).print(f"[red]bad input:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    writer_error = result.report.get("local", {}).get("writer_error")
    up_error = result.report.get("local", {}).get("up_error")
    if writer_error:
        Console(stderr=True).print(f"the input could not be written: {writer_error}", highlight=False)
    elif up_error:
        Console(stderr=True).print(up_error, highlight=False)
    elif result.exit_code:
        Console(stderr=True).print(
            f"timed out after {timeout:g}s with work still queued or in flight", highlight=False
        )
    raise typer.Exit(result.exit_code)


@local_app.command("up")
def up(
    port: Annotated[int, typer.Option("--port", help="the AWS endpoint's port (0: any free port)")] = 0,
) -> None:
    """Deploy stack fanout-local, start the stand-ins and the function runners, run until interrupted.

    Prints the AWS endpoint, the stack, the stand-ins' URLs, the operator credentials and the operations
    commands to try (each runbook of docs/operations.md can be rehearsed against it).
    """
    from fanout.local.synth import SynthError
    from fanout.local.up import run_up

    for name, value in QUIET_LAMBDA_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    if not 0 <= port <= 65535:
        Console(stderr=True).print(f"[red]bad input:[/red] --port {port} is not a port")
        raise typer.Exit(EXIT_BAD_INPUT)
    console = Console(file=sys.stdout)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with contextlib.redirect_stdout(sys.stderr):
            run_up(port, lambda line: console.print(line, highlight=False, soft_wrap=True), stop)
    except SynthError as exc:
        Console(stderr=True).print(f"[red]cannot synthesize the stack:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except OSError as exc:
        Console(stderr=True).print(f"[red]cannot start:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
