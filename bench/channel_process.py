"""One process per channel consumer, as Lambda deploys them: the isolation benchmark's rig.

The local runtime runs every channel's containers as threads of one Python process. In AWS each
channel's consumer is a Lambda function of its own, with its own pollers and containers, sharing no CPU
and no interpreter with another channel. Sharing one interpreter makes a Slack fault's extra work
(retries, 429 handling, the drain) wait for the GIL together with GitHub's deliveries, a coupling AWS
does not have. `ProcessPerChannelRuntime` keeps everything of the local runtime (the deployed stack, the
router, the stand-ins, the writer) and only moves each channel's poller and containers (the same
`ChannelPoller`, handlers and channel objects, with the function's assumed-role credentials and its
deployed environment) into a child process. The child records its deliveries, its AWS calls and its
own scheduling lateness, and hands them back when the pollers stop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from bench.recording import AwsCall, AwsCallLog, Delivery, DeliveryLog, LagProbe, recording_aws
from fanout.local.deployed import DeployedFunction
from fanout.local.emulator import containers
from fanout.local.emulator.sqs import QueueSource
from fanout.local.runtime import LocalRuntime

READY_TIMEOUT_S = 120.0  # the child imports boto3, Powertools and the consumer packages
IN_FLIGHT_EVERY_S = 0.02  # how often the child tells the parent how many invocations are running
RESULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ChannelSpec:
    """Everything a child needs to run one channel's event source mapping: picklable."""

    channel: str
    endpoint_url: str
    credentials: Any  # fanout.local.iam.Credentials: the function role's, as Lambda gives them
    environment: dict[str, str]  # the deployed function's
    source: QueueSource
    concurrency: int


@dataclass
class ChildResult:
    deliveries: list[Delivery]
    aws_calls: list[AwsCall]
    lag: list[tuple[float, float]]
    cpu: list[tuple[float, float, float | None]]
    delivery_stats: dict[str, Any]
    api_calls: int
    poller: dict[str, Any]


def child_main(spec: ChannelSpec, conn: Any, stop: Any, in_flight: Any) -> None:
    """The child: build the containers and the poller as the local runtime does, poll until told to stop,
    send back what was recorded."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from consumers.runtime.settings import load_settings
    from fanout.local.emulator.sqs import ChannelPoller
    from fanout.local.emulator.wakeups import VisibilityWakeups
    from fanout.local.endpoint import session_of

    session = session_of(spec.credentials)
    log, calls = DeliveryLog(), AwsCallLog()
    counter, wakeups = containers.CallCounter(), VisibilityWakeups()
    handlers = containers.consumer_containers(
        spec.endpoint_url,
        load_settings(spec.environment),
        session,
        counter,
        spec.concurrency,
        factory=recording_aws(containers.channel_factory(spec.channel), log, calls),
        wakeups=wakeups,
    )
    clients = [containers.session_client(session, spec.endpoint_url, "sqs") for _ in handlers]
    poller = ChannelPoller(spec.source, handlers, clients, wakeups)
    halt = threading.Event()
    with LagProbe() as probe:
        poller.start(halt)
        conn.send("ready")
        while not stop.wait(IN_FLIGHT_EVERY_S):
            in_flight.value = poller.stats.in_flight
        halt.set()
        poller.join()
    in_flight.value = 0
    from consumers.runtime.stats import DeliveryStats

    combined = DeliveryStats.combined(h.stats for h in handlers)
    stats = poller.stats
    conn.send(
        ChildResult(
            deliveries=log.items(),
            aws_calls=calls.items(),
            lag=probe.samples,
            cpu=probe.cpu,
            delivery_stats={f.name: getattr(combined, f.name) for f in _public_fields(combined)},
            api_calls=counter.count,
            poller={
                "invocations": stats.invocations,
                "records": stats.records,
                "failures": stats.failures,
                "deleted": stats.deleted,
                "max_in_flight": stats.max_in_flight,
                "errors": list(stats.errors),
                "released": poller.guard.released,
            },
        )
    )


def _public_fields(instance: Any) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(instance) if not f.name.startswith("_")]


@dataclass
class _Stats:
    """What the runtime reads of a poller's stats; `in_flight` live from the child, the rest at the end."""

    shared: Any
    invocations: int = 0
    records: int = 0
    failures: int = 0
    deleted: int = 0
    max_in_flight: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def in_flight(self) -> int:
        return int(self.shared.value)


