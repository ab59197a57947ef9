"""The router Lambda: the only reader of the task-events stream. It calls nothing but SQS."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from botocore.config import Config

from fanout.batch_response import Record, process_partial, stream_item_id
from fanout.router.plan import BatchPlan, OutboundMessage, plan_batch
from fanout.router.sender import RetryPacing, SendResult, send_all
from fanout.router.settings import RouterSettings, load_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
SERVICE = "fanout-router"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Fanout"

logger = Logger(service=SERVICE)
# Well inside the function's 60 s: botocore's defaults (60 s connect and read, legacy retries) would let
# one stuck call outlast the invocation. Standard retries back off with jitter on throttling.
SQS_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "total_max_attempts": 3},
    tcp_keepalive=True,
)


def sqs_client() -> SQSClient:
    client: SQSClient = boto3.client("sqs", config=SQS_CONFIG)
    return client


class RecordNotRouted(RuntimeError):
    """A record whose message could not be put on a channel queue; the stream replays from it."""


def make_handler(settings: RouterSettings, *, sqs: SQSClient) -> Handler:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event.get("Records") or []
        plan = plan_batch(records, settings.channels)
        by_channel: dict[str, list[OutboundMessage]] = defaultdict(list)
        for message in plan.messages:
            by_channel[message.channel].append(message)
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        pacing = RetryPacing(time_left_s=lambda: remaining() / 1000.0 if callable(remaining) else None)
        results = {
            channel: send_all(sqs, settings.queue_urls[channel], messages, pacing)
            for channel, messages in by_channel.items()
        }
        failed = set().union(*(r.failed_records for r in results.values()))
        index_of = {id(record): index for index, record in enumerate(records)}

        def route(record: Record) -> None:
            if index_of.get(id(record)) in failed:
                raise RecordNotRouted(f"record {record.get('eventID')} not routed to every channel")

        # An all-failed batch is reported item by item like any other.
        response = process_partial(records, route, item_id=stream_item_id)
        _report(plan, results, len(records), len(failed))
        return dict(response)

    return handler


def _report(plan: BatchPlan, results: dict[str, SendResult], records: int, failed: int) -> None:
    routed = Counter({channel: result.sent for channel, result in results.items()})
    send_failures = {channel: len(r.failures) for channel, r in results.items() if r.failures}
    logger.info(
        "fanout.router.batch",
        extra={
            "records": records,
            "events": plan.events,
            "routed": dict(routed),
            "sqs_calls": {channel: r.calls for channel, r in results.items()},
            "skipped": dict(plan.skipped),
            "unrouted_types": dict(plan.unrouted_types),
            "spam_dropped": dict(plan.spam_dropped),
            "send_failures": send_failures,
            "failed_records": failed,
        },
    )
    if plan.spam_dropped:
        logger.warning("fanout.router.spam_guard", extra={"dropped": dict(plan.spam_dropped)})
    if plan.notes:
        # Which records were skipped, cut or held back, so an operator can find them (not per event:
        # one line per batch, the first few records).
        logger.warning("fanout.router.records_noted", extra={"records": plan.notes})
    for result in results.values():
        for error in result.failures[:5]:
            logger.warning("fanout.router.send_failed", extra={"error": error})
    # Fresh EphemeralMetrics per batch: Powertools' Metrics share one buffer across instances, which is
    # never emptied while metrics are disabled. One EMF document per channel, because a document has
    # one dimension set for all its metrics.
    for channel, count in routed.items():
        per_channel = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
        per_channel.add_dimension(name="channel", value=channel)
        per_channel.add_metric(name="RoutedEvents", unit=MetricUnit.Count, value=count)
        per_channel.flush_metrics()
    metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    metrics.add_metric(name="SkippedRecords", unit=MetricUnit.Count, value=sum(plan.skipped.values()))
    metrics.add_metric(name="SendFailures", unit=MetricUnit.Count, value=sum(send_failures.values()))
    metrics.add_metric(name="SpamDropped", unit=MetricUnit.Count, value=sum(plan.spam_dropped.values()))
    metrics.flush_metrics()


_handler: Handler | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: settings and the SQS client are built once per container."""
    global _handler
    if _handler is None:
        _handler = make_handler(load_settings(), sqs=sqs_client())
    return _handler(event, context)
