"""The typer layer of the operations commands: options in, one call into fanout.ops, output out.

`register_ops_commands(app)` adds `status`, `dlq peek|redrive` and `channel pause|resume` to the root app.
Errors become one line on stderr and exit code 1 (the operation failed) or 2 (bad usage).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import FrameType
from typing import Annotated, Any

import typer
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)
from rich.console import Console
from rich.markup import escape

from fanout.ops import discovery, dlq_peek, pause, redrive_native, render, status
from fanout.ops.clients import AwsSession
from fanout.ops.errors import OpsError, UsageError
from fanout.ops.filters import RedriveFilter, parse_duration
from fanout.ops.messages import empty_dlq_message, queue_counts, queue_name_of
from fanout.ops.redrive_client import redrive_client

MAX_DETAIL = 300  # an error's detail is cut to keep the message one readable line
UNIMPLEMENTED = frozenset({"500", "InternalFailure", "InternalError", "NotImplemented", "InvalidAction"})
SessionFactory = Callable[[str | None, str | None], AwsSession]

Endpoint = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="AWS-compatible endpoint, e.g. a local run's moto server."),
]
Region = Annotated[str | None, typer.Option("--region", help="AWS region (default: your AWS configuration).")]
Stack = Annotated[
    str | None, typer.Option("--stack", help="Deployed stack name: resources from its outputs.")
]
Prefix = Annotated[
    str | None, typer.Option("--queue-prefix", help="Queue name prefix of a local run, e.g. fanout-local.")
]
ChannelOpt = Annotated[str, typer.Option("--channel", "-c", help="Channel name, e.g. slack or github.")]
PositionalChannel = Annotated[
    str | None, typer.Argument(help="Channel name, e.g. slack.", show_default=False)
]
ChannelOption = Annotated[
    str | None, typer.Option("--channel", "-c", help="Channel name (the same as the argument).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


class Engine(StrEnum):
    native = "native"
    client = "client"


def _default_session(endpoint_url: str | None, region: str | None) -> AwsSession:
    return AwsSession(endpoint_url=endpoint_url, region=region)


def register_ops_commands(
    app: typer.Typer,
    *,
    session_factory: SessionFactory = _default_session,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    receive_wait_s: int = 1,
) -> None:
    """Add the operations commands to `app`. The keywords exist for tests (stubbed clients, no sleeping)."""
    dlq_app = typer.Typer(help="Inspect and redrive a channel's dead-letter queue.", no_args_is_help=True)
    channel_app = typer.Typer(help="Pause or resume a channel's consumer.", no_args_is_help=True)

    def open_target(
        stack: str | None,
        prefix: str | None,
        endpoint: str | None,
        region: str | None,
        channels: Sequence[str] | None,
    ) -> tuple[AwsSession, discovery.Target]:
        discovery.check_selector(stack, prefix)
        chosen = discovery.check_channels(channels or None)
        session = session_factory(endpoint, region)
        every = not channels  # not named: the ones deployed, whichever of the registry's they are
        if stack is not None:
            found = discovery.from_stack(
                session.cloudformation, stack, chosen, skip_absent=every, sqs=session.sqs, lam=session.lambda_
            )
            return session, found
        return session, discovery.from_prefix(session.sqs, str(prefix), chosen, skip_absent=every)

    @app.command("status")
    def status_command(
        stack: Stack = None,
        queue_prefix: Prefix = None,
        endpoint_url: Endpoint = None,
        region: Region = None,
        channel: Annotated[
            list[str] | None, typer.Option("--channel", "-c", help="Only this channel (repeatable).")
        ] = None,
        as_json: AsJson = False,
        sample_age: Annotated[
            bool,
            typer.Option(
                "--sample-age",
                help="Without CloudWatch data, estimate the oldest age by receiving up to ten messages "
                "(given back at once; starts their age budget early: avoid on a paused channel).",
            ),
        ] = False,
    ) -> None:
        """Per channel: queue depth, in flight, DLQ depth, oldest message age, consumer event source."""
        with _guarded():
            session, target = open_target(stack, queue_prefix, endpoint_url, region, channel)
            rows = status.collect_status(session, target, now=clock(), sample=sample_age)
            if as_json:
                payload = {"source": target.source, "name": target.name}
                payload_channels = {row.channel: row.as_json() for row in rows}
                typer.echo(json.dumps({**payload, "channels": payload_channels}, indent=2))
                return
            console = Console()
            console.print(render.status_table(rows, target))
            for note in render.status_notes(rows):
                console.print(f"[yellow]{escape(note)}[/]")

    @dlq_app.command("peek")
    def peek_command(
        channel: ChannelOpt,
        limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 10,
        stack: Stack = None,
        queue_prefix: Prefix = None,
        endpoint_url: Endpoint = None,
        region: Region = None,
        as_json: AsJson = False,
    ) -> None:
        """Show dead-lettered messages (reason, attempts, task, event type, age) without consuming them."""
        with _guarded():
            session, target = open_target(stack, queue_prefix, endpoint_url, region, [channel])
            dlq_url = target.channel(channel).dlq_url
            result = dlq_peek.peek(session.sqs, dlq_url, limit=limit, wait_s=receive_wait_s)
            now = clock()
            if as_json:  # an empty DLQ is `[]`, exit 0: `fanout dlq peek --json | jq` stays simple
                typer.echo(json.dumps([letter.as_json(now) for letter in result.letters], indent=2))
                return
            if not result.letters:
                typer.echo(empty_dlq_message(dlq_url, result.counts))
                return
            title = f"{queue_name_of(dlq_url)}: {len(result.letters)} of ~{result.counts.visible}"
            console = Console()
            console.print(render.letters_table(result.letters, now, title=title))
            console.print("nothing consumed: every message was made visible again")

    @dlq_app.command("redrive")
    def redrive_command(
        channel: ChannelOpt,
        engine: Annotated[
            Engine, typer.Option("--engine", help="native: SQS move task; client: filters.")
        ] = (Engine.client),
        rate: Annotated[
            int | None, typer.Option("--rate", help="native: messages per second (1-500).")
        ] = None,
        cancel: Annotated[bool, typer.Option("--cancel", help="native: stop the running move task.")] = False,
        reason: Annotated[str | None, typer.Option("--reason", help="client: reason contains TEXT.")] = None,
        task_id: Annotated[str | None, typer.Option("--task-id", help="client: only this task.")] = None,
        event_type: Annotated[
            str | None, typer.Option("--event-type", help="client: only this type.")
        ] = None,
        older_than: Annotated[
            str | None,
            typer.Option("--older-than", help="client: dead-lettered at least this long ago (2h)."),
        ] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="client: list what would move.")] = False,
        include_malformed: Annotated[
            bool,
            typer.Option(
                "--include-malformed",
                help="Move `malformed` messages too (left in the DLQ by default: they can never succeed).",
            ),
        ] = False,
        limit: Annotated[int | None, typer.Option("--limit", min=1, help="client: move at most N.")] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="client: the result as JSON on stdout.")
        ] = False,
        stack: Stack = None,
        queue_prefix: Prefix = None,
        endpoint_url: Endpoint = None,
        region: Region = None,
    ) -> None:
        """Move dead-lettered messages back to the channel queue (deleted only once the queue has them)."""
        with _guarded():
            filters = RedriveFilter(
                reason=reason,
                task_id=task_id,
                event_type=event_type,
                older_than=parse_duration(older_than) if older_than is not None else None,
            )
            client_only = not filters.is_empty or dry_run or limit is not None or as_json
            if engine is Engine.native and client_only:
                raise UsageError("filters, --dry-run, --limit and --json need --engine client")
            if engine is Engine.client and (rate is not None or cancel):
                raise UsageError("--rate and --cancel apply to --engine native")
            if engine is Engine.native and not cancel and not include_malformed:
                raise UsageError(
                    "--engine native moves every message, `malformed` ones too: add --include-malformed "
                    "to confirm, or use --engine client, which leaves them in the DLQ"
                )
            if rate is not None and not 1 <= rate <= redrive_native.MAX_RATE:
                raise UsageError(f"--rate must be 1..{redrive_native.MAX_RATE} messages per second")
            session, target = open_target(stack, queue_prefix, endpoint_url, region, [channel])
            chosen = target.channel(channel)
            if engine is Engine.native:
                try:
                    _native(session, chosen, rate=rate, cancel=cancel, sleep=sleep)
                except ClientError as exc:
                    if session.is_local and exc.response.get("Error", {}).get("Code") in UNIMPLEMENTED:
                        raise OpsError(
                            "this endpoint does not implement SQS message move tasks (moto lacks them): "
                            "use --engine client"
                        ) from None
                    raise
            else:
                options = ClientOptions(
                    dry_run=dry_run,
                    limit=limit,
                    as_json=as_json,
                    wait_s=receive_wait_s,
                    include_malformed=include_malformed,
                )
                _client(session, chosen, filters, options, clock=clock)

    def toggle(
        channel: str,
        stack: str | None,
        prefix: str | None,
        endpoint: str | None,
        region: str | None,
        *,
        enabled: bool,
    ) -> None:
        verb = "resume" if enabled else "pause"
        with _guarded():
            discovery.check_selector(stack, prefix)
            pause.require_deployed(deployed=stack is not None, verb=verb)  # before looking for queues
            session, target = open_target(stack, prefix, endpoint, region, [channel])
            result = pause.set_consumer_enabled(
                session.lambda_, session.sqs, target.channel(channel), enabled=enabled
            )
            if result.changed:
                typer.echo(f"{channel}: event source {result.uuid} {result.before} -> {result.after}")
            else:
                typer.echo(f"{channel}: event source {result.uuid} already {result.before}; nothing changed")
            if not enabled:
                warning = pause.oldest_near_retention(
                    session.sqs, session.cloudwatch, target.channel(channel), clock()
                )
                if warning:
                    typer.echo(f"{channel}: {warning}", err=True)

    @channel_app.command("pause")
    def pause_command(
        channel: PositionalChannel = None,
        channel_option: ChannelOption = None,
        stack: Stack = None,
        queue_prefix: Prefix = None,
        endpoint_url: Endpoint = None,
        region: Region = None,
    ) -> None:
        """Disable the channel consumer's event source: its messages wait in the queue."""
        with _guarded():
            chosen = _one_channel(channel, channel_option, "pause")
        toggle(chosen, stack, queue_prefix, endpoint_url, region, enabled=False)

    @channel_app.command("resume")
    def resume_command(
        channel: PositionalChannel = None,
        channel_option: ChannelOption = None,
        stack: Stack = None,
        queue_prefix: Prefix = None,
        endpoint_url: Endpoint = None,
        region: Region = None,
    ) -> None:
        """Enable the channel consumer's event source again."""
        with _guarded():
            chosen = _one_channel(channel, channel_option, "resume")
        toggle(chosen, stack, queue_prefix, endpoint_url, region, enabled=True)

    app.add_typer(dlq_app, name="dlq")
    app.add_typer(channel_app, name="channel")


