"""Emulated Lambda containers: the real router and consumer handlers with their own clients.

Each consumer container gets its own Clients (its own HTTP connection pool) whose transport tags every
provider call with the container's id and counts it, so the report's api_calls holds for external
provider URLs too.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

import httpx

from fanout import registry
from fanout.local.emulator.wakeups import VisibilityWakeups
from fanout.local.endpoint import aws_client
from fanout.local.fakes.server import CONTAINER_HEADER
from fanout.local.provision import ChannelResources, Resources

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class CallCounter:
    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        with self._lock:
            return self._count


class CountingTransport(httpx.BaseTransport):
    """Counts every provider request a container makes and names the container in a header."""

    def __init__(
        self, container: str, counter: CallCounter, inner: httpx.BaseTransport | None = None
    ) -> None:
        self.container = container
        self._counter = counter
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers[CONTAINER_HEADER] = self.container
        self._counter.add()
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def router_handler(endpoint_url: str, resources: Resources) -> Handler:
    from fanout.router.handler import make_handler
    from fanout.router.settings import RouterSettings

    queue_urls = {name: channel.queue_url for name, channel in resources.channels.items()}
    handler: Handler = make_handler(
        RouterSettings(queue_urls=queue_urls), sqs=aws_client(endpoint_url, "sqs")
    )
    return handler


def consumer_settings(
    resources: Resources, channel: ChannelResources, api_base_url: str
) -> Any:  # ConsumerSettings (imported lazily: the consumer packages load with it)
    from consumers.runtime.settings import CLAIM_TTL_FACTOR, ConsumerSettings

    s = channel.settings
    return ConsumerSettings(
        channel=channel.name,
        queue_url=channel.queue_url,
        dlq_url=channel.dlq_url,
        task_table=resources.task_table,
        ledger_table=resources.ledger_table,
        api_base_url=api_base_url.rstrip("/"),
        max_attempts=s.max_attempts,
        max_age_s=s.max_age_s,
        backoff_base_s=s.backoff_base_s,
        backoff_cap_s=s.backoff_cap_s,
        claim_ttl_s=CLAIM_TTL_FACTOR * s.timeout_s,
        github_token_secret=resources.github_token_secret,
    )


def channel_factory(channel: str) -> Callable[..., Any]:
    module_name, _, attribute = registry.get(channel).channel_factory.rpartition(".")
    factory: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
    return factory


def consumer_containers(
    endpoint_url: str,
    resources: Resources,
    channel: ChannelResources,
    api_base_url: str,
    counter: CallCounter,
    count: int,
    *,
    factory: Callable[..., Any] | None = None,
    wakeups: VisibilityWakeups | None = None,
) -> list[Any]:
    """`count` ConsumerHandler instances (containers) for one channel (`factory`: the registry's by
    default); `wakeups` hears of the visibility timeouts they set."""
    from consumers.runtime.clients import default_clients
    from consumers.runtime.lambda_entry import make_handler

    settings = consumer_settings(resources, channel, api_base_url)
    factory = factory or channel_factory(channel.name)
    containers = []
    for index in range(count):
        transport = CountingTransport(f"{channel.name}-{index}", counter)
        clients = default_clients(endpoint_url=endpoint_url, transport=transport)
        if wakeups is not None:
            wakeups.watch(clients.sqs)
        containers.append(make_handler(factory, settings, clients))
    return containers
