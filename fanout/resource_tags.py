"""Tags the FanoutNotifications construct puts on each channel's queue, DLQ and consumer function, so the
operations CLI finds them in any stack that embeds the construct (a platform stack has none of the
standalone stack's outputs). CloudFormation lists a stack's resources; these tags say which is which."""

from __future__ import annotations

TAG_CHANNEL = "fanout:channel"  # the registry channel name
TAG_RESOURCE = "fanout:resource"  # one of the values below
QUEUE = "queue"
DLQ = "dlq"
CONSUMER = "consumer"
