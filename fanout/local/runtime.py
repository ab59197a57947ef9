"""The running pipeline: the deployed stack, stand-ins, and the functions' pollers and containers.

`LocalRuntime` is the library object under `run_local`: start it (synthesize, deploy, read back, run),
write steps, wait until drained, read the totals, stop it. Tests and the benchmark can also drive it.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fanout import registry
from fanout.local import deploy
from fanout.local.denials import Denials
from fanout.local.deployed import DeployedFunction, DeployedStack, read_stack
from fanout.local.emulator import containers
from fanout.local.emulator.sqs import ChannelPoller, QueueSource
from fanout.local.emulator.stream import OnFailure, StreamPoller
from fanout.local.emulator.wakeups import VisibilityWakeups
from fanout.local.endpoint import REGION, AwsEndpoint
from fanout.local.events_file import Step
from fanout.local.fakes.faults import FaultSchedule
from fanout.local.fakes.github import GitHubFake
from fanout.local.fakes.server import HttpFake
from fanout.local.fakes.slack import SlackFake
from fanout.local.local_context import local_context
from fanout.local.provision import (
    DEFAULT_GITHUB_TOKEN_SECRET,
    PREFIX,
    Resources,
    ensure_secret,
    existing_secrets,
)
from fanout.local.report import ChannelTotals
from fanout.local.scenarios import SlackSeed
from fanout.local.standins import STAND_INS, StandInOptions, given_secrets
from fanout.local.synth import ROOT, Synthesized, synthesize
from fanout.local.tally import AttributingCounter, EventTally, instrument
from fanout.local.writer import Writer

ChannelFactory = Callable[..., Any]
# (endpoint url, resources, provider API base url per channel) -> a stream handler to run instead of the router.
StreamHandlerFactory = Callable[
    [str, Resources, Mapping[str, str]], Callable[[dict[str, Any], Any], dict[str, Any]]
]
DRAIN_CONFIRMATIONS = 3
DRAIN_CHECK_S = 0.2
MAPPING_CHECK_S = 1.0
STAND_IN_PORTS = (20000, 40000)  # the range a checkout's stable stand-in ports are picked from


def stable_port(channel: str, salt: str = "") -> int:
    """The same port for a channel's stand-in on every run of this checkout, so the stand-in's URL in the
    local context (and therefore the cached template) stays the same."""
    low, high = STAND_IN_PORTS
    return low + zlib.crc32(f"{ROOT}|{salt}|{channel}".encode()) % (high - low)


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
    # Library use: run in an account of its own at the endpoint (runs sharing an endpoint stay apart).
    account: str | None = None
    # The stand-ins' ports (0: any free port); by default a stable port per channel and checkout.
    stand_in_ports: Mapping[str, int] = field(default_factory=dict)
    port_salt: str = ""
    endpoint_port: int = 0  # the in-process endpoint's port (0: any free port)
    # Extra CDK context for the local synth (e.g. a test removing a grant through a supported key).
    extra_context: Mapping[str, Any] = field(default_factory=dict)
    # Tests: change the synthesized template before it is deployed (e.g. remove one grant).
    template_hook: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def provider_url(self, channel: str) -> str | None:
        """A base URL given for a channel instead of its stand-in."""
        return {"slack": self.slack_url, "github": self.github_url}.get(channel)


class LocalRuntime:
    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.endpoint = AwsEndpoint(config.aws_endpoint, port=config.endpoint_port, account=config.account)
        options = StandInOptions(config.faults, config.slack_rate_per_s)
        # One stand-in per channel that has one and no URL given (fanout/local/standins.py).
        self.stand_ins: dict[str, Any] = {
            name: STAND_INS[name].build(options)
            for name in registry.CHANNELS
            if name in STAND_INS and not config.provider_url(name) and STAND_INS[name].wanted(config.faults)
        }
        self._servers: list[HttpFake] = []
        self.api_urls: dict[str, str] = {}
        self.synthesized: Synthesized | None = None
        self.deployment: deploy.Deployment | None = None
        self.stack: DeployedStack | None = None
        self.resources: Resources | None = None
        self.stream: StreamPoller | None = None
        self.pollers: dict[str, ChannelPoller] = {}
        self.containers: dict[str, list[Any]] = {}
        self.counters: dict[str, containers.CallCounter] = {}
        self.tally = EventTally()  # per-event counts: what a run attached to `local up` reads
        self.denials = Denials()
        self.timings: dict[str, float] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sqs: Any = None
        self._sessions: dict[str, Any] = {}

    @property
    def slack(self) -> SlackFake | None:
        app = self.stand_ins.get("slack")
        return app if isinstance(app, SlackFake) else None

    @property
    def github(self) -> GitHubFake | None:
        app = self.stand_ins.get("github")
        return app if isinstance(app, GitHubFake) else None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, steps: Sequence[Step]) -> None:
        """Synthesize, deploy, read back, seed secrets, start stand-ins and pollers; nothing of `steps`
        is written yet. A context the stack rejects raises SynthError before anything is deployed."""
        self.api_urls = self._start_stand_ins()
        channel_context = {k: v for stand_in in STAND_INS.values() for k, v in stand_in.context.items()}
        context = local_context(
            self.config.prefix,
            self.api_urls,
            self.config.settings,
            extra={**channel_context, **self.config.extra_context},
        )
        clock = time.monotonic()
        self.synthesized = synthesize(context, stack_name=self.config.prefix)
        if self.config.template_hook is not None:
            changed = self.config.template_hook(copy.deepcopy(self.synthesized.template))
            self.synthesized = dataclasses.replace(self.synthesized, template=changed)
        self.timings["synth_s"] = time.monotonic() - clock
        clock = time.monotonic()
        self.endpoint.start()
        self.deployment = self._deploy(self.synthesized)
        self.timings["deploy_s"] = time.monotonic() - clock
        self.stack = read_stack(
            self.endpoint.client("lambda"),
            self.endpoint.client("dynamodb"),
            self.deployment.outputs,
            dict(self.config.settings),
            github_token_secret=DEFAULT_GITHUB_TOKEN_SECRET,
        )
        self.resources = Resources(**{**self.stack.resources.__dict__, "session": self.endpoint.admin})
        self._sqs = self.endpoint.client("sqs")
        self._provide_secrets(steps)
        for stand_in in STAND_INS.values():
            if stand_in.seed is not None:
                stand_in.seed(self.endpoint.client)
        for seed in self.config.slack_seeds:
            if self.slack is not None:
                self.slack.seed_message(seed.team, seed.channel, seed.ts, seed.text)
        self._start_stream()
        if self.config.stream_handler_factory is None:
            for name, function in self.stack.consumers.items():
                self._start_channel(name, function)
        self._spawn("stream-poller", self.stream.run, self._stop)  # type: ignore[union-attr]
        for poller in self.pollers.values():
            poller.start(self._stop)
        self._spawn("mapping-watch", self._watch_mappings, self._stop)

    def _deploy(self, synthesized: Synthesized) -> deploy.Deployment:
        account, admin = self.endpoint.account, self.endpoint.client
        deploy.bootstrap(admin("s3"), admin("ssm"), account, REGION)
        deploy.publish(admin("s3"), synthesized.assets, account, REGION)
        return deploy.deploy(admin("cloudformation"), synthesized)

    def _session(self, function: DeployedFunction) -> Any:
        """The function's role, assumed as Lambda assumes it (one session per function)."""
        if function.name not in self._sessions:
            self._sessions[function.name] = self.endpoint.assume(function.role_arn, function.name[-60:])
        return self._sessions[function.name]

    def _client(self, function: DeployedFunction, service: str) -> Any:
        client = containers.session_client(self._session(function), self.endpoint.url, service)
        self.denials.watch(client, function.name)
        return client

    def _start_stream(self) -> None:
        assert self.stack is not None
        assert self.resources is not None
        router = self.stack.router
        mapping = router.mapping
        factory = self.config.stream_handler_factory
        handler = (
            factory(self.endpoint.url, self.resources, self.api_urls)
            if factory is not None
            else containers.router_handler(router.environment, self._client(router, "sqs"))
        )
        on_failure = None
        if mapping.on_failure_arn:
            on_failure = OnFailure(
                sqs=self._client(router, "sqs"),
                queue_url=self._queue_url(mapping.on_failure_arn),
                function_arn=router.arn,
            )
        self.stream = StreamPoller(
            self._client(router, "dynamodbstreams"),
            self.resources.stream_arn,
            handler,
            function_name=router.name,
            timeout_s=router.timeout_s,
            batch_size=mapping.batch_size,
            mapping=mapping,
            on_failure=on_failure,
        )
        self.stream.prime()

    def _queue_url(self, arn: str) -> str:
        parts = arn.split(":")
        return str(self._sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"])

    def _start_channel(self, name: str, function: DeployedFunction) -> None:
        from consumers.runtime.settings import load_settings

        assert self.resources is not None
        mapping = function.mapping
        self.counters[name] = AttributingCounter(self.tally, name)
        wakeups = VisibilityWakeups()
        session = self._session(function)
        factory = self.config.channel_factories.get(name) or containers.factory_for_handler(function.handler)
        handlers = containers.consumer_containers(
            self.endpoint.url,
            load_settings(function.environment),  # the deployed environment, as Lambda gives it
            session,
            self.counters[name],
            max(1, mapping.max_concurrency or 1),
            factory=factory,
            wakeups=wakeups,
            watch=lambda client: self.denials.watch(client, function.name),
        )
        self.containers[name] = handlers
        channel = self.resources.channels[name]
        source = QueueSource(
            channel=name,
            queue_url=channel.queue_url,
            queue_arn=mapping.source_arn,
            batch_size=mapping.batch_size,
            timeout_s=function.timeout_s,
            function_name=function.name,
            report_item_failures=mapping.report_item_failures,
            batching_window_s=mapping.batching_window_s,
            mapping_uuid=mapping.uuid,
        )
        clients = [self._client(function, "sqs") for _ in handlers]  # the mapping reads with the role
        watched = [instrument(handler, name, self.tally) for handler in handlers]
        self.pollers[name] = ChannelPoller(source, watched, clients, wakeups)

    def _watch_mappings(self, stop: threading.Event) -> None:
        """Enabled or disabled, as `fanout channel pause|resume` sets the deployed mapping."""
        lam = self.endpoint.client("lambda")
        while not stop.wait(MAPPING_CHECK_S):
            for poller in list(self.pollers.values()):
                try:
                    state = lam.get_event_source_mapping(UUID=poller.source.mapping_uuid).get("State")
                except Exception as exc:  # the endpoint is going away: keep the last state
                    poller.stats.errors.append(f"mapping state unknown: {exc!r}")
                else:
                    poller.paused = state in {"Disabled", "Disabling"}

    def writer(self, steps: Sequence[Step]) -> Writer:
        assert self.resources is not None, "start() first"
        return Writer(
            steps,
            resources=self.resources,
            dynamodb=self.endpoint.client("dynamodb"),
            sqs=self.endpoint.client("sqs"),
            secrets=self.endpoint.client("secretsmanager"),
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

    @property
    def denied(self) -> bool:
        return self.denials.event.is_set()

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
        while time.monotonic() < deadline and not self.denied:
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

    def _start_stand_ins(self) -> dict[str, str]:
        """Serve each stand-in; every channel's API base URL (stand-in, given URL or registry default)."""
        urls: dict[str, str] = {}
        for name, app in self.stand_ins.items():
            port = self.config.stand_in_ports.get(name, stable_port(name, self.config.port_salt))
            try:
                server = HttpFake(app, port=port).start()
            except OSError:  # taken (another run): any free port, at the price of a synth
                server = HttpFake(app).start()
            self._servers.append(server)
            urls[name] = f"{server.url}{STAND_INS[name].api_path}"
        for name in registry.CHANNELS:
            urls.setdefault(name, self.config.provider_url(name) or registry.get(name).api_base_url)
        return urls

    def _provide_secrets(self, steps: Sequence[Step]) -> None:
        """Each channel's local secrets unless the input has them; every token the input provides, and
        every token a reused endpoint already holds (messages of an earlier run may still be queued), is
        known to the stand-ins."""
        secrets = self.endpoint.client("secretsmanager")
        given = given_secrets(steps)
        known = existing_secrets(secrets) if self.stand_ins else {}
        for name in registry.CHANNELS:
            stand_in = STAND_INS.get(name)
            if stand_in is None:
                continue
            for secret, value in stand_in.default_secrets(steps).items():
                if secret not in given:
                    ensure_secret(secrets, secret, value)
                    known[secret] = value
        known.update(given)
        for secret, value in known.items():
            for name, app in self.stand_ins.items():
                if STAND_INS[name].learn_secret(app, secret, value):
                    break