@dataclass
class _Guard:
    released: int = 0


@dataclass
class _Container:
    stats: Any  # DeliveryStats


@dataclass
class _Counter:
    count: int = 0


class ProcessPoller:
    """Stands where the runtime keeps a `ChannelPoller`; the poller itself runs in a child process."""

    def __init__(self, spec: ChannelSpec) -> None:
        context = multiprocessing.get_context("spawn")  # the parent runs threads: never fork it
        self.source = spec.source
        self.paused = False  # the benchmark never pauses a mapping
        self.guard = _Guard()
        self._in_flight = context.Value("i", 0)
        self.stats = _Stats(self._in_flight)
        self._stop = context.Event()
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=child_main, args=(spec, child, self._stop, self._in_flight), daemon=True
        )
        self._process.start()  # every channel's child starts importing at once; start() waits for it
        self._channel = spec.channel
        self.result: ChildResult | None = None

    def start(self, stop: threading.Event) -> None:
        """Wait until the child polls (nothing is written before the runtime has started)."""
        if not self._conn.poll(READY_TIMEOUT_S) or self._conn.recv() != "ready":
            self._process.kill()
            raise RuntimeError(f"the {self._channel} consumer process did not start")

    def join(self, timeout: float = RESULT_TIMEOUT_S) -> None:
        if self.result is not None:
            return
        self._stop.set()
        if self._conn.poll(timeout):
            self.result = self._conn.recv()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
        if self.result is None:
            self.stats.errors.append("the consumer process sent no result")
            return
        for name, value in self.result.poller.items():
            if name == "released":
                self.guard.released = value
            else:
                setattr(self.stats, name, value)


class ProcessPerChannelRuntime(LocalRuntime):
    """The local runtime with each channel consumer's pollers and containers in a process of its own."""

    def _start_channel(self, name: str, function: DeployedFunction) -> None:
        assert self.resources is not None
        mapping = function.mapping
        source = QueueSource(
            channel=name,
            queue_url=self.resources.channels[name].queue_url,
            queue_arn=mapping.source_arn,
            batch_size=mapping.batch_size,
            timeout_s=function.timeout_s,
            function_name=function.name,
            report_item_failures=mapping.report_item_failures,
            batching_window_s=mapping.batching_window_s,
            mapping_uuid=mapping.uuid,
        )
        spec = ChannelSpec(
            channel=name,
            endpoint_url=self.endpoint.url,
            credentials=self._session(function).credentials,
            environment=dict(function.environment),
            source=source,
            concurrency=max(1, mapping.max_concurrency or 1),
        )
        self.pollers[name] = ProcessPoller(spec)  # type: ignore[assignment]
        self.counters[name] = _Counter()  # type: ignore[assignment]
        self.containers[name] = []

    def stop_pollers(self) -> None:
        super().stop_pollers()
        from consumers.runtime.stats import DeliveryStats

        for name, poller in self.pollers.items():
            result = getattr(poller, "result", None)
            if result is not None:
                self.containers[name] = [_Container(DeliveryStats(**result.delivery_stats))]
                self.counters[name].count = result.api_calls  # type: ignore[misc]

    def child_results(self) -> dict[str, ChildResult]:
        return {
            name: poller.result
            for name, poller in self.pollers.items()
            if isinstance(poller, ProcessPoller) and poller.result is not None
        }


@contextlib.contextmanager
def process_per_channel() -> Iterator[list[ProcessPerChannelRuntime]]:
    """`run_local` builds its runtime itself; inside this block it builds a ProcessPerChannelRuntime (the
    runtimes built are listed, for their children's results)."""
    built: list[ProcessPerChannelRuntime] = []

    def build(*args: Any, **kwargs: Any) -> ProcessPerChannelRuntime:
        runtime = ProcessPerChannelRuntime(*args, **kwargs)
        built.append(runtime)
        return runtime

    with mock.patch("fanout.local.runner.LocalRuntime", build):
        yield built