def _one_channel(positional: str | None, option: str | None, verb: str) -> str:
    """`channel pause slack` and `channel pause --channel slack` are the same; one of them is needed."""
    if positional is not None and option is not None and positional != option:
        raise UsageError(f"two channels given ({positional!r} and --channel {option!r}): give one")
    chosen = positional if positional is not None else option
    if chosen is None:
        raise UsageError(
            f"which channel? `fanout channel {verb} slack` or `fanout channel {verb} --channel slack`"
        )
    return chosen


def _native(
    session: AwsSession,
    target: discovery.ChannelTarget,
    *,
    rate: int | None,
    cancel: bool,
    sleep: Callable[[float], None],
) -> None:
    sqs = session.sqs
    arns = discovery.with_arns(sqs, target)
    dlq_arn, queue_arn = str(arns.dlq_arn), str(arns.queue_arn)
    if cancel:
        moved = redrive_native.cancel_move_task(sqs, dlq_arn)
        typer.echo(f"cancelled the move task on {queue_name_of(target.dlq_url)} after ~{moved} messages")
        return
    if _nothing_to_move(sqs, target.dlq_url):
        return
    try:
        with render.native_progress(Console(stderr=True)) as on_progress:
            task = redrive_native.redrive_native(
                sqs, dlq_arn=dlq_arn, queue_arn=queue_arn, rate=rate, on_progress=on_progress, sleep=sleep
            )
    except KeyboardInterrupt:
        raise OpsError(
            "stopped watching; the move task keeps running (stop it with: fanout dlq redrive "
            f"--channel {target.channel} --engine native --cancel ...)"
        ) from None
    if task.status != "COMPLETED":
        raise OpsError(f"move task {task.status} after ~{task.moved} messages: {task.failure_reason or '-'}")
    typer.echo(
        f"moved ~{task.moved} messages from {queue_name_of(target.dlq_url)} to {queue_name_of(target.queue_url)}"
    )


