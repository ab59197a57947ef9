"""`fanout channel pause` warns when the oldest message is near the queue's retention: a paused channel's
messages must never expire silently (their age budget only starts at the first receive)."""

from __future__ import annotations

from datetime import UTC, datetime

from fanout.ops.discovery import ChannelTarget
from fanout.ops.pause import oldest_near_retention, retention_warning

NOW = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
DAY = 24 * 3600.0
TARGET = ChannelTarget(
    channel="slack", queue_url="https://sqs.us-east-1.amazonaws.com/1/fanout-slack.fifo", dlq_url="d"
)


def test_the_warning_starts_at_half_the_retention() -> None:
    assert retention_warning(None, 14 * DAY) is None
    assert retention_warning(6 * DAY, 14 * DAY) is None
    warning = retention_warning(11 * DAY, 14 * DAY)
    assert warning is not None
    assert "264.0 h old" in warning
    assert "expires, unseen, in 72.0 h" in warning


def test_the_oldest_age_and_the_retention_are_read_from_the_queue_and_cloudwatch(stubs) -> None:
    stubs("sqs").add_response(
        "get_queue_attributes",
        {"Attributes": {"MessageRetentionPeriod": str(int(14 * DAY))}},
        {"QueueUrl": TARGET.queue_url, "AttributeNames": ["MessageRetentionPeriod"]},
    )
    stubs("cloudwatch").add_response(
        "get_metric_statistics", {"Datapoints": [{"Timestamp": NOW, "Maximum": 12 * DAY}]}
    )

    warning = oldest_near_retention(stubs.clients["sqs"], stubs.clients["cloudwatch"], TARGET, NOW)

    assert warning is not None
    assert "expires, unseen, in 48.0 h" in warning
    stubs.verify()


def test_a_failed_lookup_never_stops_the_pause(stubs) -> None:
    stubs("sqs").add_client_error("get_queue_attributes", "AccessDenied")
    assert oldest_near_retention(stubs.clients["sqs"], stubs.client("cloudwatch"), TARGET, NOW) is None
