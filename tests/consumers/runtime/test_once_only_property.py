"""Random events and random faults through the runtime: every event ends delivered exactly once or
dead-lettered with a reason; never lost, never sent twice."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.runtime import dlq_attributes as attrs
from consumers.runtime.channel import Prepared
from consumers.runtime.outcomes import Delivered, Outcome, Retry, Terminal
from fanout.events import TaskEvent

from .conftest import ConsumerEnv, MakeConsumerEnv, make_event

FAULTS = (
    "ok",
    "rate_limited",  # 429 before anything was applied
    "unavailable",  # 503 before anything was applied
    "applied_then_timeout",  # the provider applied it; we never heard back
    "applied_then_raise",  # channel code blew up after the provider applied it
    "applied_then_crash",  # the container died between the call and the ledger
    "crash_before_call",
    "complete_throttled",  # the provider applied it; the ledger completion was throttled
    "terminal",
    "terminal_dlq_refused",  # terminal, and the DLQ refuses the first send
    "next_claim_throttled",  # delivered; the next ledger claim is throttled
)
ROUND_S = 100  # longer than the claim TTL and any Retry-After used here


class Crash(BaseException):
    """The container dies mid-invocation (not an Exception: nothing in the runtime may catch it)."""


@dataclass
class FaultyProvider:
    """A channel whose provider records what it applied; reconcile finds applied calls."""

    env: ConsumerEnv
    faults: list[str]
    name: str = "fakechan"
    applied: Counter[str] = field(default_factory=Counter)

    def prepare(self, event: TaskEvent) -> Prepared:
        return Prepared(event=event, task={}, rate_limit_key="workspace")

    def reconcile(self, prepared: Prepared) -> Outcome | None:
        return Delivered("found") if self.applied[prepared.event.event_id] else None

    def deliver(self, prepared: Prepared) -> Outcome:
        fault = self.faults.pop(0) if self.faults else "ok"
        event_id = prepared.event.event_id
        if fault == "rate_limited":
            return Retry(5, "ratelimited", rate_limit_key="workspace")
        if fault == "unavailable":
            return Retry(None, "http_503")
        if fault == "terminal":
            return Terminal("channel_not_found")
        if fault == "terminal_dlq_refused":
            self.env.sqs.refuse_dlq_once()
            return Terminal("channel_not_found")
        if fault == "crash_before_call":
            raise Crash
        self.applied[event_id] += 1
        if fault == "applied_then_timeout":
            return Retry(None, "timeout", uncertain=True)
        if fault == "applied_then_raise":
            raise RuntimeError("boom after send")
        if fault == "applied_then_crash":
            raise Crash
        if fault == "complete_throttled":
            self.env.dynamodb.fail_once("update_item", lambda kw: ":done" in kw["ExpressionAttributeValues"])
        if fault == "next_claim_throttled":
            self.env.dynamodb.fail_once("put_item", lambda kw: True)
        return Delivered()


def drain(env: ConsumerEnv, provider: FaultyProvider) -> None:
    handler = env.handler()
    for _ in range(60):
        if env.queue_depth() == 0:
            return
        try:
            env.run_batch(handler)
        except Crash:
            handler = env.handler()  # a new container, with empty rate-limit memory
        env.make_visible(env.last_records)
        env.clock.advance(ROUND_S)
    raise AssertionError("the queue did not drain")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    faults=st.lists(st.sampled_from(FAULTS), max_size=12),
)
def test_every_event_is_delivered_once_or_dead_lettered(
    make_consumer_env: MakeConsumerEnv, shape: list[int], faults: list[str]
) -> None:
    env = make_consumer_env()
    provider = FaultyProvider(env, list(faults))
    env.channel = provider  # type: ignore[assignment]
    events = [
        make_event(task_id=f"task-{t}", event_type="task_created")
        for t, count in enumerate(shape)
        for _ in range(count)
    ]
    for event in events:
        env.send(event)

    drain(env, provider)

    letters: dict[str, str] = {}
    while batch := env.receive(env.settings.dlq_url):
        for message in batch:
            event_id = TaskEvent.from_body(message["Body"]).event_id
            assert event_id not in letters
            letters[event_id] = message["MessageAttributes"][attrs.REASON]["StringValue"]
            env.raw_sqs.delete_message(QueueUrl=env.settings.dlq_url, ReceiptHandle=message["ReceiptHandle"])
    for event in events:
        assert provider.applied[event.event_id] <= 1, "sent twice"
        item: dict[str, Any] | None = env.ledger_item(event.event_id)
        done = item is not None and item["state"] == {"S": "done"}
        if done:
            assert provider.applied[event.event_id] == 1
            assert event.event_id not in letters
        else:
            assert letters.get(event.event_id) in {attrs.REASON_BUDGET, "terminal:channel_not_found"}, "lost"
