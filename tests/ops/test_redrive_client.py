from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from consumers.runtime import dlq_attributes as attr
from fanout.ops.filters import RedriveFilter
from fanout.ops.messages import REDRIVEN_ATTRIBUTE
from fanout.ops.redrive_client import RedriveProgress, dedup_id, redrive_client

from .conftest import depth, drain


class FaultySQS:
    """A real client whose send_message / delete_message fail for the messages a predicate picks."""

    def __init__(
        self, real: Any, *, fail_send=lambda params: False, fail_delete=lambda params: False
    ) -> None:
        self.real = real
        self.fail_send = fail_send
        self.fail_delete = fail_delete
        self.sent: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def send_message(self, **params: Any) -> Any:
        if self.fail_send(params):
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "SendMessage")
        self.sent.append(params)
        return self.real.send_message(**params)

    def delete_message(self, **params: Any) -> Any:
        if self.fail_delete(params):
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "DeleteMessage")
        return self.real.delete_message(**params)


def _task(message: dict[str, Any]) -> str:
    return json.loads(message["Body"])["task_id"]


def test_moves_every_message_keeping_body_group_and_attributes(aws_client, local_run, dead_letter) -> None:
    sqs, run = aws_client("sqs"), local_run()
    dlq, queue = run.dlq_urls["slack"], run.queue_urls["slack"]
    sent = [dead_letter(dlq, task_id="task-a", event_type=t) for t in ("task_created", "session_started")]
    sent.append(dead_letter(dlq, task_id="task-b", reason="terminal:channel_not_found"))
    progress: list[RedriveProgress] = []

    result = redrive_client(sqs, dlq, queue, dry_run=False, on_progress=progress.append, wait_s=0)

    assert (result.examined, result.matched, result.moved, result.ok) == (3, 3, 3, True)
    assert depth(sqs, dlq) == (0, 0)
    moved = drain(sqs, queue)
    assert [m["Body"] for m in moved] == [s["MessageBody"] for s in sent]
    assert [m["Attributes"]["MessageGroupId"] for m in moved] == ["task-a", "task-a", "task-b"]
    for message, original in zip(moved, sent, strict=True):
        dedup = message["Attributes"]["MessageDeduplicationId"]
        assert dedup != original["MessageDeduplicationId"]
        assert uuid.UUID(dedup)
        attributes = message["MessageAttributes"]
        for name, value in original["MessageAttributes"].items():
            assert attributes[name]["StringValue"] == value["StringValue"]
        assert attributes[REDRIVEN_ATTRIBUTE]["StringValue"] == "1"
    assert progress[-1] == RedriveProgress(examined=3, matched=3, moved=3, total=3)


def test_filters_move_only_matches_and_give_the_rest_back_at_once(aws_client, local_run, dead_letter) -> None:
    sqs, run = aws_client("sqs"), local_run()
    dlq, queue = run.dlq_urls["github"], run.queue_urls["github"]
    dead_letter(dlq, task_id="t1", reason="terminal:401 bad credentials", event_type="pr_created")
    dead_letter(dlq, task_id="t2", reason="terminal:401 bad credentials", event_type="task_completed")
    dead_letter(dlq, task_id="t3", reason=attr.REASON_BUDGET, event_type="pr_created")
    dead_letter(dlq, task_id="t4", reason=attr.REASON_MALFORMED, event_type="pr_created")

    result = redrive_client(sqs, dlq, queue, RedriveFilter(reason="401", event_type="pr_created"), wait_s=0)

    assert (result.examined, result.matched, result.moved) == (4, 1, 1)
    assert [_task(m) for m in drain(sqs, queue)] == ["t1"]
    assert depth(sqs, dlq) == (3, 0)  # the rest are visible again right away, not held until a timeout
    by_task = redrive_client(sqs, dlq, queue, RedriveFilter(task_id="t4"), wait_s=0)
    assert (by_task.matched, by_task.malformed_kept) == (0, 1)  # malformed stays unless asked for
    assert depth(sqs, queue) == (0, 0)
    forced = redrive_client(sqs, dlq, queue, RedriveFilter(task_id="t4"), include_malformed=True, wait_s=0)
    assert [letter.task_id for letter in forced.matches] == ["t4"]
    assert [_task(m) for m in drain(sqs, queue)] == ["t4"]


