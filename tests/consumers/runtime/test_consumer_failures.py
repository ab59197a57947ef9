"""The runtime's own failure paths over real SQS and DynamoDB: dead-letters without a claim, exceptions
outside the channel, the invocation running out of time, a throttled ledger after a rate limit."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.runtime import dlq_attributes as attrs
from consumers.runtime.applying import REDRIVE_RELEASE_TRIES
from consumers.runtime.consumer import OUT_OF_TIME
from consumers.runtime.ledger import Claimed
from consumers.runtime.outcomes import Delivered, Retry, Terminal

from .conftest import CHANNEL, ConsumerEnv, FakeLambdaContext, make_event
from .test_consumer import attributes, dead_letters, failed_ids, ledger


def leave_uncertain(env: ConsumerEnv, event_id: str) -> None:
    """An earlier attempt that may have posted: released, uncertain, one attempt spent."""
    claim = ledger(env).claim(event_id, env.clock() - 30)
    assert isinstance(claim, Claimed)
    assert ledger(env).release(
        event_id, claim.claim_id, attempt_failed=True, uncertain=True, last_error="timeout", now=env.clock()
    )


def redrive(env: ConsumerEnv, letter: dict[str, Any]) -> None:
    env.send(body=letter["Body"], group=letter["Attributes"]["MessageGroupId"])


def log_keys(lines: list[dict[str, Any]]) -> list[Any]:
    return [line.get("event") for line in lines]


# -- 1. a dead letter without a claim keeps an earlier uncertainty --------------------------------------


def test_a_terminal_from_prepare_keeps_an_earlier_uncertainty_so_the_redrive_reconciles(
    consumer_env: ConsumerEnv,
) -> None:
    event = make_event()
    leave_uncertain(consumer_env, event.event_id)
    consumer_env.channel.prepare_outcome = Terminal("config_error")
    consumer_env.send(event)
    handler = consumer_env.handler()

    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    (letter,) = dead_letters(consumer_env)
    assert attributes(letter)[attrs.REASON] == "terminal:config_error"
    item = consumer_env.ledger_item(event.event_id)
    assert item is not None
    assert (item["state"], item["uncertain"], item["attempts"]) == (
        {"S": "released"},
        {"BOOL": True},
        {"N": "0"},
    )

    consumer_env.channel.prepare_outcome = None  # the operator fixed the config, then redrives
    consumer_env.channel.reconciles[event.event_id] = [Delivered("found in thread")]
    redrive(consumer_env, letter)
    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert consumer_env.channel.reconcile_calls == [event.event_id]
    assert consumer_env.channel.delivered_calls == []  # the earlier post was found: no duplicate
    assert consumer_env.ledger_item(event.event_id)["state"] == {"S": "done"}


def test_a_redrive_after_an_unclaimed_dead_letter_reconciles_before_it_delivers(
    consumer_env: ConsumerEnv,
) -> None:
    event = make_event()
    leave_uncertain(consumer_env, event.event_id)
    consumer_env.channel.prepare_outcome = Terminal("config_error")
    consumer_env.send(event)
    handler = consumer_env.handler()
    consumer_env.run_batch(handler)
    (letter,) = dead_letters(consumer_env)

    consumer_env.channel.prepare_outcome = None
    redrive(consumer_env, letter)
    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert consumer_env.channel.reconcile_calls == [event.event_id]  # looked first, found nothing
    assert consumer_env.channel.delivered_calls == [event.event_id]  # then posted, with fresh attempts
    assert handler.stats.delivered == 1


def test_a_terminal_from_prepare_still_forgets_a_certain_failure(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    claim = ledger(consumer_env).claim(event.event_id, consumer_env.clock())
    assert isinstance(claim, Claimed)
    ledger(consumer_env).release(
        event.event_id, claim.claim_id, attempt_failed=True, uncertain=False, last_error="x", now=0
    )
    consumer_env.channel.prepare_outcome = Terminal("config_error")
    consumer_env.send(event)

    consumer_env.run_batch(consumer_env.handler())

    assert len(dead_letters(consumer_env)) == 1
    assert consumer_env.ledger_item(event.event_id) is None


# -- 2. exceptions outside the channel ------------------------------------------------------------------


def test_a_body_too_deeply_nested_to_parse_is_dead_lettered_as_malformed(consumer_env: ConsumerEnv) -> None:
    depth = 60_000  # far beyond the interpreter's recursion limit: json raises RecursionError
    consumer_env.send(body="[" * depth + "]" * depth, group="task-deep")
    handler = consumer_env.handler()

    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert consumer_env.queue_depth() == 0
    (letter,) = dead_letters(consumer_env)
    got = attributes(letter)
    assert got[attrs.REASON] == attrs.REASON_MALFORMED
    assert got[attrs.LAST_ERROR].startswith("RecursionError")
    assert handler.stats.dead_lettered == 1


def test_an_exception_while_applying_defers_the_message_and_its_group(
    consumer_env: ConsumerEnv, log_lines: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = make_event(task_id="task-a"), make_event(task_id="task-a", event_type="session_started")
    other = make_event(task_id="task-b")
    for event in (first, second, other):
        consumer_env.send(event)
    handler = consumer_env.handler()
    real_delivered = handler.telemetry.delivered

    def delivered(event: Any, **kwargs: Any) -> None:
        if event.event_id == first.event_id:
            raise RuntimeError("telemetry broke")
        real_delivered(event, **kwargs)

    monkeypatch.setattr(handler.telemetry, "delivered", delivered)

    response, records = consumer_env.run_batch(handler)

    by_body = {r["body"]: r for r in records}
    first_rec, second_rec = by_body[first.to_body()], by_body[second.to_body()]
    assert failed_ids(response) == {first_rec["messageId"], second_rec["messageId"]}
    delay = consumer_env.sqs.delay_for(first_rec["receiptHandle"])
    assert delay is not None
    assert delay >= 1
    assert consumer_env.sqs.delay_for(second_rec["receiptHandle"]) == delay  # not the queue's 180 s
    assert consumer_env.channel.delivered_calls == [first.event_id, other.event_id]
    assert f"fanout.{CHANNEL}.runtime_error" in log_keys(log_lines())
    assert handler.stats.deferred == 2  # the failed message and its held sibling


# -- 3. the invocation running out of time --------------------------------------------------------------


def test_records_are_not_started_when_the_invocation_is_nearly_out_of_time(consumer_env: ConsumerEnv) -> None:
    events = [make_event(task_id="task-a"), make_event(task_id="task-b"), make_event(task_id="task-b")]
    for event in events:
        consumer_env.send(event)
    handler = consumer_env.handler()
    margin_ms = int(consumer_env.settings.record_margin_s * 1000)
    plenty, short = margin_ms + 5_000, margin_ms - 1
    context = FakeLambdaContext(plenty, short)

    response, records = consumer_env.run_batch(handler, context)

    started = next(e for e in events if e.to_body() == records[0]["body"])
    assert consumer_env.channel.delivered_calls == [started.event_id]
    assert failed_ids(response) == {r["messageId"] for r in records[1:]}
    assert {consumer_env.sqs.delay_for(r["receiptHandle"]) for r in records[1:]} == {1}
    assert handler.stats.deferred == 2
    assert handler.stats.retries == 0
    for event in events:
        if event is not started:
            assert consumer_env.ledger_item(event.event_id) is None  # never claimed: no attempt spent
    assert context.calls >= 2


def test_an_out_of_time_deferral_is_logged_with_its_reason(consumer_env: ConsumerEnv, log_lines: Any) -> None:
    consumer_env.send()
    handler = consumer_env.handler()

    response, records = consumer_env.run_batch(handler, FakeLambdaContext(0))

    assert failed_ids(response) == {records[0]["messageId"]}
    assert consumer_env.channel.delivered_calls == []
    deferred = [line for line in log_lines() if line.get("event") == f"fanout.{CHANNEL}.deferred"]
    assert [line["reason"] for line in deferred] == [OUT_OF_TIME]


# -- 4. the rate-limit horizon after a throttled release ------------------------------------------------


def test_a_failed_release_stretches_the_message_but_not_the_rate_limit_horizon(
    consumer_env: ConsumerEnv,
) -> None:
    event = make_event(rate_limit_key="slack:T1")
    consumer_env.channel.deliveries[event.event_id] = [Retry(30, "ratelimited", rate_limit_key="slack:T1")]
    consumer_env.dynamodb.fail_when(
        "update_item", lambda kw: ":claimed" in kw.get("ExpressionAttributeValues", {})
    )
    consumer_env.send(event)
    handler = consumer_env.handler(claim_ttl_s=300)

    response, records = consumer_env.run_batch(handler)

    assert failed_ids(response) == {records[0]["messageId"]}
    assert consumer_env.sqs.delay_for(records[0]["receiptHandle"]) == 300  # until its own claim expires
    now = consumer_env.clock()
    assert handler.rate_limits.horizon("slack:T1", now) == now + 30  # the workspace waits Slack's 30 s


# -- 5. resetting the ledger for a redrive is retried ---------------------------------------------------


def test_a_throttled_redrive_release_is_retried_at_once(consumer_env: ConsumerEnv, log_lines: Any) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [Terminal("channel_not_found")]
    for _ in range(REDRIVE_RELEASE_TRIES - 1):
        consumer_env.dynamodb.fail_once("delete_item", lambda _: True)
    consumer_env.send(event)

    response, _ = consumer_env.run_batch(consumer_env.handler())

    assert response == {"batchItemFailures": []}
    assert consumer_env.dynamodb.failed == REDRIVE_RELEASE_TRIES - 1
    assert consumer_env.ledger_item(event.event_id) is None  # reset: a redrive delivers
    assert f"fanout.{CHANNEL}.ledger_release_failed" not in log_keys(log_lines())


def test_a_redrive_release_that_keeps_failing_is_logged_once(
    consumer_env: ConsumerEnv, log_lines: Any
) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [Terminal("channel_not_found")]
    consumer_env.dynamodb.fail_when("delete_item")
    consumer_env.send(event)

    response, _ = consumer_env.run_batch(consumer_env.handler())

    assert response == {"batchItemFailures": []}
    assert len(dead_letters(consumer_env)) == 1
    assert consumer_env.queue_depth() == 0
    assert consumer_env.dynamodb.failed == REDRIVE_RELEASE_TRIES
    failures = [
        line for line in log_lines() if line.get("event") == f"fanout.{CHANNEL}.ledger_release_failed"
    ]
    assert len(failures) == 1
    assert "ThrottlingException" in failures[0]["reason"]
