"""What the run shows while it works: a live table on a terminal, a status line now and then otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

PLAIN_EVERY_S = 5.0

Snapshot = Callable[[], Mapping[str, Any]]


def progress_table(snapshot: Mapping[str, Any]) -> Table:
    table = Table(title=f"fanout local run: {snapshot.get('phase', '')}", title_justify="left")
    for column in ("", "received", "delivered", "retries", "dead-lettered", "in flight", "API calls"):
        table.add_column(column, justify="right" if column else "left")
    table.add_row(
        "router",
        f"{snapshot.get('stream_records', 0)} records",
        f"{snapshot.get('events_written', 0)}/{snapshot.get('events_total', 0)} written",
        str(snapshot.get("stream_replays", 0)),
        "",
        "",
        "",
    )
    for name, ch in snapshot.get("channels", {}).items():
        table.add_row(
            name,
            str(ch.get("records", 0)),
            str(ch.get("delivered", 0)),
            str(ch.get("retries", 0)),
            str(ch.get("dead_lettered", 0)),
            str(ch.get("in_flight", 0)),
            str(ch.get("api_calls", 0)),
        )
    return table


def plain_line(snapshot: Mapping[str, Any]) -> str:
    parts = [f"{snapshot.get('phase', '')}: written {snapshot.get('events_written', 0)}"]
    for name, ch in snapshot.get("channels", {}).items():
        parts.append(
            f"{name} delivered={ch.get('delivered', 0)} retries={ch.get('retries', 0)} "
            f"dlq={ch.get('dead_lettered', 0)}"
        )
    return " | ".join(parts)


class Progress:
    """`with Progress(console, snapshot) as p: ... p.tick()`; silent when `enabled` is False."""

    def __init__(self, console: Console, snapshot: Snapshot, *, enabled: bool = True) -> None:
        self._console = console
        self._snapshot = snapshot
        self._enabled = enabled
        self._live: Live | None = None
        self._last_plain = 0.0

    def __enter__(self) -> Progress:
        if self._enabled and self._console.is_terminal:
            self._live = Live(progress_table(self._snapshot()), console=self._console, refresh_per_second=4)
            self._live.__enter__()
        return self

    def tick(self) -> None:
        if not self._enabled:
            return
        snapshot = self._snapshot()
        if self._live is not None:
            self._live.update(progress_table(snapshot))
        elif time.monotonic() - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = time.monotonic()
            self._console.print(plain_line(snapshot), highlight=False, soft_wrap=True)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