def test_dry_run_lists_matches_and_changes_nothing(aws_client, local_run, dead_letter) -> None:
    sqs, run = aws_client("sqs"), local_run()
    dlq, queue = run.dlq_urls["slack"], run.queue_urls["slack"]
    for task in ("t1", "t2"):
        dead_letter(dlq, task_id=task)

    result = redrive_client(sqs, dlq, queue, RedriveFilter(task_id="t2"), dry_run=True, wait_s=0)

    assert result.dry_run
    assert result.moved == 0
    assert [letter.task_id for letter in result.matches] == ["t2"]
    assert depth(sqs, queue) == (0, 0)
    assert depth(sqs, dlq) == (2, 0)
    assert sorted(_task(m) for m in drain(sqs, dlq)) == ["t1", "t2"]


def test_older_than_uses_the_time_since_dead_lettering(aws_client, local_run, dead_letter) -> None:
    sqs, run = aws_client("sqs"), local_run()
    dlq, queue = run.dlq_urls["slack"], run.queue_urls["slack"]
    dead_letter(dlq, task_id="t1")
    old = RedriveFilter(older_than=timedelta(hours=2))
    now = datetime.now(UTC)

    assert redrive_client(sqs, dlq, queue, old, clock=lambda: now, wait_s=0).moved == 0
    later = redrive_client(sqs, dlq, queue, old, clock=lambda: now + timedelta(hours=3), wait_s=0)
    assert later.moved == 1
    assert [_task(m) for m in drain(sqs, queue)] == ["t1"]


def test_a_failed_send_leaves_the_message_and_the_rest_of_its_task_in_the_dlq(
    aws_client, local_run, dead_letter
) -> None:
    real, run = aws_client("sqs"), local_run()
    dlq, queue = run.dlq_urls["slack"], run.queue_urls["slack"]
    first = dead_letter(dlq, task_id="broken", event_type="task_created")
    dead_letter(dlq, task_id="broken", event_type="session_started")
    dead_letter(dlq, task_id="fine", event_type="task_created")
    sqs = FaultySQS(real, fail_send=lambda p: p["MessageBody"] == first["MessageBody"])

    result = redrive_client(sqs, dlq, queue, wait_s=0)

    assert not result.ok
    assert len(result.failed) == 1
    assert "injected" in result.failed[0]
    assert result.moved == 1
    assert [_task(m) for m in drain(real, queue)] == ["fine"]
    left = drain(real, dlq)  # both of the broken task's events, still in order
    assert [json.loads(m["Body"])["event_type"] for m in left] == ["task_created", "session_started"]


def test_a_failed_delete_may_duplicate_but_never_loses(aws_client, local_run, dead_letter) -> None:
    real, run = aws_client("sqs"), local_run()
    dlq, queue = run.dlq_urls["slack"], run.queue_urls["slack"]
    dead_letter(dlq, task_id="t1")
    sqs = FaultySQS(real, fail_delete=lambda p: True)

    first = redrive_client(sqs, dlq, queue, wait_s=0, visibility_timeout=0)

    assert first.moved == 1
    assert len(first.delete_failed) == 1
    assert depth(real, queue)[0] == 1
    assert depth(real, dlq)[0] == 1  # the delete failed, so it is in both places: a duplicate, not a loss
    again = redrive_client(real, dlq, queue, wait_s=0)
    assert again.moved == 1
    assert again.ok
    assert depth(real, dlq) == (0, 0)
    # the retried move reuses its dedup id, so within SQS's window the queue holds the message once
    assert [m["Attributes"]["MessageDeduplicationId"] for m in drain(real, queue)] == [
        dedup_id(again.matches[0])
    ]


