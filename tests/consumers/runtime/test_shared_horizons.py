"""Rate-limit horizons shared between containers through the ledger table (moto over HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.runtime.outcomes import Delivered, Retry
from consumers.runtime.shared_horizons import SharedHorizons

from .conftest import CHANNEL, ConsumerEnv, make_event


@pytest.fixture
def make_store(consumer_env: ConsumerEnv) -> Any:
    """Factory: a SharedHorizons on the env's ledger table; errors it reports are collected."""
    errors: list[tuple[str, str]] = []

    def make(dynamodb: Any = None) -> SharedHorizons:
        return SharedHorizons(
            dynamodb or consumer_env.dynamodb,
            table=consumer_env.settings.ledger_table,
            channel=CHANNEL,
            on_error=lambda what, error: errors.append((what, error)),
        )

    make.errors = errors  # type: ignore[attr-defined]
    return make


@pytest.fixture
def window_reads(consumer_env: ConsumerEnv) -> list[dict[str, Any]]:
    """The shared-window reads (GetItem on a `ratelimit#` item) the env's containers make from now on."""
    reads: list[dict[str, Any]] = []
    real_get = consumer_env.dynamodb.get_item

    def counting_get(**kwargs: Any) -> Any:
        if kwargs["Key"]["pk"]["S"].startswith("ratelimit#"):
            reads.append(kwargs)
        return real_get(**kwargs)

    consumer_env.dynamodb.get_item = counting_get  # type: ignore[method-assign]
    return reads


def test_a_published_horizon_is_read_back_and_a_later_one_wins(make_store: Any) -> None:
    store = make_store()
    assert store.read("slack:T1") is None
    store.publish("slack:T1", 1_000.5)
    store.publish("slack:T1", 900.0)  # an earlier horizon never shortens a stored one
    assert store.read("slack:T1") == 1_000.5
    store.publish("slack:T1", 1_100.0)
    assert store.read("slack:T1") == 1_100.0
    assert store.read("slack:T2") is None
    assert make_store.errors == []


def test_the_item_cannot_meet_a_ledger_entry_and_expires_by_ttl(
    make_store: Any, consumer_env: ConsumerEnv
) -> None:
    store = make_store()
    store.publish("slack:T1", 1_000.0)
    assert not store.item_key("slack:T1").startswith(f"{CHANNEL}#")
    item = consumer_env.dynamodb.get_item(
        TableName=consumer_env.settings.ledger_table, Key={"pk": {"S": store.item_key("slack:T1")}}
    )["Item"]
    assert int(item["expires_at"]["N"]) > 1_000


def test_a_failing_table_costs_the_coordination_not_the_message(
    make_store: Any, consumer_env: ConsumerEnv
) -> None:
    consumer_env.dynamodb.fail_when("update_item")
    consumer_env.dynamodb.fail_when("get_item")
    store = make_store()
    store.publish("k", 1_000.0)
    assert store.read("k") is None
    assert make_store.errors == [("publish", "ThrottlingException"), ("read", "ThrottlingException")]


def test_a_container_limited_before_reads_a_siblings_longer_window_and_does_not_call(
    consumer_env: ConsumerEnv,
) -> None:
    short, long_, later = (make_event(rate_limit_key="slack:T1") for _ in range(3))
    consumer_env.channel.deliveries[short.event_id] = [Retry(1, "ratelimited", rate_limit_key="slack:T1")]
    consumer_env.channel.deliveries[long_.event_id] = [Retry(30, "ratelimited", rate_limit_key="slack:T1")]
    first, second = consumer_env.handler(), consumer_env.handler()

    consumer_env.send(short)
    consumer_env.run_batch(second)  # told of a 1 s window
    consumer_env.send(long_)
    consumer_env.run_batch(first)  # a moment later, a sibling is told of a 30 s one

    consumer_env.clock.advance(2)  # the second container's own window is over, the sibling's is not
    consumer_env.send(later)
    response, records = consumer_env.run_batch(second)

    assert consumer_env.channel.delivered_calls == [short.event_id, long_.event_id]
    assert len(response["batchItemFailures"]) == len(records) == 1
    assert consumer_env.sqs.delay_for(records[0]["receiptHandle"]) == 28
    assert second.stats.rate_limited == 1