@dataclass(frozen=True)
class ClientOptions:
    dry_run: bool
    limit: int | None
    as_json: bool
    wait_s: int
    include_malformed: bool = False


def _client(
    session: AwsSession,
    target: discovery.ChannelTarget,
    filters: RedriveFilter,
    options: ClientOptions,
    *,
    clock: Callable[[], datetime],
) -> None:
    dlq, queue = queue_name_of(target.dlq_url), queue_name_of(target.queue_url)
    if _nothing_to_move(session.sqs, target.dlq_url):
        return
    with _interrupt_flag() as stopped, render.client_progress(Console(stderr=True)) as on_progress:
        result = redrive_client(
            session.sqs,
            target.dlq_url,
            target.queue_url,
            filters,
            dry_run=options.dry_run,
            include_malformed=options.include_malformed,
            on_progress=on_progress,
            limit=options.limit,
            clock=clock,
            wait_s=options.wait_s,
            stop=stopped,
        )
    if options.as_json:
        typer.echo(json.dumps(result.as_json(clock()), indent=2))
    else:
        console = Console()
        if options.dry_run and result.matches:
            title = f"would move ({filters.describe()})"
            console.print(render.letters_table(result.matches, clock(), title=title))
        for line in render.redrive_summary(result, dlq=dlq, queue=queue, filters=filters.describe()):
            console.print(escape(line))
    if result.interrupted:
        raise OpsError(
            f"interrupted after moving {result.moved}; nothing was lost: run the same command again "
            "to continue"
        )
    if not result.ok:
        raise OpsError("some messages could not be moved (listed above); fix the cause and run again")


