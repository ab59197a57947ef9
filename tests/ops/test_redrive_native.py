"""The native engine against botocore's Stubber: moto does not implement the message move task API."""

from __future__ import annotations

import time

import pytest

from fanout.ops.errors import OpsError
from fanout.ops.redrive_native import MoveTask, cancel_move_task, redrive_native, start_move_task

DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:fanout-slack-dlq.fifo"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:fanout-slack.fifo"
LIST = {"SourceArn": DLQ_ARN, "MaxResults": 1}


@pytest.fixture
def move_task():
    def make(status: str, moved: int, to_move: int = 10, **extra) -> dict:
        task = {
            "Status": status,
            "SourceArn": DLQ_ARN,
            "DestinationArn": QUEUE_ARN,
            "ApproximateNumberOfMessagesMoved": moved,
            "ApproximateNumberOfMessagesToMove": to_move,
            "StartedTimestamp": int(time.time() * 1000),  # just started, by us
            **extra,
        }
        return {"Results": [task]}

    return make


def test_starts_the_move_and_polls_until_completed(stubs, move_task) -> None:
    sqs = stubs("sqs")
    sqs.add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-1"},
        {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN, "MaxNumberOfMessagesPerSecond": 50},
    )
    sqs.add_response("list_message_move_tasks", move_task("RUNNING", 3, TaskHandle="handle-1"), LIST)
    sqs.add_response("list_message_move_tasks", move_task("RUNNING", 7, TaskHandle="handle-1"), LIST)
    sqs.add_response("list_message_move_tasks", move_task("COMPLETED", 10), LIST)
    seen: list[MoveTask] = []
    sleeps: list[float] = []

    final = redrive_native(
        stubs.clients["sqs"],
        dlq_arn=DLQ_ARN,
        queue_arn=QUEUE_ARN,
        rate=50,
        on_progress=seen.append,
        sleep=sleeps.append,
        poll_s=2.0,
    )

    assert (final.status, final.moved, final.to_move) == ("COMPLETED", 10, 10)
    assert [(t.status, t.moved) for t in seen] == [("RUNNING", 3), ("RUNNING", 7), ("COMPLETED", 10)]
    assert sleeps == [2.0, 2.0]
    stubs.verify()


def test_without_a_rate_sqs_chooses_it(stubs) -> None:
    stubs("sqs").add_response(
        "start_message_move_task", {"TaskHandle": "h"}, {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN}
    )
    assert start_move_task(stubs.clients["sqs"], dlq_arn=DLQ_ARN, queue_arn=QUEUE_ARN) == "h"
    stubs.verify()


def test_a_failed_task_reports_why(stubs, move_task) -> None:
    sqs = stubs("sqs")
    sqs.add_response("start_message_move_task", {"TaskHandle": "h"})
    sqs.add_response(
        "list_message_move_tasks", move_task("FAILED", 4, FailureReason="AccessDenied on kms"), LIST
    )

    final = redrive_native(stubs.clients["sqs"], dlq_arn=DLQ_ARN, queue_arn=QUEUE_ARN, sleep=lambda s: None)

    assert (final.status, final.moved, final.failure_reason) == ("FAILED", 4, "AccessDenied on kms")


def test_a_refused_start_is_one_clear_error(stubs) -> None:
    stubs("sqs").add_client_error(
        "start_message_move_task", "UnsupportedOperation", "a move task is already running"
    )
    with pytest.raises(OpsError, match="UnsupportedOperation: a move task is already running"):
        start_move_task(stubs.clients["sqs"], dlq_arn=DLQ_ARN, queue_arn=QUEUE_ARN)


@pytest.mark.parametrize("rate", [0, 501])
def test_rate_must_be_within_sqs_limits(stubs, rate: int) -> None:
    with pytest.raises(OpsError, match=r"--rate must be 1\.\.500"):
        start_move_task(stubs.client("sqs"), dlq_arn=DLQ_ARN, queue_arn=QUEUE_ARN, rate=rate)


def test_cancel_stops_the_running_task(stubs, move_task) -> None:
    sqs = stubs("sqs")
    sqs.add_response("list_message_move_tasks", move_task("RUNNING", 5, TaskHandle="handle-9"), LIST)
    sqs.add_response(
        "cancel_message_move_task", {"ApproximateNumberOfMessagesMoved": 6}, {"TaskHandle": "handle-9"}
    )

    assert cancel_move_task(stubs.clients["sqs"], DLQ_ARN) == 6
    stubs.verify()


def test_cancel_without_a_running_task_is_a_clear_error(stubs, move_task) -> None:
    stubs("sqs").add_response("list_message_move_tasks", move_task("COMPLETED", 10), LIST)
    with pytest.raises(OpsError, match=r"no running message move task .* \(latest: COMPLETED\)"):
        cancel_move_task(stubs.clients["sqs"], DLQ_ARN)


def test_an_older_task_listed_first_is_not_reported_as_ours(stubs, move_task) -> None:
    sqs = stubs("sqs")
    sqs.add_response("start_message_move_task", {"TaskHandle": "mine"})
    older = move_task("COMPLETED", 7)
    older["Results"][0]["StartedTimestamp"] = int(time.time() * 1000) - 3_600_000  # an hour ago
    sqs.add_response("list_message_move_tasks", older, LIST)
    sqs.add_response("list_message_move_tasks", move_task("RUNNING", 1, TaskHandle="someone-else"), LIST)
    sqs.add_response("list_message_move_tasks", move_task("RUNNING", 2, TaskHandle="mine"), LIST)
    sqs.add_response("list_message_move_tasks", move_task("COMPLETED", 3), LIST)
    seen: list[MoveTask] = []

    final = redrive_native(
        stubs.clients["sqs"],
        dlq_arn=DLQ_ARN,
        queue_arn=QUEUE_ARN,
        on_progress=seen.append,
        sleep=lambda s: None,
    )

    assert (final.status, final.moved) == ("COMPLETED", 3)
    assert [(t.status, t.moved) for t in seen] == [("RUNNING", 2), ("COMPLETED", 3)]
    stubs.verify()