def test_a_task_with_more_than_one_receive_of_messages_moves_in_order(
    aws_client, local_run, dead_letter
) -> None:
    sqs, run = aws_client("sqs"), local_run()
    dlq, queue = run.dlq_urls["slack"], run.queue_urls["slack"]
    ids = [
        dead_letter(dlq, task_id="big", event_id=f"evt-{i:02}")["MessageDeduplicationId"] for i in range(23)
    ]

    result = redrive_client(sqs, dlq, queue, wait_s=0)

    assert result.moved == 23
    assert [json.loads(m["Body"])["event_id"] for m in drain(sqs, queue)] == ids


def test_limit_moves_at_most_that_many(aws_client, local_run, dead_letter) -> None:
    sqs, run = aws_client("sqs"), local_run()
    dlq, queue = run.dlq_urls["slack"], run.queue_urls["slack"]
    for task in ("t1", "t2", "t3"):
        dead_letter(dlq, task_id=task)

    result = redrive_client(sqs, dlq, queue, limit=1, wait_s=0)

    assert result.moved == 1
    assert depth(sqs, queue) == (1, 0)
    assert depth(sqs, dlq) == (2, 0)
    assert result.reached_limit
    assert result.unexamined == 2  # the summary says what the canary left behind


def test_a_message_redriven_twice_counts_its_redrives(aws_client, local_run, dead_letter) -> None:
    sqs, run = aws_client("sqs"), local_run()
    dlq, queue = run.dlq_urls["slack"], run.queue_urls["slack"]
    dead_letter(dlq, task_id="t1")
    redrive_client(sqs, dlq, queue, wait_s=0)
    (back,) = drain(sqs, queue)
    # the consumer fails it again and dead-letters it with the attributes it carried
    sqs.send_message(
        QueueUrl=dlq,
        MessageBody=back["Body"],
        MessageGroupId="t1",
        MessageDeduplicationId="again",
        MessageAttributes={
            k: {"DataType": v["DataType"], "StringValue": v["StringValue"]}
            for k, v in back["MessageAttributes"].items()
        },
    )

    redrive_client(sqs, dlq, queue, wait_s=0)

    (twice,) = drain(sqs, queue)
    assert twice["MessageAttributes"][REDRIVEN_ATTRIBUTE]["StringValue"] == "2"


@pytest.mark.parametrize("crash_first_pass", [False, True])
def test_poison_scenario_fault_fixed_redrive_delivers_each_event_once(
    aws_client, local_run, dead_letter, crash_first_pass: bool
) -> None:
    """A consumer's fault dead-letters a batch; once fixed, a redrive gets every event delivered exactly
    once, even when the first redrive pass loses its deletes (the ledger absorbs the duplicates)."""
    real, run = aws_client("sqs"), local_run()
    dlq, queue = run.dlq_urls["slack"], run.queue_urls["slack"]
    events = [
        dead_letter(dlq, task_id=f"task-{t}", event_type=kind, reason="terminal:invalid_auth")[
            "MessageDeduplicationId"
        ]
        for t in range(3)
        for kind in ("task_created", "session_started", "task_completed")
    ]
    if crash_first_pass:
        redrive_client(
            FaultySQS(real, fail_delete=lambda p: True), dlq, queue, wait_s=0, visibility_timeout=0
        )
    result = redrive_client(real, dlq, queue, RedriveFilter(reason="invalid_auth"), wait_s=0)
    assert result.ok

    ledger: set[str] = set()
    delivered: list[str] = []
    for message in drain(real, queue):  # the fixed consumer: once-only per (channel, event id)
        event_id = json.loads(message["Body"])["event_id"]
        if event_id not in ledger:
            ledger.add(event_id)
            delivered.append(event_id)

    assert sorted(delivered) == sorted(events)
    assert depth(real, dlq) == (0, 0)
