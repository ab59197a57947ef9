"""The Lambda entry of every channel consumer: an SQS FIFO batch in, a partial batch response out.

A channel package writes `handler = lambda_handler_for(build_<channel>_channel)`. One ConsumerHandler is
one container: it holds the container's rate-limit memory and counters, and nothing is shared between
instances (the local runtime runs several side by side to emulate concurrency).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from consumers.runtime.backoff import RandomSource
from consumers.runtime.channel import Channel, Clock
from consumers.runtime.clients import Clients, default_clients, http_timeout
from consumers.runtime.consumer import BatchMemory, Consumer
from consumers.runtime.settings import ConsumerSettings, load_settings
from consumers.runtime.stats import DeliveryStats
from consumers.runtime.telemetry import Telemetry
from fanout.batch_response import Record, process_partial, sqs_group_id, sqs_item_id

ChannelFactory = Callable[[ConsumerSettings, Clients, Clock], Channel]
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

GROUP_BLOCKED = "group_blocked"


class ConsumerHandler:
    """handler(event, context) -> {"batchItemFailures": [...]}, plus `stats` (DeliveryStats) and
    `rate_limits` (RateLimitMemory) and `outages` (ProviderOutages) of this container."""

    def __init__(
        self,
        channel: Channel,
        settings: ConsumerSettings,
        clients: Clients,
        clock: Clock,
        random_source: RandomSource,
    ) -> None:
        self.channel = channel
        self.settings = settings
        self.stats = DeliveryStats()
        self.telemetry = Telemetry(settings.channel, self.stats)
        self._consumer = Consumer(channel, settings, clients, clock, self.telemetry, random_source)
        self.rate_limits = self._consumer.rate_limits
        self.outages = self._consumer.outages

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Lambda's context says how long the invocation has left; tests and local callers pass None.
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        batch = BatchMemory(remaining_ms=remaining if callable(remaining) else None)

        def record_handler(record: Record) -> None:
            self._consumer.handle(record, batch)

        try:
            # A failed message fails only the rest of its own group (task), never the other tasks'
            # messages in the batch. A batch whose every message waits (a rate limit, say) is a normal
            # partial response, not an invocation error: Lambda would otherwise log it as a failure and
            # back off the whole queue.
            response = process_partial(
                event.get("Records") or [], record_handler, item_id=sqs_item_id, group_of=sqs_group_id
            )
            failures = [dict(item) for item in response["batchItemFailures"]]
            self._hold_blocked_siblings(event.get("Records", []), failures, batch)
        finally:
            self.telemetry.flush()
        return {"batchItemFailures": failures}

    def _hold_blocked_siblings(
        self, records: Sequence[Mapping[str, Any]], failures: list[dict[str, Any]], batch: BatchMemory
    ) -> None:
        """Later messages of a failed group, failed unseen by the processor, wait as long as the message
        that failed: left alone they would stay in flight for the queue's whole visibility timeout."""
        failed = {item.get("itemIdentifier") for item in failures}
        held: list[tuple[str, int]] = []
        for record in records:
            message_id = record.get("messageId")
            group = (record.get("attributes") or {}).get("MessageGroupId")
            if message_id not in failed or message_id in batch.seen or group not in batch.group_delays:
                continue
            # The group's wait, and no shorter than this message's own floor (it may have been received far
            # more often than the message that failed).
            count = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
            delay = self._consumer.floored(batch.group_delays[group], count)
            held.append((str(record.get("receiptHandle", "")), delay))
            self.telemetry.deferred(None, GROUP_BLOCKED, delay)
        for error in self._consumer.queue.delay_many(held) if held else []:
            self.telemetry.problem("visibility_failed", None, error)


def make_handler(
    factory: ChannelFactory,
    settings: ConsumerSettings,
    clients: Clients,
    clock: Clock = time.time,
    *,
    random_source: RandomSource = random.random,
) -> ConsumerHandler:
    """One container's handler: builds the channel once with the injected clients and clock."""
    return ConsumerHandler(factory(settings, clients, clock), settings, clients, clock, random_source)


def lambda_handler_for(factory: ChannelFactory) -> LambdaHandler:
    """The module-level Lambda entry: settings and clients are built on the first call, then reused for
    the life of the container."""
    built: list[ConsumerHandler] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not built:
            settings = load_settings()
            timeout = http_timeout(settings.http_connect_timeout_s, settings.http_read_timeout_s)
            built.append(make_handler(factory, settings, default_clients(http_timeout=timeout)))
        return built[0](event, context)

    return handler
