"""The email channel's own counts, for the alarms the registry declares (`alarm_metrics`): the same
namespace and dimensions as the runtime's metrics (channel, and the service Powertools adds), flushed
at once because they are rare and each one matters."""

from __future__ import annotations

import contextlib
import os

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from fanout import registry

SEND_QUOTA_EXCEEDED, SENDING_PAUSED = registry.EMAIL.alarm_metrics


def count(name: str) -> None:
    metrics = EphemeralMetrics(
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Fanout",
        default_dimensions={"channel": registry.EMAIL.name},
    )
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    with contextlib.suppress(Exception):  # a metric must never fail a delivery
        metrics.flush_metrics()
