"""The channel's writes in the ledger's transactions, over moto: the record commits with the completion
or neither does (cancelled, throttled, answer lost after the commit), and a first attempt's slot is taken
with its claim or the message is skipped without a claim."""

from __future__ import annotations

from typing import Any

from consumers.runtime.outcomes import Delivered, Skipped
from consumers.runtime.task_writes import TaskWrite

from .conftest import ConsumerEnv, make_event

SLOT = "slot#task"  # a stand-in task item: the ledger table holds it under a key no event uses


def write(env: ConsumerEnv, value: str, lost: Any = None) -> TaskWrite:
    """Set `v` = value when `v` is absent or already value (as the channels' writes do)."""
    return TaskWrite(
        env.settings.ledger_table,
        {"pk": {"S": SLOT}},
        "SET v = :v",
        "attribute_not_exists(v) OR v = :v",
        {},
        {":v": {"S": value}},
        lost or (lambda: Skipped("lost_race")),
    )


def slot(env: ConsumerEnv) -> str | None:
    item = env.dynamodb.get_item(TableName=env.settings.ledger_table, Key={"pk": {"S": SLOT}}).get("Item")
    return item["v"]["S"] if item else None


def test_the_record_commits_with_the_completion_in_one_call(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [Delivered(record=write(consumer_env, "mine"))]
    consumer_env.send(event)
    handler = consumer_env.handler()
    calls: list[str] = []
    real_transact = consumer_env.dynamodb.transact_write_items
    consumer_env.dynamodb.transact_write_items = lambda **kw: calls.append("t") or real_transact(**kw)  # type: ignore[method-assign]
    consumer_env.run_batch(handler)
    assert handler.stats.delivered == 1
    assert calls == ["t"]
    assert slot(consumer_env) == "mine"
    assert consumer_env.ledger_item(event.event_id)["state"] == {"S": "done"}  # type: ignore[index]


def test_a_record_that_loses_its_condition_is_what_the_channel_says_and_the_event_is_closed(
    consumer_env: ConsumerEnv,
) -> None:
    first, second = make_event(), make_event()
    consumer_env.channel.deliveries[first.event_id] = [Delivered(record=write(consumer_env, "first"))]
    consumer_env.channel.deliveries[second.event_id] = [Delivered(record=write(consumer_env, "second"))]
    handler = consumer_env.handler()
    consumer_env.send(first)
    consumer_env.run_batch(handler)
    consumer_env.send(second)
    consumer_env.run_batch(handler)
    assert slot(consumer_env) == "first"
    assert handler.stats.delivered == 1
    assert handler.stats.skipped == 1  # the channel's lost(): a skip, and the ledger says done
    assert consumer_env.ledger_item(second.event_id)["state"] == {"S": "done"}  # type: ignore[index]


def test_a_throttled_transaction_applies_nothing_and_the_retry_reconciles(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [Delivered(record=write(consumer_env, "mine"))]
    consumer_env.channel.reconciles[event.event_id] = [Delivered("found", record=write(consumer_env, "mine"))]
    consumer_env.dynamodb.fail_once("transact_write_items", lambda kw: True)
    handler = consumer_env.handler()
    consumer_env.send(event)
    consumer_env.run_batch(handler)
    assert slot(consumer_env) is None  # neither item applied
    entry = consumer_env.ledger_item(event.event_id)
    assert entry is not None
    assert entry["state"] == {"S": "released"}
    assert entry["uncertain"] == {"BOOL": True}

    consumer_env.make_visible(consumer_env.last_records)
    consumer_env.clock.advance(100)
    consumer_env.run_batch(handler)
    assert consumer_env.channel.delivered_calls == [event.event_id]  # reconciled, never sent again
    assert consumer_env.channel.reconcile_calls == [event.event_id]
    assert slot(consumer_env) == "mine"
    assert consumer_env.ledger_item(event.event_id)["state"] == {"S": "done"}  # type: ignore[index]


def test_an_answer_lost_after_the_commit_is_repeated_without_a_lost_race(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [Delivered(record=write(consumer_env, "mine"))]
    consumer_env.dynamodb.lose_answer_once("transact_write_items")  # applied, sent again by the SDK
    handler = consumer_env.handler()
    consumer_env.send(event)
    consumer_env.run_batch(handler)
    assert handler.stats.delivered == 1
    assert handler.stats.skipped == 0
    assert slot(consumer_env) == "mine"
    assert consumer_env.ledger_item(event.event_id)["state"] == {"S": "done"}  # type: ignore[index]


def test_a_slot_held_by_another_event_skips_without_a_claim_or_a_call(consumer_env: ConsumerEnv) -> None:
    from consumers.runtime.channel import Prepared

    holder, event = make_event(), make_event()
    channel = consumer_env.channel

    def prepare(e: Any) -> Prepared:
        return Prepared(event=e, task={}, claim_with=write(consumer_env, e.event_id))

    channel.prepare = prepare  # type: ignore[method-assign]
    handler = consumer_env.handler()
    consumer_env.send(holder)
    consumer_env.run_batch(handler)
    consumer_env.send(event)
    consumer_env.run_batch(handler)
    assert slot(consumer_env) == holder.event_id
    assert channel.delivered_calls == [holder.event_id]
    assert handler.stats.skipped == 1
    assert consumer_env.ledger_item(event.event_id) is None  # the cancelled claim wrote nothing
