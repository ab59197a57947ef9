"""`fanout channel pause|resume`: disable or enable the channel consumer's event source mapping, so its
messages wait in the queue (for a planned provider outage) and flow again afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fanout.ops.discovery import ChannelTarget, event_source_mapping_id
from fanout.ops.errors import UsageError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
else:
    LambdaClient = SQSClient = Any

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
