"""What the operations commands print: rich tables, progress bars and one-line summaries."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from fanout.ops.discovery import Target
from fanout.ops.messages import DeadLetter
from fanout.ops.redrive_client import RedriveProgress, RedriveResult
from fanout.ops.redrive_native import MoveTask
from fanout.ops.status import ChannelStatus

NONE = "-"
ERROR_PREVIEW = 80


def format_age(seconds: float | None) -> str:
    """60 -> '1m 0s', 7260 -> '2h 1m', 90000 -> '1d 1h'; None -> '-'."""
    if seconds is None:
        return NONE
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _cell(value: object) -> str:
    return NONE if value is None else escape(str(value))


def status_table(rows: Sequence[ChannelStatus], target: Target) -> Table:
    where = f"stack {target.name}" if target.deployed else f"queue prefix {target.name}"
    table = Table(title=f"fanout status ({escape(where)})")
    for header in ("channel", "queue depth", "in flight", "DLQ depth", "oldest message"):
        table.add_column(header, justify="left" if header == "channel" else "right")
    for header in ("event source", "batch size", "max concurrency"):
        table.add_column(header, justify="right")
    for row in rows:
        source = row.event_source
        age = format_age(row.oldest_age_s)
        if row.age_source == "sample":
            age = f">= {age}"  # a sample is a lower bound
        dlq = f"[bold red]{row.dlq_depth}[/]" if row.dlq_depth else "0"
        state = _cell(source.state if source else None)
        if source and source.state != "Enabled":
            state = f"[yellow]{state}[/]"
        table.add_row(
            row.channel,
            str(row.queue_depth),
            str(row.in_flight),
            dlq,
            age,
            state,
            _cell(source.batch_size if source else None),
            _cell(source.max_concurrency if source else None),
        )
    return table


def status_notes(rows: Sequence[ChannelStatus]) -> list[str]:
    return [f"{row.channel}: {row.note}" for row in rows if row.note]


def letters_table(letters: Sequence[DeadLetter], now: datetime, *, title: str) -> Table:
    table = Table(title=escape(title))
    for header in ("task id", "event type", "reason", "attempts", "age", "last error"):
        table.add_column(header, overflow="fold")
    for letter in letters:
        error = letter.last_error or ""
        if len(error) > ERROR_PREVIEW:
            error = error[: ERROR_PREVIEW - 1] + "…"
        age = letter.age(now)
        table.add_row(
            _cell(letter.task_id),
            _cell(letter.event_type),
            _cell(letter.reason),
            _cell(letter.attempts),
            format_age(None if age is None else age.total_seconds()),
            _cell(error or None),
        )
    return table


def redrive_summary(
    result: RedriveResult, *, dlq: str, queue: str, filters: str = "all messages"
) -> list[str]:
    if result.matched == 0:
        lines = [f"no message of the {result.examined} examined in {dlq} matched ({filters}); nothing moved"]
    elif result.dry_run:
        lines = [
            f"dry run: {result.matched} of {result.examined} examined messages would move from {dlq} to "
            f"{queue}; nothing changed"
        ]
    else:
        lines = [f"moved {result.moved} of {result.matched} matching messages from {dlq} to {queue}"]
    if result.stayed and not result.dry_run:
        lines.append(f"left {result.stayed} messages that do not match in {dlq}, in their order")
    if result.malformed_kept:
        lines.append(
            f"left {result.malformed_kept} malformed messages in {dlq}: a redrive cannot fix them "
            "(--include-malformed moves them anyway)"
        )
    if result.duplicates:
        verb = "would remove" if result.dry_run else "removed"
        lines.append(f"{verb} {result.duplicates} duplicates left in {dlq} by an interrupted redrive")
    if result.unexamined:
        lines.append(_unexamined_line(result))
    lines += [f"not moved, still in the DLQ: {failure}" for failure in result.failed]
    lines += [f"duplicate possible (harmless): {failure}" for failure in result.delete_failed]
    return lines


def _unexamined_line(result: RedriveResult) -> str:
    n = result.unexamined
    if result.reached_limit:
        return f"stopped at --limit; {n} messages were not examined"
    if result.interrupted:
        return f"interrupted; {n} messages were not examined"
    if result.dry_run:
        return (
            f"{n} messages were not examined: a dry run sees only the first messages of each task "
            "(SQS shows no more of a task while its first ones are held)"
        )
    if result.failed or result.delete_failed:
        return f"{n} messages were not examined: they wait behind a failed one of their task"
    return f"{n} messages were not examined (other tasks, or dead-lettered while the redrive ran)"


def _progress_bar(console: Console) -> Progress:
    """The one progress display both redrive engines show: spinner, description, bar, n of m, time."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


PLAIN_PROGRESS_EVERY = 100  # messages between two progress lines when stderr is not a terminal


@contextmanager
def client_progress(console: Console) -> Iterator[Callable[[RedriveProgress], None]]:
    if not console.is_terminal:  # a log or a pipe: a line now and then instead of a redrawn bar
        printed = [-1]

        def line(state: RedriveProgress) -> None:
            due = state.examined - max(printed[0], 0) >= PLAIN_PROGRESS_EVERY or state.examined >= state.total
            if due and state.examined != printed[0]:
                printed[0] = state.examined
                console.print(
                    f"examined {state.examined} of ~{state.total}: matched {state.matched}, "
                    f"moved {state.moved}",
                    highlight=False,
                )

        yield line
        return
    with _progress_bar(console) as progress:
        bar = progress.add_task("examining", total=None)

        def update(state: RedriveProgress) -> None:
            progress.update(
                bar,
                completed=state.examined,
                total=max(state.total, state.examined),
                description=f"matched {state.matched}, moved {state.moved}",
            )

        yield update


@contextmanager
def native_progress(console: Console) -> Iterator[Callable[[MoveTask], None]]:
    with _progress_bar(console) as progress:
        bar = progress.add_task("starting", total=None)

        def update(task: MoveTask) -> None:
            progress.update(bar, completed=task.moved, total=task.to_move, description=task.status.lower())

        yield update
