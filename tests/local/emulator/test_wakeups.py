from __future__ import annotations

import threading

import pytest

from fanout.local.emulator.sqs import IDLE_POLL_S, ChannelPoller
from fanout.local.emulator.wakeups import LATENCY_S, VisibilityWakeups
from tests.clock import FakeClock
from tests.local.emulator.test_sqs import make_queue, send, source


class RecordingStop(threading.Event):
    """A stop event that records how long each idle wait asked for, and never blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return False


def test_next_after_gives_the_earliest_future_visibility_and_forgets_the_past() -> None:
    clock = FakeClock(100.0)
    board = VisibilityWakeups(clock)
    board.note(3)
    board.note(1)
    assert board.next_after(100.0) == pytest.approx(101 + LATENCY_S)
    assert board.next_after(101.5) == pytest.approx(103 + LATENCY_S)  # the 1 s one has passed
    assert board.next_after(104.0) is None


def test_the_consumers_visibility_changes_are_heard_single_and_batch(aws_client, unique_name) -> None:
    url, _ = make_queue(aws_client, unique_name)
    for n in range(2):
        send(aws_client, url, f"m{n}", group=f"g{n}")
    sqs = aws_client("sqs")
    clock = FakeClock(1000.0)
    board = VisibilityWakeups(clock)
    board.watch(sqs)
    handles = [
        m["ReceiptHandle"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert len(handles) == 2

    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handles[0], VisibilityTimeout=7)
    sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "ReceiptHandle": handles[1], "VisibilityTimeout": 4},
            {"Id": "b", "ReceiptHandle": handles[1], "VisibilityTimeout": 0},  # visible now: no wake-up
        ],
    )

    assert board.next_after(1000.0) == pytest.approx(1004 + LATENCY_S)
    assert board.next_after(1005.0) == pytest.approx(1007 + LATENCY_S)
    assert board.next_after(1008.0) is None


def test_an_idle_poller_wakes_when_a_message_comes_back_not_after_its_backoff(
    aws_client, unique_name
) -> None:
    url, arn = make_queue(aws_client, unique_name)
    clock = FakeClock(1000.0)
    board = VisibilityWakeups(clock)
    poller = ChannelPoller(source(url, arn), [lambda e, c: {}], [aws_client("sqs")], board)
    stop = RecordingStop()

    idle = poller._idle_wait(stop, len(IDLE_POLL_S))  # nothing due: the longest backoff step
    assert (idle, stop.waits[-1]) == (len(IDLE_POLL_S) + 1, IDLE_POLL_S[-1])

    board.note(0.05)  # a message comes back sooner than the backoff step
    idle = poller._idle_wait(stop, len(IDLE_POLL_S))
    assert idle == 0  # the backoff starts over
    assert stop.waits[-1] == pytest.approx(0.05 + LATENCY_S)

    clock.advance(0.1)
    board.note(5)  # comes back later than the step: the step wins
    idle = poller._idle_wait(stop, 1)
    assert (idle, stop.waits[-1]) == (2, IDLE_POLL_S[1])


def test_a_malformed_request_is_left_to_botocore_and_schedules_nothing() -> None:
    board = VisibilityWakeups(FakeClock(1000.0))
    board._heard(params={"Entries": ["not an entry", {"VisibilityTimeout": "3"}, {"Id": "x"}]})
    board._heard(params={"VisibilityTimeout": 2.5})
    board._heard(params=None)
    assert board.next_after(1000.0) is None
