"""The outage circuit in the message flow, over a real FIFO queue: a provider failing on its side holds
the key's other messages back without calling, probes cost no attempt, and an answer lets all through."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.runtime.outcomes import Delivered, Retry, Terminal

from .conftest import ConsumerEnv, make_event


def down() -> Retry:
    return Retry(None, "http_503", uncertain=True, server_fault=True)


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {f["itemIdentifier"] for f in response["batchItemFailures"]}


def attempts_of(env: ConsumerEnv, event_id: str) -> int:
    item = env.ledger_item(event_id)
    assert item is not None
    return int(item["attempts"]["N"])


def test_a_server_fault_holds_the_keys_other_messages_until_the_probe_then_an_answer_frees_them(
    consumer_env: ConsumerEnv, key: str
) -> None:
    first, waiting = make_event(rate_limit_key=key), make_event(rate_limit_key=key)
    elsewhere = make_event(rate_limit_key="slack:T2")
    consumer_env.channel.deliveries[first.event_id] = [down(), Delivered()]
    for event in (first, waiting, elsewhere):
        consumer_env.send(event)
    handler = consumer_env.handler()

    response, records = consumer_env.run_batch(handler)

    assert consumer_env.channel.delivered_calls == [first.event_id, elsewhere.event_id]
    held = next(r for r in records if r["body"] == waiting.to_body())
    assert failed_ids(response) == {held["messageId"], records[0]["messageId"]}
    assert consumer_env.sqs.delay_for(held["receiptHandle"]) == 1  # the next probe, not a backoff
    assert attempts_of(consumer_env, first.event_id) == 1  # the call that opened the circuit counts
    assert consumer_env.ledger_item(waiting.event_id) is None  # held back before any claim
    assert handler.stats.retries == 1
    assert handler.stats.deferred == 1

    consumer_env.make_visible(records)
    consumer_env.clock.advance(2)
    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert consumer_env.channel.reconcile_calls == [first.event_id]  # the 503 may have posted
    assert consumer_env.channel.delivered_calls[2:] == [first.event_id, waiting.event_id]
    assert not handler.outages.is_open(key, consumer_env.clock())


def test_failed_probes_cost_no_attempt_and_come_back_less_often_as_the_outage_lasts(
    consumer_env: ConsumerEnv, key: str
) -> None:
    first, second = make_event(rate_limit_key=key), make_event(rate_limit_key=key)
    consumer_env.channel.deliveries[first.event_id] = [down()]
    consumer_env.channel.deliveries[second.event_id] = [down()]
    handler = consumer_env.handler(max_attempts=3)
    consumer_env.send(first)
    consumer_env.run_batch(handler)  # opens the outage: an attempt
    held = consumer_env.last_records
    consumer_env.clock.advance(2)
    consumer_env.send(second)
    consumer_env.run_batch(handler)  # the probe: a second message fails, so it is an outage
    held += consumer_env.last_records
    delays = []
    for _ in range(12):
        consumer_env.make_visible(held)
        consumer_env.clock.advance(delays[-1] if delays else 2)
        response, held = consumer_env.run_batch(handler)
        assert len(response["batchItemFailures"]) == len(held) == 2
        delay = max(consumer_env.sqs.delay_for(r["receiptHandle"]) or 0 for r in held)
        delays.append(delay)

    attempts = [attempts_of(consumer_env, e.event_id) for e in (first, second)]
    assert attempts == [1, 0]  # 12 rounds of failed probes cost nothing
    assert consumer_env.queue_depth() == 2
    assert delays[0] == 1  # the floor, while a quarter of the outage is at most 1 s
    assert delays == sorted(delays)
    assert delays[-1] >= 4  # a quarter of an outage that has lasted over 16 s
    assert handler.stats.dead_lettered == 0


@pytest.mark.parametrize("keyed", [True, False], ids=["alone-on-its-key", "no-key-no-circuit"])
def test_a_message_failing_alone_is_charged_each_time(
    consumer_env: ConsumerEnv, key: str, keyed: bool
) -> None:
    event = make_event(rate_limit_key=key) if keyed else make_event()
    consumer_env.channel.deliveries[event.event_id] = [down()]
    consumer_env.send(event)
    handler = consumer_env.handler(max_attempts=2)
    consumer_env.run_batch(handler)
    consumer_env.make_visible(consumer_env.last_records)
    consumer_env.clock.advance(2)

    consumer_env.run_batch(handler)

    assert handler.stats.dead_lettered == 1  # alone, it cannot be told from a message Slack cannot take


def test_a_message_that_alone_fails_still_runs_out_of_attempts(consumer_env: ConsumerEnv, key: str) -> None:
    poison, healthy = make_event(rate_limit_key=key), make_event(rate_limit_key=key)
    consumer_env.channel.deliveries[poison.event_id] = [down()]
    consumer_env.send(poison)
    handler = consumer_env.handler(max_attempts=2)
    consumer_env.run_batch(handler)
    poison_records = consumer_env.last_records

    consumer_env.clock.advance(2)
    consumer_env.send(healthy)
    response, _ = consumer_env.run_batch(handler)  # the probe: answered, so the outage is over
    assert response == {"batchItemFailures": []}

    consumer_env.make_visible(poison_records)
    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert handler.stats.dead_lettered == 1
    assert consumer_env.channel.delivered_calls == [poison.event_id, healthy.event_id, poison.event_id]


def test_a_refusal_is_an_answer_and_ends_the_outage(consumer_env: ConsumerEnv, key: str) -> None:
    first, refused = make_event(rate_limit_key=key), make_event(rate_limit_key=key)
    consumer_env.channel.deliveries[first.event_id] = [down()]
    consumer_env.channel.deliveries[refused.event_id] = [Terminal("channel_not_found")]
    consumer_env.send(first)
    handler = consumer_env.handler()
    consumer_env.run_batch(handler)
    assert handler.outages.is_open(key, consumer_env.clock())

    consumer_env.clock.advance(2)
    consumer_env.send(refused)
    consumer_env.run_batch(handler)

    assert not handler.outages.is_open(key, consumer_env.clock())


def test_a_rate_limit_is_an_answer_and_its_horizon_takes_over(consumer_env: ConsumerEnv, key: str) -> None:
    first, limited = make_event(rate_limit_key=key), make_event(rate_limit_key=key)
    consumer_env.channel.deliveries[first.event_id] = [down()]
    consumer_env.channel.deliveries[limited.event_id] = [Retry(30, "ratelimited", rate_limit_key=key)]
    consumer_env.send(first)
    handler = consumer_env.handler()
    consumer_env.run_batch(handler)

    consumer_env.clock.advance(2)
    consumer_env.send(limited)
    consumer_env.run_batch(handler)

    now = consumer_env.clock()
    assert not handler.outages.is_open(key, now)
    assert handler.rate_limits.horizon(key, now) == now + 30
