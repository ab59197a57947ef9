"""The subscription gate every channel applies in `prepare`, after reading the task: the task's
per-task override for the channel, then whether the channel can render the event type at all."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from aws_lambda_powertools import Logger

from consumers.runtime.outcomes import Skipped
from fanout import overrides
from fanout.events import TaskEvent
from fanout.registry import ChannelSpec


def subscription_gate(
    event: TaskEvent,
    task: Mapping[str, Any],
    *,
    channel: ChannelSpec,
    renderable: Collection[str],
    logger: Logger,
) -> Skipped | None:
    """A counted skip with its reason, or None when the channel should deliver the event.

    An override that is legal but almost always a mistake (an empty list, an unreadable map) is logged
    once per message as `fanout.<channel>.override_warning`, so the task's owner can be told."""
    subscription = overrides.resolve(task.get("notifications"), channel)
    if subscription.warning:
        key = f"fanout.{channel.name}.override_warning"
        logger.warning(
            key,
            extra={
                "event": key,
                "task_id": event.task_id,
                "event_id": event.event_id,
                "event_type": event.event_type,
                "warning": subscription.warning,
            },
        )
    if subscription.muted_reason is not None:
        return Skipped(subscription.muted_reason)
    if not subscription.wants(event.event_type):
        return Skipped("not_subscribed")
    if event.event_type not in renderable:
        return Skipped("not_renderable")
    return None
