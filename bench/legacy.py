"""A model of the earlier design: one stream consumer that calls every channel inline for each event.

What it keeps of that design (see the seed PR under ../shared/reference/):
- one Lambda reads the task-events stream (Powertools BatchProcessor for DynamoDB streams, partial batch
  response) and, for each record, calls every channel whose default subscriptions hold the event type:
  prepare, then deliver, inline, with the same channel objects (same factories, settings and clients, so
  the same stand-ins and the same rendering) as fanout's consumers;
- no delivery ledger, no per-channel queue, no rate-limit memory: a Retry from any channel (a throttle, a
  5xx, an infra error) fails the record, so the stream replays it and every channel is called again;
  Terminal and Skipped are logged and swallowed, as the old handler swallowed channel-terminal errors;
- GitHub writes unpaced: the channel is fanout's with the pacer's wait removed (`unpaced_github_channel`),
  since the earlier design never paced them;
- the event source mapping's bounded retries: RETRY_ATTEMPTS = 3 retries after the first attempt (the
  old mapping's "every record retries 3x before DLQ"), after which the record goes to the on-failure
  destination and each channel still failing loses that event: counted in `LegacyStats.lost`.

The replay itself is the local emulator's (fanout/local/emulator/stream.py): from the failed record,
after a short fixed pause; it knows nothing of Retry-After, as Lambda's stream retries do not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from consumers.runtime.channel import Prepared
from consumers.runtime.outcomes import Retry, Skipped, Terminal
from fanout import registry
from fanout.events import SkipRecord, TaskEvent, parse_stream_record
from fanout.local.emulator import containers
from fanout.local.provision import Resources
from fanout.local.runtime import ChannelFactory, StreamHandlerFactory

RETRY_ATTEMPTS = 3
CONTAINER = "legacy-0"

logger = Logger(service="legacy-stream-consumer")


class RecordFailed(RuntimeError):
    """A channel asked for a retry: the whole record is replayed, every channel called again."""


@dataclass
class LegacyStats:
    records: int = 0
    attempts: int = 0
    retried: int = 0
    discarded: int = 0  # records sent to the on-failure destination after the last retry
    lost: set[tuple[str, str]] = field(default_factory=set)  # (channel, event id) never delivered
    swallowed: dict[str, int] = field(default_factory=dict)  # "channel:reason" -> count
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def swallow(self, channel: str, reason: str) -> None:
        with self._lock:
            key = f"{channel}:{reason}"
            self.swallowed[key] = self.swallowed.get(key, 0) + 1


# The channels the earlier design delivered to (it named email only as a log-only stub).
EARLIER_DESIGN_CHANNELS = ("slack", "github")


def legacy_stream_handler(
    factories: Mapping[str, ChannelFactory], stats: LegacyStats, *, retry_attempts: int = RETRY_ATTEMPTS
) -> StreamHandlerFactory:
    """A RuntimeConfig.stream_handler_factory: the old single consumer over the run's resources."""

    def build(endpoint_url: str, resources: Resources, api_urls: Mapping[str, str]) -> Any:
        counter = containers.CallCounter()
        transport = containers.CountingTransport(CONTAINER, counter)
        clients = containers.function_clients(resources.session, endpoint_url, transport)
        channels = {}
        for name, channel in resources.channels.items():
            if name not in EARLIER_DESIGN_CHANNELS:
                continue  # its email was a log-only stub: the model sends none
            settings = containers.consumer_settings(resources, channel, api_urls[name])
            factory = factories.get(name) or containers.channel_factory(name)
            channels[name] = factory(settings, clients, time.time)
        return LegacyHandler(channels, stats, retry_attempts)

    return build


class LegacyHandler:
    def __init__(self, channels: Mapping[str, Any], stats: LegacyStats, retry_attempts: int) -> None:
        self._channels = channels
        self._stats = stats
        self._retry_attempts = retry_attempts
        self._attempts: dict[str, int] = {}  # sequence number -> invocations that processed it

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
        return dict(process_partial_response(event, self._record, processor, context))

    def _record(self, record: DynamoDBRecord) -> None:
        sequence = str(record.raw_event.get("dynamodb", {}).get("SequenceNumber"))
        attempt = self._attempts.get(sequence, 0) + 1
        self._attempts[sequence] = attempt
        self._stats.attempts += 1
        if attempt == 1:
            self._stats.records += 1
        try:
            event = parse_stream_record(record.raw_event)
        except SkipRecord as exc:
            self._stats.swallow("stream", exc.reason)
            return
        failing = [name for name in self._wanted(event) if self._call(name, event)]
        if not failing:
            return
        if attempt <= self._retry_attempts:
            self._stats.retried += 1
            raise RecordFailed(f"{event.event_id}: {', '.join(failing)} asked for a retry")
        self._stats.discarded += 1
        self._stats.lost.update((name, event.event_id) for name in failing)
        logger.warning("legacy.record_discarded", extra={"event_id": event.event_id, "channels": failing})

    def _wanted(self, event: TaskEvent) -> list[str]:
        return [
            name for name in self._channels if event.event_type in registry.get(name).default_subscriptions
        ]

    def _call(self, name: str, event: TaskEvent) -> bool:
        """Prepare and deliver inline; True when this channel wants the record retried."""
        channel = self._channels[name]
        try:
            prepared = channel.prepare(event)
            outcome = channel.deliver(prepared) if isinstance(prepared, Prepared) else prepared
        except Exception as exc:  # an infra error: the old handler rethrew it so Lambda retried
            self._stats.swallow(name, f"raised:{type(exc).__name__}")
            return True
        if isinstance(outcome, Retry):
            return True
        if isinstance(outcome, Skipped | Terminal):
            self._stats.swallow(name, outcome.reason)
        return False


def unpaced_github_channel(settings: Any, clients: Any, clock: Any) -> Any:
    """fanout's GitHub channel without its pacing: the earlier design wrote as fast as it was called."""
    from consumers.github.channel import GitHubChannel

    return GitHubChannel(settings=settings, clients=clients, clock=clock, sleep=lambda _seconds: None)
