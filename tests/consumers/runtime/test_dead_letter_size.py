"""The DLQ accepts every message its queue accepts: both take SQS's largest message (1 MiB, set by the
stack), a body at the router's limit dead-letters with all its attributes, a body at the queue's limit
with attributes cut to fit, and a DLQ that refuses anyway is retried with a bound and an alarm."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.runtime import dlq_attributes as attrs
from consumers.runtime.dead_letter import DeadLetter, fitted, message_attributes, message_size
from consumers.runtime.outcomes import Terminal
from consumers.runtime.telemetry import Telemetry
from fanout.registry import FAST_RECEIVES, SQS_MAX_MESSAGE_BYTES
from fanout.router.plan import MAX_BODY_BYTES

from .conftest import ConsumerEnv, make_event
from .test_consumer import attributes, dead_letters, failed_ids


def letter(error: str = "x" * 5000) -> DeadLetter:
    return DeadLetter(
        reason="terminal:http_422", last_error=error, attempts=3, first_received_at=1.8e9,
        channel="github", task_id="t" * 200, event_type="task_completed", redriven=2,
    )  # fmt: skip


def test_a_body_at_the_routers_limit_dead_letters_with_every_attribute(consumer_env: ConsumerEnv) -> None:
    dlq_size = int(
        consumer_env.raw_sqs.get_queue_attributes(
            QueueUrl=consumer_env.settings.dlq_url, AttributeNames=["MaximumMessageSize"]
        )["Attributes"]["MaximumMessageSize"]
    )
    assert (
        dlq_size == SQS_MAX_MESSAGE_BYTES
    )  # as the stack sets it (test_least_privilege checks the template)
    body = "{" + "x" * (MAX_BODY_BYTES - 1)  # unparseable: dead-lettered as malformed, the whole body kept
    consumer_env.send(body=body, group="task-big")

    response, _ = consumer_env.run_batch(consumer_env.handler())

    assert response == {"batchItemFailures": []}
    (dead,) = dead_letters(consumer_env)
    assert dead["Body"] == body
    assert attributes(dead)[attrs.REASON] == attrs.REASON_MALFORMED
    sent = {
        k: {"DataType": v["DataType"], "StringValue": v["StringValue"]}
        for k, v in dead["MessageAttributes"].items()
    }
    assert 256 * 1024 < message_size(body, sent) <= SQS_MAX_MESSAGE_BYTES  # would not fit SQS's old 256 KiB


def test_attributes_are_cut_to_fit_a_body_at_the_queues_own_limit() -> None:
    full = message_attributes(letter())
    body = "b" * (SQS_MAX_MESSAGE_BYTES - 600)  # the source queue took it (with smaller attributes)
    assert message_size(body, full) > SQS_MAX_MESSAGE_BYTES

    fit = fitted(body, full, SQS_MAX_MESSAGE_BYTES)

    assert message_size(body, fit) <= SQS_MAX_MESSAGE_BYTES
    assert fit[attrs.REASON] == full[attrs.REASON]
    assert fit[attrs.LAST_ERROR]["StringValue"] == "x" * len(fit[attrs.LAST_ERROR]["StringValue"])
    tight = fitted("b" * (SQS_MAX_MESSAGE_BYTES - 30), full, SQS_MAX_MESSAGE_BYTES)
    assert list(tight) == [attrs.REASON]
    assert fitted("small", full, SQS_MAX_MESSAGE_BYTES) == full


def test_a_refused_dlq_send_is_counted_for_the_alarm_and_bounded_by_the_wait_floor(
    consumer_env: ConsumerEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics: list[str] = []
    original = Telemetry._metric

    def record(self: Telemetry, name: str) -> None:
        metrics.append(name)
        original(self, name)

    monkeypatch.setattr(Telemetry, "_metric", record)
    event = make_event()
    consumer_env.channel.deliveries[event.event_id] = [Terminal("invalid_auth")]
    consumer_env.sqs.refuse_dlq = True
    consumer_env.send(event)
    handler = consumer_env.handler(min_wait_s=40)

    records: list[dict[str, Any]] = []
    for _ in range(FAST_RECEIVES + 1):
        response, records = consumer_env.run_batch(handler)
        assert failed_ids(response) == {records[0]["messageId"]}
        consumer_env.make_visible(records)

    assert metrics.count("DeadLetterFailed") == FAST_RECEIVES + 1
    # past FAST_RECEIVES receives the retries are floored, so maxReceiveCount (checked at synth) bounds them
    assert consumer_env.sqs.delay_for(records[0]["receiptHandle"]) >= 40
    assert dead_letters(consumer_env) == []