def test_a_container_never_limited_reads_nothing(
    consumer_env: ConsumerEnv, window_reads: list[dict[str, Any]]
) -> None:
    consumer_env.channel.deliveries["x"] = [Delivered()]
    for _ in range(3):
        consumer_env.send(make_event(rate_limit_key="slack:T1"))
    response, _ = consumer_env.run_batch(consumer_env.handler())
    assert response == {"batchItemFailures": []}
    assert len(consumer_env.channel.delivered_calls) == 3
    assert window_reads == []


def test_a_redelivered_message_on_a_cold_container_waits_for_a_siblings_window(
    consumer_env: ConsumerEnv,
) -> None:
    limited, returning, fresh = (make_event(rate_limit_key="slack:T1") for _ in range(3))
    consumer_env.channel.deliveries[limited.event_id] = [Retry(30, "ratelimited", rate_limit_key="slack:T1")]
    consumer_env.channel.deliveries[fresh.event_id] = [Delivered()]
    consumer_env.send(limited)
    consumer_env.run_batch(consumer_env.handler())  # a sibling is told of a 30 s window

    consumer_env.send(returning)
    received = consumer_env.receive()  # received once before (an earlier wait, say)
    consumer_env.make_visible([{"receiptHandle": m["ReceiptHandle"]} for m in received])
    cold = consumer_env.handler()  # never limited on the workspace
    response, records = consumer_env.run_batch(cold)

    assert [r["attributes"]["ApproximateReceiveCount"] for r in records] == ["2"]
    assert len(response["batchItemFailures"]) == 1
    assert consumer_env.channel.delivered_calls == [limited.event_id]  # no call for the returning one
    assert consumer_env.sqs.delay_for(records[0]["receiptHandle"]) == 30
    assert cold.stats.rate_limited == 1

    consumer_env.send(fresh)  # a first delivery on another cold container does not look
    response, _ = consumer_env.run_batch(consumer_env.handler())
    assert response == {"batchItemFailures": []}
    assert consumer_env.channel.delivered_calls == [limited.event_id, fresh.event_id]


def test_after_a_server_fault_a_fresh_message_reads_a_siblings_window(
    consumer_env: ConsumerEnv, key: str
) -> None:
    failing, limited, fresh, calm = (make_event(rate_limit_key=key) for _ in range(4))
    consumer_env.channel.deliveries[failing.event_id] = [Retry(None, "http_503", server_fault=True)]
    consumer_env.channel.deliveries[limited.event_id] = [Retry(30, "ratelimited", rate_limit_key=key)]
    consumer_env.channel.deliveries[calm.event_id] = [Delivered()]
    troubled = consumer_env.handler()
    consumer_env.send(failing)
    consumer_env.run_batch(troubled)  # the provider fails a call on the workspace here
    consumer_env.clock.advance(2)  # past the circuit's probe: it would let the next call through
    consumer_env.send(limited)
    consumer_env.run_batch(consumer_env.handler())  # a sibling is told of a 30 s window

    consumer_env.send(fresh)
    response, records = consumer_env.run_batch(troubled)

    assert [r["attributes"]["ApproximateReceiveCount"] for r in records] == ["1"]
    assert len(response["batchItemFailures"]) == 1
    assert consumer_env.channel.delivered_calls == [failing.event_id, limited.event_id]
    assert consumer_env.sqs.delay_for(records[0]["receiptHandle"]) == 30
    assert troubled.stats.rate_limited == 1

    consumer_env.send(calm)  # a container that saw no trouble on the workspace does not look
    response, _ = consumer_env.run_batch(consumer_env.handler())
    assert response == {"batchItemFailures": []}
    assert consumer_env.channel.delivered_calls[-1] == calm.event_id


