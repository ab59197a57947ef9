"""The running pipeline: endpoint, stand-ins, provisioned resources, router and consumer pollers.

`LocalRuntime` is the library object under `run_local`: start it, write steps, wait until drained,
read the totals, stop it. Tests and the benchmark can also drive it directly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fanout import registry
from fanout.local.emulator import containers
from fanout.local.emulator.sqs import ChannelPoller, QueueSource
from fanout.local.emulator.stream import StreamPoller
from fanout.local.emulator.wakeups import VisibilityWakeups
from fanout.local.endpoint import AwsEndpoint, aws_client
from fanout.local.events_file import PutSecret, Step, slack_teams
from fanout.local.fakes.faults import FaultSchedule
from fanout.local.fakes.github import GitHubFake
from fanout.local.fakes.server import HttpFake
from fanout.local.fakes.slack import SlackFake
from fanout.local.provision import (
    LOCAL_GITHUB_TOKEN,
    PREFIX,
    SLACK_SECRET_PREFIX,
    Resources,
    ensure_secret,
    existing_secrets,
    local_slack_token,
    provision,
    token_from_secret,
)
from fanout.local.report import ChannelTotals
from fanout.local.scenarios import SlackSeed
from fanout.local.writer import Writer

ChannelFactory = Callable[..., Any]
# (endpoint url, resources, provider API base url per channel) -> a stream handler to run instead of the router.
StreamHandlerFactory = Callable[
    [str, Resources, Mapping[str, str]], Callable[[dict[str, Any], Any], dict[str, Any]]
]
DRAIN_CONFIRMATIONS = 3
DRAIN_CHECK_S = 0.2
ROUTER_TIMEOUT_S = 60.0


@dataclass
class RuntimeConfig:
    settings: Mapping[str, registry.ChannelSettings]
    faults: FaultSchedule = field(default_factory=FaultSchedule)
    slack_url: str | None = None
    github_url: str | None = None
    aws_endpoint: str | None = None
    prefix: str = PREFIX
    slack_seeds: Sequence[SlackSeed] = ()
    # The Slack stand-in's chat.postMessage rate per workspace (None: unlimited); see SlackFake.
    slack_rate_per_s: float | None = None
    # Library hook: build a channel with another factory than the registry's (same signature).
    channel_factories: Mapping[str, ChannelFactory] = field(default_factory=dict)
    # Library hook (the isolation benchmark's model of the earlier design): read the stream with this
    # handler instead of the router; no channel consumers run then, as nothing reaches their queues.
    stream_handler_factory: StreamHandlerFactory | None = None


class LocalRuntime:
    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.endpoint = AwsEndpoint(config.aws_endpoint)
        self.slack: SlackFake | None = (
            None if config.slack_url else SlackFake(config.faults, rate_per_s=config.slack_rate_per_s)
        )
        self.github: GitHubFake | None = None if config.github_url else GitHubFake(config.faults)
        self._servers: list[HttpFake] = []
        self.resources: Resources | None = None
        self.stream: StreamPoller | None = None
        self.pollers: dict[str, ChannelPoller] = {}
        self.containers: dict[str, list[Any]] = {}
        self.counters: dict[str, containers.CallCounter] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sqs: Any = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, steps: Sequence[Step]) -> None:
        """Endpoint, resources, secrets, stand-ins and pollers; nothing of `steps` is written yet."""
        self.endpoint.start()
        url = self.endpoint.url
        self.resources = provision(url, self.config.settings, prefix=self.config.prefix)
        self._sqs = aws_client(url, "sqs")
        self._provide_secrets(steps)
        for seed in self.config.slack_seeds:
            if self.slack is not None:
                self.slack.seed_message(seed.team, seed.channel, seed.ts, seed.text)
        api_urls = self._start_fakes()
        stream_factory = self.config.stream_handler_factory
        self.stream = StreamPoller(
            aws_client(url, "dynamodbstreams"),
            self.resources.stream_arn,
            stream_factory(url, self.resources, api_urls)
            if stream_factory is not None
            else containers.router_handler(url, self.resources),
            function_name=f"{self.config.prefix}-{'stream-consumer' if stream_factory else 'router'}",
            timeout_s=ROUTER_TIMEOUT_S,
        )
        self.stream.prime()
        channels = {} if stream_factory is not None else self.resources.channels
        for name, channel in channels.items():
            self.counters[name] = containers.CallCounter()
            wakeups = VisibilityWakeups()
            handlers = self._containers(name, channel, api_urls[name], wakeups)
            self.containers[name] = handlers
            source = QueueSource(
                channel=name,
                queue_url=channel.queue_url,
                queue_arn=channel.queue_arn,
                batch_size=channel.settings.batch_size,
                timeout_s=channel.settings.timeout_s,
                function_name=f"{self.config.prefix}-{name}-consumer",
            )
            clients = [aws_client(url, "sqs") for _ in handlers]
            self.pollers[name] = ChannelPoller(source, handlers, clients, wakeups)
        self._spawn("stream-poller", self.stream.run, self._stop)
        for poller in self.pollers.values():
            poller.start(self._stop)

    def writer(self, steps: Sequence[Step]) -> Writer:
        assert self.resources is not None, "start() first"
        return Writer(
            steps,
            endpoint_url=self.endpoint.url,
            resources=self.resources,
            dynamodb=aws_client(self.endpoint.url, "dynamodb"),
            sqs=aws_client(self.endpoint.url, "sqs"),
            clock=time.time,
        )

    def stop_pollers(self) -> None:
        """Stop feeding the handlers (waits for running invocations); the endpoint stays up."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        for poller in self.pollers.values():
            poller.join()

    def stop(self) -> None:
        self.stop_pollers()
        for server in self._servers:
            server.stop()
        self._servers.clear()
        self.endpoint.stop()

    # -- state -----------------------------------------------------------------------------------
    def depth(self, queue_url: str) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def idle(self, since: float) -> bool:
        """Stream consumed (a poll started after `since` found nothing), no invocation running, and
        every channel queue empty (nothing visible, in flight or delayed)."""
        if self.stream is None or self.resources is None or not self.stream.caught_up_since(since):
            return False
        if any(p.stats.in_flight for p in self.pollers.values()):
            return False
        return all(self.depth(ch.queue_url) == 0 for ch in self.resources.channels.values())

    def wait_drained(self, since: float, deadline: float, on_tick: Callable[[], None] | None = None) -> bool:
        confirmations = 0
        while time.monotonic() < deadline:
            if on_tick is not None:
                on_tick()
            confirmations = confirmations + 1 if self.idle(since) else 0
            if confirmations >= DRAIN_CONFIRMATIONS:
                return True
            time.sleep(DRAIN_CHECK_S)
        return False

    def totals(self) -> dict[str, ChannelTotals]:
        from consumers.runtime.stats import DeliveryStats

        assert self.resources is not None
        result: dict[str, ChannelTotals] = {}
        for name, channel in self.resources.channels.items():
            if name not in self.pollers:
                continue
            poller = self.pollers[name]
            stats = DeliveryStats.combined(c.stats for c in self.containers[name])
            result[name] = ChannelTotals(
                delivery=stats.snapshot(),
                api_calls=self.counters[name].count,
                queue_depth=self.depth(channel.queue_url),
                dlq_depth=self.depth(channel.dlq_url),
                invocations=poller.stats.invocations,
                records=poller.stats.records,
                failures_reported=poller.stats.failures,
                max_concurrency_seen=poller.stats.max_in_flight,
                errors=tuple(poller.stats.errors),
            )
        return result

    def dlq_messages(self, channel: str) -> list[dict[str, Any]]:
        """Peek at a channel's DLQ (bodies and attributes) without consuming: visibility 0."""
        assert self.resources is not None
        url = self.resources.channels[channel].dlq_url
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(5):
            response = self._sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                VisibilityTimeout=0,
            )
            for message in response.get("Messages", []):
                seen.setdefault(message["MessageId"], message)
        return list(seen.values())

    # -- internals -------------------------------------------------------------------------------
    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _start_fakes(self) -> dict[str, str]:
        urls: dict[str, str] = {}
        if self.slack is not None:
            server = HttpFake(self.slack).start()
            self._servers.append(server)
            urls["slack"] = f"{server.url}/api"
        else:
            urls["slack"] = str(self.config.slack_url)
        if self.github is not None:
            server = HttpFake(self.github).start()
            self._servers.append(server)
            urls["github"] = server.url
        else:
            urls["github"] = str(self.config.github_url)
        for name in registry.CHANNELS:
            urls.setdefault(name, registry.get(name).api_base_url)
        return urls

    def _containers(self, name: str, channel: Any, api_url: str, wakeups: VisibilityWakeups) -> list[Any]:
        assert self.resources is not None
        count = max(1, channel.settings.max_concurrency)
        factory = self.config.channel_factories.get(name)
        return containers.consumer_containers(
            self.endpoint.url,
            self.resources,
            channel,
            api_url,
            self.counters[name],
            count,
            factory=factory,
            wakeups=wakeups,
        )

    def _provide_secrets(self, steps: Sequence[Step]) -> None:
        """A local token per Slack workspace and the default GitHub token, unless the input has one;
        every token the input provides, and every token a reused endpoint already holds (messages of an
        earlier run may still be queued for its workspaces), is known to the stand-ins."""
        assert self.resources is not None
        if self.slack is not None or self.github is not None:
            self._know_existing_tokens()
        given = {step.name: step.value for step in steps if isinstance(step, PutSecret)}
        for team in slack_teams(steps):
            name = f"{SLACK_SECRET_PREFIX}{team}"
            if name not in given:
                ensure_secret(self.endpoint.url, name, local_slack_token(team))
                if self.slack is not None:
                    self.slack.register_token(local_slack_token(team), team)
        default = self.resources.github_token_secret
        if default not in given:
            ensure_secret(self.endpoint.url, default, LOCAL_GITHUB_TOKEN)
            if self.github is not None:
                self.github.register_token(LOCAL_GITHUB_TOKEN)
        for name, value in given.items():
            self._know_token(name, value)

    def _know_existing_tokens(self) -> None:
        for name, value in existing_secrets(self.endpoint.url).items():
            self._know_token(name, value)

    def _know_token(self, secret_name: str, value: str) -> None:
        if secret_name.startswith(SLACK_SECRET_PREFIX):
            if self.slack is not None:
                team = secret_name[len(SLACK_SECRET_PREFIX) :]
                self.slack.register_token(token_from_secret(value, "bot_token"), team)
        elif self.github is not None:
            self.github.register_token(token_from_secret(value, "token"))
