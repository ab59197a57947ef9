"""Random events and random faults through the runtime: every event ends delivered exactly once or
dead-lettered with a reason; never lost, never sent twice.

Faults come from two schedules: what the provider does with each call (`FAULTS`), and what happens
around an invocation (`ROUND_FAULTS`: SQS delivering a message twice, a second container holding the
same message, a throttled ledger release, a failed visibility change or delete, a reconcile that raises
or cannot tell, the age budget running out). CI runs `EXAMPLES` examples; `make soak` runs thousands
(FANOUT_PROPERTY_EXAMPLES, split over FANOUT_PROPERTY_SHARDS tests so `-n` can run them side by side).

A reconcile must answer Retry when it cannot tell (a lookup that failed); a reconcile that answers
"not found" for a call that did apply is outside the guarantee (the runtime would send again), so the
fake provider's reconcile never does that."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.runtime import dlq_attributes as attrs
from consumers.runtime.channel import Prepared
from consumers.runtime.outcomes import Delivered, Outcome, Retry, Terminal
from fanout.events import TaskEvent

from .conftest import ConsumerEnv, MakeConsumerEnv, lambda_record, make_event

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
ROUND_FAULTS = (
    "none",
    "duplicate_delivery",  # SQS hands the same messages out again after they were processed
    "second_container",  # a slow container still holds the messages another one received and handled
    "release_throttled",  # the ledger release after a failed attempt is throttled
    "visibility_fails",  # the next ChangeMessageVisibility fails
    "delete_fails",  # Lambda's delete of the batch's successes fails: they come back
    "dlq_delete_fails",  # the delete after dead-lettering fails: the message comes back
    "reconcile_raises",  # the next reconcile raises
    "reconcile_unsure",  # the next reconcile cannot tell (a failed lookup)
    "age_expiry",  # the age budget runs out
)
ROUND_S = 100  # longer than the claim TTL and any Retry-After used here
EXAMPLES = int(os.environ.get("FANOUT_PROPERTY_EXAMPLES", "20"))  # CI; `make soak` runs thousands
SHARDS = int(os.environ.get("FANOUT_PROPERTY_SHARDS", "1"))


class Crash(BaseException):
    """The container dies mid-invocation (not an Exception: nothing in the runtime may catch it)."""


@dataclass
class FaultyProvider:
    """A channel whose provider records what it applied; reconcile finds applied calls."""

    env: ConsumerEnv
    faults: list[str]
    name: str = "fakechan"
    applied: Counter[str] = field(default_factory=Counter)
    reconcile_fault: str | None = None

    def prepare(self, event: TaskEvent) -> Prepared:
        return Prepared(event=event, task={}, rate_limit_key="workspace")

    def reconcile(self, prepared: Prepared) -> Outcome | None:
        fault, self.reconcile_fault = self.reconcile_fault, None
        if fault == "reconcile_raises":
            raise RuntimeError("lookup blew up")
        if fault == "reconcile_unsure":
            return Retry(None, "lookup_failed", uncertain=True)
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


def drain(env: ConsumerEnv, provider: FaultyProvider, rounds: list[str]) -> set[str]:
    """Run invocations until the queue is empty; returns the round faults that made SQS hand a message
    out twice (after which an event may be both delivered and dead-lettered, never sent twice)."""
    handler = env.handler()
    doubled: set[str] = set()
    for _ in range(80):
        if env.queue_depth() == 0:
            return doubled
        fault = rounds.pop(0) if rounds else "none"
        try:
            handler = run_round(env, provider, handler, fault, doubled)
        except Crash:
            handler = env.handler()  # a new container, with empty rate-limit memory
        env.make_visible(env.last_records)
        env.clock.advance(ROUND_S)
    raise AssertionError("the queue did not drain")


def run_round(env: ConsumerEnv, provider: FaultyProvider, handler: Any, fault: str, doubled: set[str]) -> Any:
    if fault == "second_container":
        stale = [lambda_record(m, env.queue_arn) for m in env.receive()]
        env.make_visible(stale)  # the slow container's visibility lapses ...
        doubled.add(fault)
        try:
            env.run_batch(env.handler())  # ... another container receives the messages and handles them
        finally:
            env.last_records = stale
            handler({"Records": stale}, None)  # then the slow one handles its stale copies
        return handler
    if fault == "duplicate_delivery":
        _, records = env.run_batch(handler)
        doubled.add(fault)
        handler({"Records": records}, None)  # the same messages, delivered again
        return handler
    if fault == "delete_fails":
        records = [lambda_record(m, env.queue_arn) for m in env.receive()]
        env.last_records = records
        doubled.add(fault)
        handler({"Records": records}, None)  # ... and Lambda's delete of the successes never happens
        return handler
    if fault == "release_throttled":
        env.dynamodb.fail_once(
            "update_item", lambda kw: ":released" in kw.get("ExpressionAttributeValues", {})
        )
    elif fault == "visibility_fails":
        env.sqs.fail_next("change_message_visibility")
    elif fault == "dlq_delete_fails":
        env.sqs.fail_next("delete_message")
        doubled.add(fault)
    elif fault in {"reconcile_raises", "reconcile_unsure"}:
        provider.reconcile_fault = fault
    elif fault == "age_expiry":
        env.clock.advance(env.settings.max_age_s + 1)
    env.run_batch(handler)
    return handler


@pytest.mark.parametrize("shard", range(SHARDS))
@settings(
    max_examples=max(1, EXAMPLES // SHARDS),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shape=st.lists(st.integers(1, 3), min_size=1, max_size=3),
    faults=st.lists(st.sampled_from(FAULTS), max_size=12),
    rounds=st.lists(st.sampled_from(ROUND_FAULTS), max_size=8),
)
def test_every_event_is_delivered_once_or_dead_lettered(
    make_consumer_env: MakeConsumerEnv, shard: int, shape: list[int], faults: list[str], rounds: list[str]
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

    doubled = drain(env, provider, list(rounds))

    letters: dict[str, list[str]] = {}
    while batch := env.receive(env.settings.dlq_url):
        for message in batch:
            event_id = TaskEvent.from_body(message["Body"]).event_id
            letters.setdefault(event_id, []).append(message["MessageAttributes"][attrs.REASON]["StringValue"])
            env.raw_sqs.delete_message(QueueUrl=env.settings.dlq_url, ReceiptHandle=message["ReceiptHandle"])
    allowed = {attrs.REASON_BUDGET, "terminal:channel_not_found"}
    for event in events:
        assert provider.applied[event.event_id] <= 1, "sent twice"
        item: dict[str, Any] | None = env.ledger_item(event.event_id)
        done = item is not None and item["state"] == {"S": "done"}
        reasons = letters.get(event.event_id, [])
        assert set(reasons) <= allowed
        if done:
            assert provider.applied[event.event_id] == 1
            # a message handed out twice may leave a dead letter beside the delivery (never a second send)
            assert not reasons or doubled, "delivered and dead-lettered"
        else:
            assert reasons, "lost"
            assert len(reasons) == 1 or doubled, "dead-lettered twice"
