"""The age budget bounds everything a message can cost: an old message always reaches the DLQ, the
receives it spends stay below the maxReceiveCount the registry derives, and no wait (a provider's
Retry-After, a remembered window) outlasts what is left of the budget."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from consumers.runtime import dlq_attributes as attrs
from consumers.runtime.lambda_entry import make_handler
from consumers.runtime.outcomes import Delivered, Retry
from fanout.registry import FAST_RECEIVES, ChannelSettings

from .conftest import ConsumerEnv, FakeLambdaContext, make_event
from .test_consumer import attributes, dead_letters, failed_ids


def test_an_old_message_reaches_the_dlq_however_short_the_invocation(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    consumer_env.send(event)
    consumer_env.clock.advance(3 * 24 * 3600)  # three days old, and no time left in the invocation

    response, _ = consumer_env.run_batch(consumer_env.handler(), FakeLambdaContext(0))

    assert response == {"batchItemFailures": []}
    (letter,) = dead_letters(consumer_env)
    assert attributes(letter)[attrs.REASON] == attrs.REASON_BUDGET
    assert consumer_env.channel.delivered_calls == []


def test_the_receives_a_waiting_message_spends_stay_below_the_derived_max_receive_count(
    consumer_env: ConsumerEnv,
) -> None:
    """The shortest wait there is (`out_of_time`, 1 s), forever: SQS's own redrive must never be what
    ends the message; the consumer's age budget must, with a reason, within `min_receive_count`."""
    deployed = ChannelSettings(
        batch_size=1, max_concurrency=2, reserved_concurrency=None, memory_mb=256, timeout_s=30,
        visibility_timeout_s=180, max_attempts=3, max_age_s=300, min_wait_s=30,
    )  # fmt: skip
    handler = consumer_env.handler(max_age_s=deployed.max_age_s, min_wait_s=deployed.wait_floor_s)
    consumer_env.send(make_event())
    delays: list[int] = []
    for _ in range(deployed.min_receive_count):
        response, records = consumer_env.run_batch(handler, FakeLambdaContext(0))
        if not records:
            break
        if not response["batchItemFailures"]:
            break  # dead-lettered
        delay = consumer_env.sqs.delay_for(records[0]["receiptHandle"])
        assert delay is not None
        delays.append(delay)
        consumer_env.make_visible(records)
        consumer_env.clock.advance(delay)
    (letter,) = dead_letters(consumer_env)
    assert attributes(letter)[attrs.REASON] == attrs.REASON_BUDGET
    receives = len(delays) + 1
    assert receives <= deployed.min_receive_count
    assert set(delays[:FAST_RECEIVES]) == {1}
    assert min(delays[FAST_RECEIVES:]) >= deployed.wait_floor_s


def test_a_held_sibling_waits_at_least_the_floor_too(consumer_env: ConsumerEnv) -> None:
    """A task's later message is received again with every wait of the first, so it spends receives as
    fast: past FAST_RECEIVES its wait is floored like the first message's."""
    first, second = make_event(task_id="task-a"), make_event(task_id="task-a")
    consumer_env.channel.deliveries[first.event_id] = [Retry(1, "http_503", costs_attempt=False)]
    consumer_env.send(first)
    consumer_env.send(second)
    handler = consumer_env.handler(min_wait_s=45)
    for _ in range(FAST_RECEIVES + 1):
        _, records = consumer_env.run_batch(handler)
        consumer_env.make_visible(records)
    assert int(records[1]["attributes"]["ApproximateReceiveCount"]) > FAST_RECEIVES
    assert consumer_env.sqs.delay_for(records[0]["receiptHandle"]) == 45
    assert consumer_env.sqs.delay_for(records[1]["receiptHandle"]) == 45


def test_a_retry_after_beyond_the_age_budget_dead_letters_with_the_providers_reason(
    consumer_env: ConsumerEnv,
) -> None:
    event = make_event(rate_limit_key="slack:T9")
    twelve_hours = 12 * 3600
    consumer_env.channel.deliveries[event.event_id] = [
        Retry(twelve_hours, "ratelimited", rate_limit_key="slack:T9")
    ]
    consumer_env.send(event)
    handler = consumer_env.handler()

    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    (letter,) = dead_letters(consumer_env)
    assert attributes(letter)[attrs.REASON] == attrs.REASON_BUDGET
    assert attributes(letter)[attrs.LAST_ERROR].startswith("ratelimited: the provider asks to wait 43200s")
    now = consumer_env.clock()
    horizon = handler.rate_limits.known_horizon("slack:T9", now)
    assert horizon is not None
    assert horizon <= now + consumer_env.settings.max_age_s  # the key is not held past every budget


def test_a_wait_never_outlasts_the_age_budget(consumer_env: ConsumerEnv) -> None:
    event = make_event(rate_limit_key="slack:T8")
    consumer_env.channel.deliveries[event.event_id] = [Retry(600, "ratelimited", rate_limit_key="slack:T8")]
    consumer_env.send(event)
    handler = consumer_env.handler()
    consumer_env.clock.advance(consumer_env.settings.max_age_s - 900)  # 900 s left: the 600 s wait fits

    response, records = consumer_env.run_batch(handler)
    assert failed_ids(response) == {records[0]["messageId"]}
    assert consumer_env.sqs.delay_for(records[0]["receiptHandle"]) == 600

    consumer_env.make_visible(records)
    consumer_env.clock.advance(600)  # 300 s left; the key is free again, and this time the backoff is long
    consumer_env.channel.deliveries[event.event_id] = [Retry(None, "http_502")]
    settings = replace(consumer_env.settings, backoff_base_s=2000.0, backoff_cap_s=2000.0)
    patient = make_handler(
        lambda s, c, k: consumer_env.channel, settings, consumer_env.clients, consumer_env.clock,
        random_source=lambda: 0.99,
    )  # fmt: skip
    response, records = consumer_env.run_batch(patient)
    delay = consumer_env.sqs.delay_for(records[0]["receiptHandle"])
    assert delay is not None
    assert delay <= 300 + 5  # (the real clock of the queue moved a little too)


def test_a_remembered_window_beyond_the_budget_dead_letters_instead_of_holding(
    consumer_env: ConsumerEnv, log_lines: Any
) -> None:
    event = make_event(rate_limit_key="slack:T7")
    consumer_env.send(event)
    handler = consumer_env.handler()
    handler.rate_limits.note("slack:T7", consumer_env.clock() + 5 * 3600)  # a 5 h window; the budget is 2 h

    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    (letter,) = dead_letters(consumer_env)
    assert attributes(letter)[attrs.LAST_ERROR].startswith("rate_limited: the key is held for 18000s")
    assert consumer_env.channel.delivered_calls == []
    assert consumer_env.ledger_item(event.event_id) is None  # never claimed, nothing to reset


def test_a_delivered_rate_limit_hint_is_capped_at_the_budget(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [
        Delivered(rate_limit_key="github:abc", after_seconds=12 * 3600)
    ]
    consumer_env.send(event)
    handler = consumer_env.handler()

    consumer_env.run_batch(handler)

    now = consumer_env.clock()
    horizon = handler.rate_limits.known_horizon("github:abc", now)
    assert horizon is not None
    assert horizon <= now + consumer_env.settings.max_age_s