def test_a_message_the_outage_circuit_holds_back_reads_no_shared_window(
    consumer_env: ConsumerEnv, window_reads: list[dict[str, Any]], key: str
) -> None:
    failing, held = make_event(rate_limit_key=key), make_event(rate_limit_key=key)
    consumer_env.channel.deliveries[failing.event_id] = [Retry(None, "http_503", server_fault=True)]
    troubled = consumer_env.handler()
    consumer_env.send(failing)
    consumer_env.run_batch(troubled)  # the key is hot here now, and its circuit is open
    consumer_env.send(held)
    response, records = consumer_env.run_batch(troubled)

    assert len(response["batchItemFailures"]) == len(records) == 1
    assert consumer_env.channel.delivered_calls == [failing.event_id]
    assert troubled.stats.deferred == 1  # held for the probe, before any read
    assert window_reads == []


def test_a_hot_key_checks_the_siblings_window_inside_the_claim_not_with_a_read(
    consumer_env: ConsumerEnv, window_reads: list[dict[str, Any]], key: str
) -> None:
    failing, calm = make_event(rate_limit_key=key), make_event(rate_limit_key=key)
    consumer_env.channel.deliveries[failing.event_id] = [Retry(None, "http_503", server_fault=True)]
    consumer_env.channel.deliveries[calm.event_id] = [Delivered()]
    troubled = consumer_env.handler()
    consumer_env.send(failing)
    consumer_env.run_batch(troubled)  # the key is hot here now
    consumer_env.clock.advance(2)  # past the circuit's probe: the next call may go out
    transactions: list[dict[str, Any]] = []
    consumer_env.dynamodb.fail_when("transact_write_items", lambda kw: transactions.append(kw) is not None)

    consumer_env.send(calm)
    response, _ = consumer_env.run_batch(troubled)

    assert response == {"batchItemFailures": []}
    assert consumer_env.channel.delivered_calls[-1] == calm.event_id
    assert window_reads == []  # no GetItem of the window: the claim's transaction checked it
    claim_items = transactions[0]["TransactItems"]
    (check,) = [item["ConditionCheck"] for item in claim_items if "ConditionCheck" in item]
    assert check["Key"]["pk"]["S"].startswith("ratelimit#")
    assert check["ConditionExpression"] == "attribute_not_exists(#u) OR #u <= :now"


def test_a_window_found_by_the_claims_check_is_remembered_and_costs_no_second_check(
    consumer_env: ConsumerEnv, window_reads: list[dict[str, Any]], key: str
) -> None:
    failing, limited, first, second = (make_event(rate_limit_key=key) for _ in range(4))
    consumer_env.channel.deliveries[failing.event_id] = [Retry(None, "http_503", server_fault=True)]
    consumer_env.channel.deliveries[limited.event_id] = [Retry(30, "ratelimited", rate_limit_key=key)]
    troubled = consumer_env.handler()
    consumer_env.send(failing)
    consumer_env.run_batch(troubled)  # the key is hot here
    consumer_env.clock.advance(2)
    consumer_env.send(limited)
    consumer_env.run_batch(consumer_env.handler())  # a sibling is told of a 30 s window

    consumer_env.send(first)
    consumer_env.run_batch(troubled)  # the claim's check fails on the window: nothing written
    transactions: list[dict[str, Any]] = []
    consumer_env.dynamodb.fail_when("transact_write_items", lambda kw: transactions.append(kw) is not None)
    consumer_env.send(second)
    response, records = consumer_env.run_batch(troubled)

    assert len(response["batchItemFailures"]) == len(records) == 1
    assert consumer_env.sqs.delay_for(records[0]["receiptHandle"]) == 30  # the window's end, adopted
    assert transactions == []  # held by what this container now remembers: no claim attempted
    assert window_reads == []
    assert consumer_env.channel.delivered_calls == [failing.event_id, limited.event_id]
