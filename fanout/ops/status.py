"""`fanout status`: per channel, the queue and DLQ counts, the oldest message's age and the consumer's
event source mapping.

The oldest message's age comes from CloudWatch's ApproximateAgeOfOldestMessage on a deployed stack (the
latest datapoint of the last 15 minutes). Without a datapoint (a local endpoint: moto has no SQS metrics; a
new queue; no metrics permission) it is unknown, unless the caller asks for a sample: one receive of up to
ten messages, their visibility given back at once, the oldest SentTimestamp among them. Sampling is opt-in
because a receive is not free: it sets a never-received message's ApproximateFirstReceiveTimestamp, which
is where the consumer's age budget starts, so sampling a paused channel's queue would spend its messages'
budget while they wait. A sample cannot see in-flight messages and, on a FIFO queue, only the heads of
unlocked groups, so it is a lower bound; `age_source` says which one a row shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from fanout.ops import messages
from fanout.ops.clients import AwsSession
from fanout.ops.discovery import ChannelTarget, Target, event_source_mapping_id
from fanout.ops.errors import OpsError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
else:
    LambdaClient = SQSClient = Any

METRIC_WINDOW = timedelta(minutes=15)
SAMPLE_VISIBILITY_S = 10  # only a safety net: the sample's visibility is given back right away


@dataclass(frozen=True)
class EventSource:
    uuid: str
    state: str  # Enabled | Disabled | Enabling | Disabling | Updating | ... | "missing"
    batch_size: int | None
    max_concurrency: int | None


@dataclass(frozen=True)
class ChannelStatus:
    channel: str
    queue_name: str
    queue_depth: int
    in_flight: int
    dlq_depth: int
    dlq_in_flight: int
    oldest_age_s: float | None
    age_source: str | None  # "cloudwatch" | "sample" | "empty" | None (unknown)
    event_source: EventSource | None  # None for a local run (no Lambda there)
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        source = self.event_source
        return {
            "queue": self.queue_name,
            "queue_depth": self.queue_depth,
            "in_flight": self.in_flight,
            "dlq_depth": self.dlq_depth,
            "dlq_in_flight": self.dlq_in_flight,
            "oldest_message_age_s": self.oldest_age_s,
            "oldest_message_age_source": self.age_source,
            "event_source_mapping": source.uuid if source else None,
            "event_source_state": source.state if source else None,
            "batch_size": source.batch_size if source else None,
            "max_concurrency": source.max_concurrency if source else None,
            "note": self.note,
        }


def collect_status(
    session: AwsSession, target: Target, *, now: datetime, sample: bool = False
) -> list[ChannelStatus]:
    return [
        channel_status(session, channel, deployed=target.deployed, now=now, sample=sample)
        for channel in target.channels.values()
    ]


def channel_status(
    session: AwsSession, target: ChannelTarget, *, deployed: bool, now: datetime, sample: bool = False
) -> ChannelStatus:
    sqs = session.sqs
    queue = messages.queue_counts(sqs, target.queue_url)
    dlq = messages.queue_counts(sqs, target.dlq_url)
    name = messages.queue_name_of(target.queue_url)
    age: float | None = None
    source: str | None = None
    if queue.total == 0:
        age, source = 0.0, "empty"
    if source is None and deployed:
        age = cloudwatch_oldest_age(session.cloudwatch, name, now)
        source = "cloudwatch" if age is not None else None
    if source is None and sample and queue.visible > 0:
        age = sampled_oldest_age(sqs, target.queue_url, now)
        source = "sample" if age is not None else None
    event_source: EventSource | None = None
    note: str | None = None
    if deployed:
        try:
            event_source = read_event_source(session.lambda_, sqs, target)
        except OpsError as exc:
            note = str(exc)
        except ClientError as exc:  # e.g. no Lambda read permission: the queue figures still count
            code = exc.response.get("Error", {}).get("Code", "?")
            note = f"event source not readable: {getattr(exc, 'operation_name', '?')}: {code}"
    return ChannelStatus(
        channel=target.channel,
        queue_name=name,
        queue_depth=queue.visible,
        in_flight=queue.in_flight,
        dlq_depth=dlq.visible + dlq.delayed,
        dlq_in_flight=dlq.in_flight,
        oldest_age_s=age,
        age_source=source,
        event_source=event_source,
        note=note,
    )


def cloudwatch_oldest_age(cloudwatch: Any, queue_name: str, now: datetime) -> float | None:
    """The latest ApproximateAgeOfOldestMessage datapoint, or None when CloudWatch has none."""
    try:
        response = cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": queue_name}],
            StartTime=now - METRIC_WINDOW,
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        )
    except (ClientError, BotoCoreError):
        return None  # no metrics permission or no CloudWatch at this endpoint: fall back to a sample
    points = sorted(response.get("Datapoints", []), key=lambda p: p["Timestamp"])
    return float(points[-1]["Maximum"]) if points else None


def sampled_oldest_age(sqs: SQSClient, queue_url: str, now: datetime) -> float | None:
    received = messages.receive(sqs, queue_url, visibility_timeout=SAMPLE_VISIBILITY_S, wait_s=0)
    if not received:
        return None
    try:
        oldest = messages.oldest_sent(received)
    finally:
        messages.give_back(sqs, queue_url, (m["ReceiptHandle"] for m in received))
    return None if oldest is None else max((now - oldest).total_seconds(), 0.0)


def read_event_source(lam: LambdaClient, sqs: SQSClient, target: ChannelTarget) -> EventSource:
    uuid = event_source_mapping_id(lam, sqs, target)
    try:
        mapping = lam.get_event_source_mapping(UUID=uuid)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return EventSource(uuid=uuid, state="missing", batch_size=None, max_concurrency=None)
        raise
    scaling = mapping.get("ScalingConfig") or {}
    return EventSource(
        uuid=uuid,
        state=str(mapping.get("State", "?")),
        batch_size=mapping.get("BatchSize"),
        max_concurrency=scaling.get("MaximumConcurrency"),
    )