@contextmanager
def _interrupt_flag() -> Iterator[Callable[[], bool]]:
    """While the block runs, the first Ctrl-C asks the redrive to stop after the message in hand (a move
    is never split); a second one interrupts at once (still nothing lost: see redrive_client)."""
    stopped = False

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal stopped
        if stopped:
            raise KeyboardInterrupt
        stopped = True

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread (an embedding tool): Ctrl-C keeps its default meaning
        yield lambda: False
        return
    try:
        yield lambda: stopped
    finally:
        signal.signal(signal.SIGINT, previous)


def _nothing_to_move(sqs: Any, dlq_url: str) -> bool:
    """An empty DLQ is not a failure: say so and exit 0 (messages held elsewhere are reported later)."""
    counts = queue_counts(sqs, dlq_url)
    if counts.total == 0:
        typer.echo(empty_dlq_message(dlq_url, counts))
        return True
    return False


@contextmanager
def _guarded() -> Iterator[None]:
    """Known failures as one line on stderr and an exit code, never a traceback."""
    try:
        yield
    except OpsError as exc:
        _fail(str(exc), exc.exit_code)
    except NoCredentialsError:
        _fail("no AWS credentials found: configure a profile (AWS_PROFILE) or export AWS_ACCESS_KEY_ID", 1)
    except NoRegionError:
        _fail("no AWS region: pass --region or set AWS_REGION", 1)
    except EndpointConnectionError as exc:
        _fail(f"cannot reach {exc.kwargs.get('endpoint_url', 'the endpoint')}: is it running?", 1)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        operation = getattr(exc, "operation_name", "?")
        detail = " ".join(str(error.get("Message", "")).split())[:MAX_DETAIL]
        _fail(f"AWS refused {operation}: {error.get('Code', '?')}: {detail}", 1)
    except BotoCoreError as exc:
        _fail(f"AWS call failed: {exc}", 1)


def _fail(message: str, code: int) -> None:
    Console(stderr=True, highlight=False).print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)
