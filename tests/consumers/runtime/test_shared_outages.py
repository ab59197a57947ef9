"""Provider outages shared between containers through the ledger table (moto over HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.runtime.outages import STALE_S
from consumers.runtime.outcomes import Delivered, Retry
from consumers.runtime.shared_outages import SharedOutages

from .conftest import CHANNEL, ConsumerEnv, make_event


def down() -> Retry:
    return Retry(None, "http_503", uncertain=True, server_fault=True)


@pytest.fixture
def make_store(consumer_env: ConsumerEnv) -> Any:
    """Factory: a SharedOutages on the env's ledger table; errors it reports are collected."""
    errors: list[tuple[str, str]] = []

    def make() -> SharedOutages:
        return SharedOutages(
            consumer_env.dynamodb,
            table=consumer_env.settings.ledger_table,
            channel=CHANNEL,
            on_error=lambda what, error: errors.append((what, error)),
        )

    make.errors = errors  # type: ignore[attr-defined]
    return make


def test_a_failure_continues_an_outage_only_once_another_message_failed_in_it(
    make_store: Any, key: str
) -> None:
    store, sibling = make_store(), make_store()
    assert store.failed(key, 1_000.0, event_id="e1", probe_at=1_001.0) is False  # opens it
    assert sibling.failed(key, 1_001.0, event_id="e1", probe_at=1_002.0) is False  # e1 alone, again
    assert sibling.failed(key, 1_002.0, event_id="e2", probe_at=1_003.0) is True
    assert store.failed(key, 1_003.0, event_id="e1", probe_at=1_004.0) is True  # now an outage
    assert store.failed(f"{key}-other", 1_003.0, event_id="e2", probe_at=1_004.0) is False
    assert make_store.errors == []


def test_an_answer_ends_the_outage_for_everyone(make_store: Any, key: str) -> None:
    store, sibling = make_store(), make_store()
    store.failed(key, 1_000.0, event_id="e1", probe_at=1_001.0)
    sibling.ended(key)
    assert store.failed(key, 1_001.0, event_id="e2", probe_at=1_002.0) is False  # a new outage
    sibling.ended(key)
    sibling.ended(key)  # nothing left to end: no error
    assert make_store.errors == []


def test_an_outage_not_probed_long_after_its_probe_time_is_over(make_store: Any, key: str) -> None:
    store = make_store()
    store.failed(key, 1_000.0, event_id="e1", probe_at=1_300.0)  # a Retry-After of 300 s
    assert store.failed(key, 1_300.0 + STALE_S, event_id="e2", probe_at=1_400.0) is True
    assert store.failed(key, 1_400.0 + STALE_S + 1, event_id="e2", probe_at=1_500.0) is False
    assert store.failed(key, 1_500.0, event_id="e2", probe_at=1_501.0) is False  # e2 opened the new one
    assert store.failed(key, 1_500.5, event_id="e3", probe_at=1_501.5) is True


def test_the_item_cannot_meet_a_ledger_entry_and_expires_by_ttl(
    make_store: Any, consumer_env: ConsumerEnv, key: str
) -> None:
    store = make_store()
    store.failed(key, 1_000.0, event_id="e1", probe_at=1_001.0)
    assert not store.item_key(key).startswith(f"{CHANNEL}#")
    item = consumer_env.dynamodb.get_item(
        TableName=consumer_env.settings.ledger_table, Key={"pk": {"S": store.item_key(key)}}
    )["Item"]
    assert int(item["expires_at"]["N"]) > 1_000


def test_a_failing_table_costs_the_coordination_not_the_message(
    make_store: Any, consumer_env: ConsumerEnv, key: str
) -> None:
    store = make_store()
    store.failed(key, 1_000.0, event_id="e1", probe_at=1_001.0)
    consumer_env.dynamodb.fail_when("update_item")
    assert store.failed(key, 1_001.0, event_id="e2", probe_at=1_002.0) is False  # charged, as without
    store.ended(key)
    assert make_store.errors == [("note", "ThrottlingException"), ("clear", "ThrottlingException")]


def test_messages_moving_between_containers_pay_one_attempt_per_outage(
    consumer_env: ConsumerEnv, key: str
) -> None:
    first, second = make_event(rate_limit_key=key), make_event(rate_limit_key=key)
    consumer_env.channel.deliveries[first.event_id] = [down(), down(), Delivered()]
    consumer_env.channel.deliveries[second.event_id] = [down(), Delivered()]
    containers = [consumer_env.handler(max_attempts=2) for _ in range(3)]
    consumer_env.send(first)
    consumer_env.run_batch(containers[0])  # opens the outage: an attempt
    held_first = consumer_env.last_records
    consumer_env.send(second)
    consumer_env.run_batch(containers[1])  # a second message fails in it: free
    consumer_env.make_visible(held_first + consumer_env.last_records)
    consumer_env.clock.advance(2)

    consumer_env.run_batch(containers[2])  # a container that never saw the outage

    assert consumer_env.channel.delivered_calls == [first.event_id, second.event_id, first.event_id]
    attempts = {
        e.event_id: (consumer_env.ledger_item(e.event_id) or {}).get("attempts") for e in (first, second)
    }
    assert attempts == {first.event_id: {"N": "1"}, second.event_id: {"N": "0"}}
    assert sum(c.stats.dead_lettered for c in containers) == 0


def test_a_message_failing_alone_pays_every_attempt_in_every_container(
    consumer_env: ConsumerEnv, key: str
) -> None:
    event = make_event(rate_limit_key=key)
    consumer_env.channel.deliveries[event.event_id] = [down()]
    consumer_env.send(event)
    a, b = consumer_env.handler(max_attempts=2), consumer_env.handler(max_attempts=2)
    consumer_env.run_batch(a)
    consumer_env.make_visible(consumer_env.last_records)
    consumer_env.clock.advance(2)

    response, _ = consumer_env.run_batch(b)

    assert response == {"batchItemFailures": []}
    assert b.stats.dead_lettered == 1  # it cannot be told from a message the provider cannot take


def test_a_container_that_saw_the_outage_ends_it_when_answered(consumer_env: ConsumerEnv, key: str) -> None:
    first, second, third = (make_event(rate_limit_key=key) for _ in range(3))
    consumer_env.channel.deliveries[first.event_id] = [down()]
    consumer_env.channel.deliveries[third.event_id] = [down()]
    a, b = consumer_env.handler(), consumer_env.handler()
    consumer_env.send(first)
    consumer_env.run_batch(a)
    consumer_env.clock.advance(2)
    consumer_env.send(second)
    consumer_env.run_batch(a)  # the probe is answered: over, for every container
    consumer_env.send(third)

    consumer_env.run_batch(b)

    item = consumer_env.ledger_item(third.event_id)
    assert item is not None
    assert item["attempts"] == {"N": "1"}  # b's failure starts a new outage: it costs an attempt
    assert b.stats.retries == 1


def test_fault_free_deliveries_never_touch_the_outage_items(consumer_env: ConsumerEnv, key: str) -> None:
    touched: list[str] = []
    real_update = consumer_env.dynamodb.update_item

    def spying_update(**kwargs: Any) -> Any:
        touched.append(kwargs["Key"]["pk"]["S"])
        return real_update(**kwargs)

    consumer_env.dynamodb.update_item = spying_update  # type: ignore[method-assign]
    for _ in range(3):
        consumer_env.send(make_event(rate_limit_key=key))
    response, _ = consumer_env.run_batch(consumer_env.handler())

    assert response == {"batchItemFailures": []}
    assert touched
    assert not [pk for pk in touched if pk.startswith("outage#")]
