"""`fanout channel pause|resume`: disable or enable the channel consumer's event source mapping, so its
messages wait in the queue (for a planned provider outage) and flow again afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fanout.ops.discovery import ChannelTarget, event_source_mapping_id
from fanout.ops.errors import UsageError
from fanout.ops.messages import queue_name_of
from fanout.ops.status import cloudwatch_oldest_age

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
else:
    LambdaClient = SQSClient = Any

# A paused channel's messages still expire with the queue's retention (their age budget only starts when
# a consumer first receives them): warn when the oldest has used this share of it.
RETENTION_WARNING_SHARE = 0.5
ENABLED_STATES = frozenset({"Enabled", "Enabling"})
DISABLED_STATES = frozenset({"Disabled", "Disabling"})


@dataclass(frozen=True)
class Toggle:
    channel: str
    uuid: str
    before: str
    after: str
    changed: bool


def require_deployed(*, deployed: bool, verb: str) -> None:
    if not deployed:
        raise UsageError(
            f"channel {verb} needs --stack: a local run has no event source mapping "
            "(its runtime polls the queues itself)"
        )


def set_consumer_enabled(
    lam: LambdaClient, sqs: SQSClient, target: ChannelTarget, *, enabled: bool
) -> Toggle:
    """Enable or disable the mapping; a mapping already in (or moving to) that state is left alone."""
    uuid = event_source_mapping_id(lam, sqs, target)
    before = str(lam.get_event_source_mapping(UUID=uuid).get("State", "?"))
    wanted = ENABLED_STATES if enabled else DISABLED_STATES
    if before in wanted:
        return Toggle(channel=target.channel, uuid=uuid, before=before, after=before, changed=False)
    after = str(lam.update_event_source_mapping(UUID=uuid, Enabled=enabled).get("State", "?"))
    return Toggle(channel=target.channel, uuid=uuid, before=before, after=after, changed=True)


def oldest_near_retention(
    sqs: SQSClient, cloudwatch: Any, target: ChannelTarget, now: datetime
) -> str | None:
    """Best effort (a warning must never stop a pause): the queue's retention and CloudWatch's oldest age."""
    try:
        attributes = sqs.get_queue_attributes(
            QueueUrl=target.queue_url, AttributeNames=["MessageRetentionPeriod"]
        )
        retention = float(attributes["Attributes"]["MessageRetentionPeriod"])
        age = cloudwatch_oldest_age(cloudwatch, queue_name_of(target.queue_url), now)
    except Exception:
        return None
    return retention_warning(age, retention)


def retention_warning(oldest_age_s: float | None, retention_s: float) -> str | None:
    """What to tell the operator pausing a channel whose oldest message is near the queue's retention."""
    if oldest_age_s is None or oldest_age_s < retention_s * RETENTION_WARNING_SHARE:
        return None
    left_h = max(retention_s - oldest_age_s, 0) / 3600
    return (
        f"warning: the oldest message is {oldest_age_s / 3600:.1f} h old and the queue keeps messages "
        f"{retention_s / 3600:.0f} h: it expires, unseen, in {left_h:.1f} h unless the channel is resumed"
    )
