"""The handler over a real FIFO queue: batches, groups, visibility backoff, rate-limit memory."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.runtime import lambda_entry
from consumers.runtime.outcomes import Delivered, Retry, Skipped

from .conftest import CHANNEL, ConsumerEnv, lambda_record, make_event


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {f["itemIdentifier"] for f in response["batchItemFailures"]}


def test_a_delivered_message_is_deleted_and_counted(consumer_env: ConsumerEnv, log_lines: Any) -> None:
    event = make_event()
    consumer_env.send(event)
    handler = consumer_env.handler()

    response, records = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert len(records) == 1
    assert consumer_env.queue_depth() == 0
    assert consumer_env.channel.delivered_calls == [event.event_id]
    assert handler.stats.delivered == 1
    assert len(handler.stats.latencies_ms) == 1
    assert handler.stats.latencies_ms[0] > 0
    assert consumer_env.ledger_item(event.event_id)["state"] == {"S": "done"}
    lines = [line for line in log_lines() if line.get("event") == f"fanout.{CHANNEL}.delivered"]
    assert [(line["task_id"], line["event_id"]) for line in lines] == [(event.task_id, event.event_id)]


def test_a_skip_from_prepare_is_counted_and_deleted(consumer_env: ConsumerEnv) -> None:
    consumer_env.channel.prepare_outcome = Skipped("not_a_slack_task")
    consumer_env.send()
    handler = consumer_env.handler()

    response, _ = consumer_env.run_batch(handler)

    assert response == {"batchItemFailures": []}
    assert handler.stats.skipped == 1
    assert handler.stats.delivered == 0
    assert consumer_env.channel.delivered_calls == []
    assert consumer_env.queue_depth() == 0


def test_retry_after_sets_the_visibility_and_keeps_the_message(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [Retry(30, "http_429")]
    consumer_env.send(event)
    handler = consumer_env.handler()

    response, records = consumer_env.run_batch(handler)

    assert failed_ids(response) == {records[0]["messageId"]}
    delay = consumer_env.sqs.delay_for(records[0]["receiptHandle"])
    assert delay is not None
    assert delay >= 30
    assert consumer_env.receive() == []  # invisible, not gone
    assert consumer_env.queue_depth() == 1
    assert handler.stats.retries == 1
    item = consumer_env.ledger_item(event.event_id)
    assert item["state"] == {"S": "released"}
    assert item["attempts"] == {"N": "1"}


def test_later_messages_of_a_failed_group_wait_as_long_and_other_groups_go_on(
    consumer_env: ConsumerEnv,
) -> None:
    first, second = make_event(task_id="task-a"), make_event(task_id="task-a", event_type="session_started")
    other = make_event(task_id="task-b")
    consumer_env.channel.deliveries[first.event_id] = [Retry(45, "http_429")]
    for event in (first, second, other):
        consumer_env.send(event)
    handler = consumer_env.handler()

    response, records = consumer_env.run_batch(handler)

    by_event = {r["body"]: r for r in records}
    first_rec, second_rec = by_event[first.to_body()], by_event[second.to_body()]
    assert failed_ids(response) == {first_rec["messageId"], second_rec["messageId"]}
    assert consumer_env.sqs.delay_for(first_rec["receiptHandle"]) == 45
    assert consumer_env.sqs.delay_for(second_rec["receiptHandle"]) == 45
    assert consumer_env.channel.delivered_calls == [first.event_id, other.event_id]
    assert handler.stats.delivered == 1
    assert handler.stats.deferred == 1
    assert consumer_env.queue_depth() == 2


def test_a_batch_where_everything_waits_is_a_partial_response_not_an_error(consumer_env: ConsumerEnv) -> None:
    events = [make_event(), make_event()]
    for event in events:
        consumer_env.channel.deliveries[event.event_id] = [Retry(None, "http_503")]
        consumer_env.send(event)

    response, records = consumer_env.run_batch(consumer_env.handler())

    assert failed_ids(response) == {r["messageId"] for r in records}
    assert all(consumer_env.sqs.delay_for(r["receiptHandle"]) >= 1 for r in records)


def test_rate_limit_memory_defers_other_messages_for_the_key_without_calling(
    consumer_env: ConsumerEnv,
) -> None:
    limited, waiting = make_event(rate_limit_key="slack:T1"), make_event(rate_limit_key="slack:T1")
    free = make_event(rate_limit_key="slack:T2")
    consumer_env.channel.deliveries[limited.event_id] = [
        Retry(30, "ratelimited", rate_limit_key="slack:T1"),
        Delivered(),
    ]
    for event in (limited, waiting, free):
        consumer_env.send(event)
    handler = consumer_env.handler()

    response, records = consumer_env.run_batch(handler)

    assert consumer_env.channel.delivered_calls == [limited.event_id, free.event_id]
    waiting_rec = next(r for r in records if r["body"] == waiting.to_body())
    assert waiting_rec["messageId"] in failed_ids(response)
    assert consumer_env.sqs.delay_for(waiting_rec["receiptHandle"]) == 30
    assert handler.stats.rate_limited == 1
    assert handler.stats.retries == 1

    consumer_env.make_visible(records)  # redelivered early: still inside the horizon
    consumer_env.clock.advance(10)
    response, records = consumer_env.run_batch(handler)
    assert len(records) == 2
    assert len(failed_ids(response)) == 2
    assert consumer_env.channel.delivered_calls == [limited.event_id, free.event_id]
    assert {consumer_env.sqs.delay_for(r["receiptHandle"]) for r in records} == {20}
    # the attempt count is untouched by deferrals
    assert consumer_env.ledger_item(limited.event_id)["attempts"] == {"N": "1"}

    consumer_env.make_visible(records)
    consumer_env.clock.advance(21)
    response, _ = consumer_env.run_batch(handler)
    assert response == {"batchItemFailures": []}
    assert sorted(consumer_env.channel.delivered_calls) == sorted(
        [limited.event_id, free.event_id, limited.event_id, waiting.event_id]
    )
    assert handler.stats.delivered == 3


def test_rate_limit_memory_belongs_to_one_container(consumer_env: ConsumerEnv) -> None:
    limited, other = make_event(rate_limit_key="k"), make_event(rate_limit_key="k")
    consumer_env.channel.deliveries[limited.event_id] = [Retry(30, "ratelimited", rate_limit_key="k")]
    consumer_env.send(limited)
    first_container, second_container = consumer_env.handler(), consumer_env.handler()
    consumer_env.run_batch(first_container)

    consumer_env.send(other)
    response, _ = consumer_env.run_batch(second_container)

    assert response == {"batchItemFailures": []}
    assert consumer_env.channel.delivered_calls == [limited.event_id, other.event_id]
    assert first_container.rate_limits.horizon("k", consumer_env.clock()) is not None
    assert second_container.rate_limits.horizon("k", consumer_env.clock()) is None


def test_lambda_handler_for_builds_once_from_the_environment(
    consumer_env: ConsumerEnv, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = consumer_env.settings
    env = {
        "FANOUT_CHANNEL": "slack",
        "FANOUT_QUEUE_URL": s.queue_url,
        "FANOUT_DLQ_URL": s.dlq_url,
        "FANOUT_TASK_TABLE": s.task_table,
        "FANOUT_LEDGER_TABLE": s.ledger_table,
        "AWS_ENDPOINT_URL": moto_endpoint,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    built: list[str] = []

    def factory(settings: Any, clients: Any, clock: Any) -> Any:
        built.append(settings.channel)
        return consumer_env.channel

    entry = lambda_entry.lambda_handler_for(factory)
    for _ in range(2):
        event = make_event()
        consumer_env.send(event)
        messages = consumer_env.receive()
        response = entry({"Records": [lambda_record(m, consumer_env.queue_arn) for m in messages]}, None)
        assert response == {"batchItemFailures": []}

    assert built == ["slack"]
    assert len(consumer_env.channel.delivered_calls) == 2
    item = consumer_env.dynamodb.get_item(
        TableName=s.ledger_table, Key={"pk": {"S": f"slack#{event.event_id}"}}
    )["Item"]
    assert item["state"] == {"S": "done"}


def test_a_rate_limit_on_the_last_attempt_still_holds_the_keys_other_messages(
    consumer_env: ConsumerEnv,
) -> None:
    last, waiting = make_event(rate_limit_key="github:abc"), make_event(rate_limit_key="github:abc")
    consumer_env.channel.deliveries[last.event_id] = [
        Retry(600, "rate_limited_403", rate_limit_key="github:abc")
    ]
    consumer_env.send(last)
    consumer_env.send(waiting)
    handler = consumer_env.handler(max_attempts=1)

    response, records = consumer_env.run_batch(handler)

    assert consumer_env.channel.delivered_calls == [last.event_id]  # the other one made no call
    assert handler.stats.dead_lettered == 1
    waiting_rec = next(r for r in records if r["body"] == waiting.to_body())
    assert failed_ids(response) == {waiting_rec["messageId"]}
    assert consumer_env.sqs.delay_for(waiting_rec["receiptHandle"]) == 600


def test_a_delivery_whose_later_call_was_rate_limited_still_holds_the_key(consumer_env: ConsumerEnv) -> None:
    first, second = make_event(rate_limit_key="slack:T1"), make_event(rate_limit_key="slack:T1")
    consumer_env.channel.deliveries[first.event_id] = [Delivered(rate_limit_key="slack:T1", after_seconds=20)]
    consumer_env.send(first)
    consumer_env.send(second)
    handler = consumer_env.handler()

    response, records = consumer_env.run_batch(handler)

    assert consumer_env.channel.delivered_calls == [first.event_id]
    assert handler.stats.delivered == 1
    assert consumer_env.ledger_item(first.event_id)["state"] == {"S": "done"}
    waiting = next(r for r in records if r["body"] == second.to_body())
    assert failed_ids(response) == {waiting["messageId"]}
    assert consumer_env.sqs.delay_for(waiting["receiptHandle"]) == 20
