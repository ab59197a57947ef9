"""Per-task notification overrides (the task's `notifications` map), resolved for one channel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fanout.registry import ChannelSpec

DEFAULT_TOKEN = "default"


@dataclass(frozen=True)
class Subscription:
    """What a channel delivers for one task: `events`, or nothing when `muted_reason` is set."""

    events: frozenset[str]
    muted_reason: str | None = None
    warning: str | None = None  # an override that is legal but almost always a mistake

    def wants(self, event_type: str) -> bool:
        return self.muted_reason is None and event_type in self.events


def resolve(notifications: Any, channel: ChannelSpec) -> Subscription:
    """Apply the task's override for `channel` to the channel's defaults.

    `{"enabled": false}` mutes; `events` with "default" expands the defaults and adds the rest; a list
    without "default" replaces them; an empty list mutes (with a warning). Anything unreadable falls back
    to the defaults with a warning, so a bad override never silences a channel by accident.
    """
    defaults = channel.default_subscriptions
    if notifications is None:
        return Subscription(defaults)
    if not isinstance(notifications, Mapping):
        return Subscription(defaults, warning="notifications is not a map; using defaults")
    override = notifications.get(channel.name)
    if override is None:
        return Subscription(defaults)
    if not isinstance(override, Mapping):
        return Subscription(defaults, warning=f"notifications.{channel.name} is not a map; using defaults")
    if override.get("enabled") is False:
        return Subscription(frozenset(), muted_reason="channel_muted")
    events = override.get("events")
    if events is None:
        return Subscription(defaults)
    if not isinstance(events, list | tuple) or not all(isinstance(e, str) for e in events):
        return Subscription(
            defaults, warning=f"notifications.{channel.name}.events is not a list of names; using defaults"
        )
    if not events:
        return Subscription(
            frozenset(),
            muted_reason="channel_muted",
            warning=f"notifications.{channel.name}.events is empty, which mutes the channel",
        )
    chosen = set(defaults) if DEFAULT_TOKEN in events else set()
    chosen.update(e for e in events if e != DEFAULT_TOKEN)
    unrenderable = sorted(chosen - channel.renderable)
    warning = (
        f"notifications.{channel.name}.events names types this channel cannot render: {unrenderable}"
        if unrenderable
        else None
    )
    return Subscription(frozenset(chosen & channel.renderable), warning=warning)
