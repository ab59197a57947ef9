"""The delivery report (keys fixed by local-runtime.md) and its summary table.

Per channel, from the containers' own counters (consumers.runtime.stats.DeliveryStats):
- delivered / skipped / terminal / dead_lettered: as counted by the runtime (terminal messages are
  dead-lettered too, so they are in both);
- retries: every message sent back to the queue for another try: failed attempts, rate-limit deferrals
  and other waits (the split is under "local" -> channel -> retries_by_kind);
- api_calls: HTTP requests the channel's containers sent to the provider (counted on their transport);
- queue_depth / dlq_depth: visible + in-flight + delayed messages at the end of the run;
- latency_ms: event timestamp to successful delivery, p50 and p99 over delivered events (null if none).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

CHANNEL_KEYS = (
    "delivered",
    "skipped",
    "terminal",
    "retries",
    "dead_lettered",
    "api_calls",
    "queue_depth",
    "dlq_depth",
    "latency_ms",
)
REPORT_KEYS = ("events_written", "drained", "wall_seconds", "channels")


@dataclass(frozen=True)
class ChannelTotals:
    """What the runtime and the emulator counted for one channel, before it becomes report JSON."""

    delivery: Mapping[str, Any]  # DeliveryStats.snapshot() combined over the channel's containers
    api_calls: int
    queue_depth: int
    dlq_depth: int
    invocations: int
    records: int
    failures_reported: int
    max_concurrency_seen: int
    errors: tuple[str, ...] = ()


def channel_report(totals: ChannelTotals) -> dict[str, Any]:
    d = totals.delivery
    latency = d.get("latency_ms") or {}
    return {
        "delivered": int(d.get("delivered", 0)),
        "skipped": int(d.get("skipped", 0)),
        "terminal": int(d.get("terminal", 0)),
        "retries": int(d.get("retries", 0)) + int(d.get("rate_limited", 0)) + int(d.get("deferred", 0)),
        "dead_lettered": int(d.get("dead_lettered", 0)),
        "api_calls": totals.api_calls,
        "queue_depth": totals.queue_depth,
        "dlq_depth": totals.dlq_depth,
        "latency_ms": {"p50": _ms(latency.get("p50")), "p99": _ms(latency.get("p99"))},
    }


def channel_details(totals: ChannelTotals) -> dict[str, Any]:
    d = totals.delivery
    return {
        "retries_by_kind": {k: int(d.get(k, 0)) for k in ("retries", "rate_limited", "deferred")},
        "invocations": totals.invocations,
        "records_received": totals.records,
        "records_failed": totals.failures_reported,
        "max_concurrency_seen": totals.max_concurrency_seen,
        "emulator_errors": list(totals.errors[:20]),
    }


def build_report(
    *,
    events_written: int,
    drained: bool,
    wall_seconds: float,
    channels: Mapping[str, ChannelTotals],
    local: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The contract's report; `local` carries this runtime's extra details under its own key."""
    report: dict[str, Any] = {
        "events_written": events_written,
        "drained": drained,
        "wall_seconds": round(wall_seconds, 2),
        "channels": {name: channel_report(totals) for name, totals in channels.items()},
    }
    report["local"] = {
        **(local or {}),
        "channels": {name: channel_details(totals) for name, totals in channels.items()},
    }
    return report


def write_report(report: Mapping[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def summary_table(report: Mapping[str, Any], title: str = "fanout local run") -> Table:
    state = "drained" if report.get("drained") else "NOT drained"
    table = Table(
        title=f"{title}: {report.get('events_written', 0)} events, {state}, {report.get('wall_seconds', 0)} s"
    )
    columns = (
        "channel",
        "delivered",
        "skipped",
        "terminal",
        "retries",
        "dead-lettered",
        "API calls",
        "queue",
        "DLQ",
        "p50 ms",
        "p99 ms",
    )
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    for name, ch in report.get("channels", {}).items():
        latency = ch.get("latency_ms") or {}
        table.add_row(
            name,
            *(
                str(ch.get(k, 0))
                for k in (
                    "delivered",
                    "skipped",
                    "terminal",
                    "retries",
                    "dead_lettered",
                    "api_calls",
                    "queue_depth",
                    "dlq_depth",
                )
            ),
            _fmt(latency.get("p50")),
            _fmt(latency.get("p99")),
        )
    return table


def missing_keys(report: Mapping[str, Any]) -> list[str]:
    """Contract keys absent from a report (empty when it is complete)."""
    missing = [k for k in REPORT_KEYS if k not in report]
    for name, ch in (report.get("channels") or {}).items():
        missing += [f"channels.{name}.{k}" for k in CHANNEL_KEYS if k not in ch]
        missing += [
            f"channels.{name}.latency_ms.{k}" for k in ("p50", "p99") if k not in ch.get("latency_ms", {})
        ]
    return missing


def _ms(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{float(value):.0f}"
