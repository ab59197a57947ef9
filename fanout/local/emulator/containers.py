"""Emulated Lambda containers: the real router and consumer handlers with their own clients.

Each consumer container gets its own Clients (its own HTTP connection pool) whose transport tags every
provider call with the container's id and counts it, so the report's api_calls holds for external
provider URLs too.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from fanout import registry
from fanout.local.emulator.wakeups import VisibilityWakeups
from fanout.local.endpoint import REGION
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


def session_client(session: Any, endpoint_url: str, service: str) -> Any:
    """A client of `session` (an identity at the endpoint) with the Lambda runtime's client config."""
    from consumers.runtime.clients import AWS_CONFIG

    return session.client(service, endpoint_url=endpoint_url, region_name=REGION, config=AWS_CONFIG)


def function_clients(
    session: Any,
    endpoint_url: str,
    transport: httpx.BaseTransport | None = None,
    *,
    provider_calls: CallCounter | None = None,
    watch: Callable[[Any], None] | None = None,
) -> Any:  # Clients
    """What `default_clients` gives a Lambda container, with the function's own credentials. The AWS
    clients a channel builds for its provider (`Clients.aws`: SES, Cognito) count their calls in
    `provider_calls`, as the HTTP transport counts the other providers' calls."""
    from consumers.runtime.clients import AWS_CONFIG, HTTP_TIMEOUT, Clients

    def aws(service: str, config: Any = None, *, endpoint_url: str | None = endpoint_url) -> Any:
        client = session.client(
            service, endpoint_url=endpoint_url, region_name=REGION, config=config or AWS_CONFIG
        )
        if provider_calls is not None:
            client.meta.events.register("before-send", lambda **_: provider_calls.add())
        if watch is not None:
            watch(client)
        return client

    return Clients(
        sqs=session_client(session, endpoint_url, "sqs"),
        dynamodb=session_client(session, endpoint_url, "dynamodb"),
        secrets=session_client(session, endpoint_url, "secretsmanager"),
        http=httpx.Client(timeout=HTTP_TIMEOUT, transport=transport),
        aws=aws,
    )


def router_handler(environment: Mapping[str, str], sqs: Any) -> Handler:
    """The router as deployed: its settings from the deployed environment."""
    from fanout.router.handler import make_handler
    from fanout.router.settings import load_settings

    handler: Handler = make_handler(load_settings(environment), sqs=sqs)
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


def factory_for_handler(handler: str) -> Callable[..., Any]:
    """The registry channel whose consumer handler is `handler` (what Lambda would import)."""
    for spec in registry.CHANNELS.values():
        if spec.handler == handler:
            return channel_factory(spec.name)
    raise LookupError(f"no registry channel has the deployed handler {handler!r}")


def channel_factory(channel: str) -> Callable[..., Any]:
    module_name, _, attribute = registry.get(channel).channel_factory.rpartition(".")
    factory: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
    return factory


def consumer_containers(
    endpoint_url: str,
    settings: Any,  # ConsumerSettings
    session: Any,
    counter: CallCounter,
    count: int,
    *,
    factory: Callable[..., Any],
    wakeups: VisibilityWakeups | None = None,
    watch: Callable[[Any], None] | None = None,
) -> list[Any]:
    """`count` ConsumerHandler instances (containers) for one channel, each with its own clients of the
    function's identity (`session`); `wakeups` hears of the visibility timeouts they set, `watch` sees
    every AWS client they use."""
    from consumers.runtime.lambda_entry import make_handler

    containers = []
    for index in range(count):
        transport = CountingTransport(f"{settings.channel}-{index}", counter)
        clients = function_clients(session, endpoint_url, transport, provider_calls=counter, watch=watch)
        if wakeups is not None:
            wakeups.watch(clients.sqs)
        if watch is not None:
            for client in (clients.sqs, clients.dynamodb, clients.secrets):
                watch(client)
        containers.append(make_handler(factory, settings, clients))
    return containers
