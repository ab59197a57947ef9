"""One log line, one metric and one counter per outcome, under a stable event key per channel."""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from consumers.runtime.outcomes import UNKNOWN_PREFIX
from consumers.runtime.redact import install_redaction, safe_error
from consumers.runtime.stats import DeliveryStats
from fanout.events import TaskEvent

NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
DEFAULT_NAMESPACE = "Fanout"

# Outcome names: the event key is f"fanout.{channel}.{outcome}".
DELIVERED = "delivered"
SKIPPED = "skipped"
RETRY = "retry"
RATE_LIMITED = "rate_limited"
DEFERRED = "deferred"
TERMINAL = "terminal"
DEAD_LETTERED = "dead_lettered"


def latency_ms(event: TaskEvent, now: float) -> float | None:
    """Event timestamp to now, in ms; None when the timestamp is not ISO-8601 with a zone."""
    try:
        stamp = datetime.fromisoformat(event.timestamp)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        return None
    return max(0.0, (now - stamp.timestamp()) * 1000.0)


class Telemetry:
    """Logs (Powertools Logger, service = channel, tokens redacted), EMF metrics with a `channel`
    dimension (an EphemeralMetrics per container: Powertools' Metrics shares its state across instances),
    and the container's DeliveryStats."""

    def __init__(self, channel: str, stats: DeliveryStats, *, logger: Logger | None = None) -> None:
        self.channel = channel
        self.stats = stats
        self.logger = logger or Logger(service=channel)
        install_redaction(self.logger)
        namespace = os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE
        self.metrics = EphemeralMetrics(namespace=namespace, default_dimensions={"channel": channel})

    def key(self, outcome: str) -> str:
        return f"fanout.{self.channel}.{outcome}"

    def delivered(self, event: TaskEvent, *, now: float, detail: str = "") -> None:
        latency = latency_ms(event, now)
        self.stats.count("delivered", latency)
        self._metric("Delivered")
        if latency is not None:
            self.metrics.add_metric(name="DeliveryLatency", unit=MetricUnit.Milliseconds, value=latency)
        self._log(DELIVERED, event, reason=detail or None, latency_ms=latency)

    def skipped(self, event: TaskEvent, reason: str) -> None:
        self.stats.count("skipped")
        self._metric("Skipped")
        self._log(SKIPPED, event, reason=reason)

    def retry(self, event: TaskEvent, reason: str, delay_s: int, *, attempts: int, limited: bool) -> None:
        """A real attempt failed and the message comes back after `delay_s`."""
        self.stats.count("retries")
        self._metric("Retried")
        if limited:
            self._metric("RateLimited")
        if reason.startswith(UNKNOWN_PREFIX):
            self._metric("UnknownError")
        self._log(RETRY, event, reason=reason, delay_s=delay_s, attempts=attempts)

    def rate_limited(self, event: TaskEvent, key: str, delay_s: int) -> None:
        """Deferred by rate-limit memory, without calling the provider."""
        self.stats.count("rate_limited")
        self._metric("RateLimited")
        self._log(RATE_LIMITED, event, reason=f"rate_limit:{key}", delay_s=delay_s)

    def deferred(self, event: TaskEvent | None, reason: str, delay_s: int) -> None:
        """Sent back without a real attempt (claim held elsewhere, ledger unavailable, ...)."""
        self.stats.count("deferred")
        self._log(DEFERRED, event, reason=reason, delay_s=delay_s)

    def terminal(self, event: TaskEvent | None, reason: str) -> None:
        self.stats.count("terminal")
        self._metric("Terminal")
        self._log(TERMINAL, event, reason=reason, level="warning")

    def dead_lettered(self, event: TaskEvent | None, reason: str, *, attempts: int, **fields: Any) -> None:
        self.stats.count("dead_lettered")
        self._metric("DeadLettered")
        self._log(DEAD_LETTERED, event, reason=reason, attempts=attempts, level="warning", **fields)

    def dead_letter_failed(self, event: TaskEvent | None, error: str, **fields: Any) -> None:
        """The DLQ refused a message (it stays on the queue): metric DeadLetterFailed, alarmed."""
        self._metric("DeadLetterFailed")
        self.problem("dlq_send_failed", event, error, **fields)

    def problem(self, outcome: str, event: TaskEvent | None, error: str, **fields: Any) -> None:
        """Something the runtime recovers from but an operator should see (own event key, no counter)."""
        self._log(outcome, event, reason=safe_error(error, 500), level="warning", **fields)

    def flush(self) -> None:
        if self.metrics.metric_set:
            self.metrics.flush_metrics()

    def _metric(self, name: str) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)

    def _log(self, outcome: str, event: TaskEvent | None, *, level: str = "info", **fields: Any) -> None:
        key = self.key(outcome)
        line: dict[str, Any] = {"event": key}
        if event is not None:
            line.update(task_id=event.task_id, event_id=event.event_id, event_type=event.event_type)
        line.update({k: v for k, v in fields.items() if v is not None and k not in line})
        if level == "warning":
            self.logger.warning(key, extra=line)
        else:
            self.logger.info(key, extra=line)
