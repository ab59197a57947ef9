"""Router settings, read from the environment once: which channel queues exist."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from fanout import registry


def queue_url_env(channel: str) -> str:
    return f"FANOUT_{channel.upper()}_QUEUE_URL"


class RouterSettingsError(RuntimeError):
    """The router is deployed without any channel queue."""


@dataclass(frozen=True)
class RouterSettings:
    queue_urls: Mapping[str, str]  # channel name -> FIFO queue URL, for the enabled channels only

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.queue_urls)


def load_settings(environ: Mapping[str, str] | None = None) -> RouterSettings:
    """A channel is enabled when its queue URL is set; a registry channel without one is not routed."""
    env = os.environ if environ is None else environ
    urls = {name: env[queue_url_env(name)] for name in registry.CHANNELS if env.get(queue_url_env(name))}
    if not urls:
        names = ", ".join(queue_url_env(n) for n in registry.CHANNELS)
        raise RouterSettingsError(f"no channel queue configured: set at least one of {names}")
    return RouterSettings(queue_urls=urls)


def environment_for(queue_urls: Mapping[str, str]) -> dict[str, str]:
    """The router's environment, for the CDK stack and the local runtime alike."""
    return {queue_url_env(name): url for name, url in queue_urls.items()}
