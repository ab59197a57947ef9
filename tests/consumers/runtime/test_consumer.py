"""The per-message flow over real SQS and DynamoDB: budgets, the DLQ, the once-only ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from consumers.runtime import dlq_attributes as attrs
from consumers.runtime.ledger import Claimed, Ledger
from consumers.runtime.outcomes import Delivered, Retry, Terminal

from .conftest import CHANNEL, ConsumerEnv, make_event


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {f["itemIdentifier"] for f in response["batchItemFailures"]}


def dead_letters(env: ConsumerEnv) -> list[dict[str, Any]]:
    return env.receive(env.settings.dlq_url)


def attributes(message: dict[str, Any]) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()}


def ledger(env: ConsumerEnv) -> Ledger:
    return Ledger(env.dynamodb, table=env.settings.ledger_table, channel=CHANNEL, claim_ttl_s=60)


def test_an_exhausted_budget_dead_letters_with_every_attribute_then_deletes(
    consumer_env: ConsumerEnv, log_lines: Any
) -> None:
    event = make_event(event_type="task_failed")
    consumer_env.channel.deliveries[event.event_id] = [Retry(None, "http_503 xoxb-123-secret")]
    consumer_env.send(event)
    handler = consumer_env.handler(max_attempts=2)

    response, records = consumer_env.run_batch(handler)
    assert failed_ids(response) == {records[0]["messageId"]}
    consumer_env.make_visible(records)
    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert consumer_env.queue_depth() == 0
    (letter,) = dead_letters(consumer_env)
    assert letter["Body"] == event.to_body()
    assert letter["Attributes"]["MessageGroupId"] == event.task_id
    got = attributes(letter)
    assert got[attrs.REASON] == attrs.REASON_BUDGET
    assert got[attrs.ATTEMPTS] == "2"
    assert got[attrs.LAST_ERROR] == "http_503 [redacted]"
    assert got[attrs.CHANNEL] == CHANNEL
    assert got[attrs.TASK_ID] == event.task_id
    assert got[attrs.EVENT_TYPE] == "task_failed"
    assert datetime.fromisoformat(got[attrs.FIRST_RECEIVED]).tzinfo is not None
    assert consumer_env.ledger_item(event.event_id) is None  # released so a redrive delivers
    assert handler.stats.dead_lettered == 1
    assert handler.stats.retries == 1
    assert consumer_env.channel.delivered_calls == [event.event_id] * 2
    assert "xoxb-123-secret" not in str(log_lines())


def test_a_terminal_outcome_dead_letters_with_its_code(consumer_env: ConsumerEnv, log_lines: Any) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [Terminal("channel_not_found")]
    consumer_env.send(event)
    handler = consumer_env.handler()

    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    (letter,) = dead_letters(consumer_env)
    assert attributes(letter)[attrs.REASON] == "terminal:channel_not_found"
    assert attributes(letter)[attrs.ATTEMPTS] == "1"
    assert consumer_env.queue_depth() == 0
    assert handler.stats.terminal == 1
    assert handler.stats.dead_lettered == 1
    keys = [line.get("event") for line in log_lines()]
    assert f"fanout.{CHANNEL}.terminal" in keys
    assert f"fanout.{CHANNEL}.dead_lettered" in keys


def test_a_malformed_body_is_dead_lettered_never_retried(consumer_env: ConsumerEnv) -> None:
    consumer_env.send(body='{"v": 1, "task_id": "task-9", "event_type": "task_created"}', group="task-9")
    consumer_env.send(body="not json at all", group="task-10")
    handler = consumer_env.handler()

    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert consumer_env.queue_depth() == 0
    letters = sorted(dead_letters(consumer_env), key=lambda m: m["Body"].startswith("not"))
    assert [attributes(m)[attrs.REASON] for m in letters] == [attrs.REASON_MALFORMED] * 2
    assert attributes(letters[0])[attrs.TASK_ID] == "task-9"
    assert attributes(letters[0])[attrs.EVENT_TYPE] == "task_created"
    assert "missing" in attributes(letters[0])[attrs.LAST_ERROR]
    assert attrs.TASK_ID not in attributes(letters[1])
    assert consumer_env.channel.delivered_calls == []
    assert handler.stats.dead_lettered == 2


def test_a_refused_dlq_send_keeps_the_message_for_a_retry(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [Terminal("invalid_auth")]
    consumer_env.sqs.refuse_dlq = True
    consumer_env.send(event)
    handler = consumer_env.handler()

    response, records = consumer_env.run_batch(handler)

    assert failed_ids(response) == {records[0]["messageId"]}
    assert consumer_env.sqs.delay_for(records[0]["receiptHandle"]) >= 1
    assert consumer_env.queue_depth() == 1
    assert dead_letters(consumer_env) == []
    assert handler.stats.dead_lettered == 0
    assert consumer_env.ledger_item(event.event_id)["state"] == {"S": "released"}

    consumer_env.sqs.refuse_dlq = False
    consumer_env.make_visible(records)
    response, _ = consumer_env.run_batch(handler)
    assert response == {"batchItemFailures": []}
    assert [attributes(m)[attrs.REASON] for m in dead_letters(consumer_env)] == ["terminal:invalid_auth"]


def test_a_duplicate_of_a_completed_event_is_skipped(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    consumer_env.send(event)
    handler = consumer_env.handler()
    consumer_env.run_batch(handler)

    consumer_env.send(event)  # the router sent it again (after SQS's dedup window)
    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert consumer_env.channel.delivered_calls == [event.event_id]
    assert handler.stats.delivered == 1
    assert handler.stats.skipped == 1


def test_a_live_claim_of_another_attempt_defers_without_an_attempt(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    held = ledger(consumer_env).claim(event.event_id, consumer_env.clock())
    assert isinstance(held, Claimed)
    consumer_env.send(event)
    consumer_env.clock.advance(15)
    handler = consumer_env.handler()

    response, records = consumer_env.run_batch(handler)

    assert failed_ids(response) == {records[0]["messageId"]}
    assert consumer_env.sqs.delay_for(records[0]["receiptHandle"]) == 45  # until the claim expires
    assert consumer_env.channel.delivered_calls == []
    assert handler.stats.deferred == 1
    assert handler.stats.retries == 0
    assert consumer_env.ledger_item(event.event_id)["attempts"] == {"N": "0"}


def test_an_expired_claim_is_reconciled_and_found_delivery_is_not_repeated(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    ledger(consumer_env).claim(event.event_id, consumer_env.clock() - 61)  # an attempt that died
    consumer_env.channel.reconciles[event.event_id] = [Delivered("found in thread")]
    consumer_env.send(event)
    handler = consumer_env.handler()

    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert consumer_env.channel.reconcile_calls == [event.event_id]
    assert consumer_env.channel.delivered_calls == []
    item = consumer_env.ledger_item(event.event_id)
    assert item["state"] == {"S": "done"}
    assert item["attempts"] == {"N": "1"}
    assert handler.stats.delivered == 1


def test_an_exception_in_deliver_is_an_uncertain_retry_that_reconciles_first(
    consumer_env: ConsumerEnv,
) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [RuntimeError("connection reset"), Delivered()]
    consumer_env.send(event)
    handler = consumer_env.handler()

    response, records = consumer_env.run_batch(handler)
    assert failed_ids(response) == {records[0]["messageId"]}
    item = consumer_env.ledger_item(event.event_id)
    assert item["uncertain"] == {"BOOL": True}
    assert item["attempts"] == {"N": "1"}
    assert "RuntimeError" in item["last_error"]["S"]
    assert consumer_env.channel.reconcile_calls == []

    consumer_env.make_visible(records)
    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert consumer_env.channel.reconcile_calls == [event.event_id]  # looked before sending again
    assert consumer_env.channel.delivered_calls == [event.event_id] * 2
    assert handler.stats.retries == 1
    assert handler.stats.delivered == 1


def test_a_redriven_dead_letter_is_delivered_not_skipped(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [Terminal("not_in_channel"), Delivered()]
    consumer_env.send(event)
    handler = consumer_env.handler()
    consumer_env.run_batch(handler)
    (letter,) = dead_letters(consumer_env)

    consumer_env.send(body=letter["Body"], group=letter["Attributes"]["MessageGroupId"])  # the redrive
    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert consumer_env.channel.delivered_calls == [event.event_id] * 2
    assert handler.stats.delivered == 1
    assert handler.stats.skipped == 0


def test_a_lost_ledger_completion_retries_and_reconciles_instead_of_sending_twice(
    consumer_env: ConsumerEnv,
) -> None:
    event = make_event()
    consumer_env.channel.reconciles[event.event_id] = [Delivered("found")]
    consumer_env.dynamodb.fail_when(
        "update_item", lambda kw: ":done" in kw.get("ExpressionAttributeValues", {})
    )
    consumer_env.send(event)
    handler = consumer_env.handler()

    response, records = consumer_env.run_batch(handler)
    assert failed_ids(response) == {records[0]["messageId"]}
    assert handler.stats.delivered == 0
    assert handler.stats.deferred == 1
    assert consumer_env.ledger_item(event.event_id)["uncertain"] == {"BOOL": True}

    consumer_env.dynamodb.heal()
    consumer_env.make_visible(records)
    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert consumer_env.channel.delivered_calls == [event.event_id]  # one real post
    assert consumer_env.channel.reconcile_calls == [event.event_id]
    assert consumer_env.ledger_item(event.event_id)["state"] == {"S": "done"}
    assert handler.stats.delivered == 1


def test_a_lost_completion_with_the_ledger_down_waits_for_the_claim_to_expire(
    consumer_env: ConsumerEnv,
) -> None:
    event = make_event()
    consumer_env.dynamodb.fail_when("update_item")
    consumer_env.send(event)

    response, records = consumer_env.run_batch(consumer_env.handler())

    assert failed_ids(response) == {records[0]["messageId"]}
    assert consumer_env.sqs.delay_for(records[0]["receiptHandle"]) == consumer_env.settings.claim_ttl_s
    assert consumer_env.ledger_item(event.event_id)["state"] == {"S": "claimed"}


def test_a_throttled_ledger_defers_without_calling_the_provider(consumer_env: ConsumerEnv) -> None:
    consumer_env.dynamodb.fail_when("put_item")
    consumer_env.send()
    handler = consumer_env.handler()

    response, records = consumer_env.run_batch(handler)

    assert failed_ids(response) == {records[0]["messageId"]}
    assert consumer_env.channel.delivered_calls == []
    assert handler.stats.deferred == 1


def test_a_message_older_than_the_max_age_is_dead_lettered(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [Retry(None, "http_502")]
    consumer_env.send(event)
    handler = consumer_env.handler()
    _, records = consumer_env.run_batch(handler)

    consumer_env.make_visible(records)
    consumer_env.clock.advance(consumer_env.settings.max_age_s + 1)
    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    (letter,) = dead_letters(consumer_env)
    assert attributes(letter)[attrs.REASON] == attrs.REASON_BUDGET
    assert attributes(letter)[attrs.LAST_ERROR] == "http_502"
    assert attributes(letter)[attrs.ATTEMPTS] == "1"
    assert consumer_env.channel.delivered_calls == [event.event_id]


def test_a_token_in_an_exception_reaches_neither_logs_nor_the_ledger(
    consumer_env: ConsumerEnv, log_lines: Any
) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [RuntimeError("auth header Bearer xoxb-999-888-zzz")]
    consumer_env.send(event)

    consumer_env.run_batch(consumer_env.handler())

    lines = log_lines()
    assert any(line.get("event") == f"fanout.{CHANNEL}.channel_raised" for line in lines)
    assert "xoxb-999" not in str(lines)
    assert "xoxb-999" not in str(consumer_env.ledger_item(event.event_id))


def test_a_refused_dlq_send_after_the_last_attempt_keeps_that_attempt_counted(
    consumer_env: ConsumerEnv,
) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [Retry(None, "http_500")]
    consumer_env.sqs.refuse_dlq = True
    consumer_env.send(event)
    handler = consumer_env.handler(max_attempts=1)

    response, records = consumer_env.run_batch(handler)
    assert failed_ids(response) == {records[0]["messageId"]}
    assert consumer_env.ledger_item(event.event_id)["attempts"] == {"N": "1"}

    consumer_env.sqs.refuse_dlq = False
    consumer_env.make_visible(records)
    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert consumer_env.channel.delivered_calls == [event.event_id]  # no second call: budget already spent
    assert [attributes(m)[attrs.REASON] for m in dead_letters(consumer_env)] == [attrs.REASON_BUDGET]


class _Crash(BaseException):
    pass


def test_a_dead_letter_leaves_the_queue_at_once_even_if_the_invocation_then_dies(
    consumer_env: ConsumerEnv,
) -> None:
    doomed, next_one = make_event(task_id="task-a"), make_event(task_id="task-b")
    consumer_env.channel.deliveries[doomed.event_id] = [Terminal("is_archived")]
    consumer_env.channel.deliveries[next_one.event_id] = [_Crash()]
    consumer_env.send(doomed)
    consumer_env.send(next_one)

    with pytest.raises(_Crash):
        consumer_env.run_batch(consumer_env.handler())

    assert len(dead_letters(consumer_env)) == 1
    assert consumer_env.queue_depth() == 1  # only the message whose invocation died


def test_a_redriven_message_dead_lettered_again_keeps_its_redrive_count(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [Terminal("channel_not_found")]
    consumer_env.send(event, attributes={attrs.REDRIVEN: "2"})

    consumer_env.run_batch(consumer_env.handler())

    (letter,) = dead_letters(consumer_env)
    assert attributes(letter)[attrs.REDRIVEN] == "2"
