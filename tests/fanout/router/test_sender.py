from __future__ import annotations

import json
from typing import Any

from fanout.router.plan import OutboundMessage
from fanout.router.sender import BACKOFF_BASE_S, MAX_ENTRIES, ROUND_RESERVE_S, RetryPacing, send_all

from .conftest import FlakySQS, drain


def messages(groups: list[str]) -> list[OutboundMessage]:
    return [
        OutboundMessage(
            record_index=i, channel="slack", group_id=g, dedup_id=f"e{i}", body=json.dumps({"i": i})
        )
        for i, g in enumerate(groups)
    ]


def test_full_batches_when_tasks_differ(channel_queues) -> None:
    settings, sqs = channel_queues()
    url = settings.queue_urls["slack"]
    result = send_all(sqs, url, messages([f"t{i}" for i in range(25)]))
    assert result.calls == 3
    assert result.sent == 25
    assert not result.failed_records
    assert len(drain(sqs, url)) == 25


def test_one_entry_per_task_per_call_keeps_order(channel_queues) -> None:
    settings, sqs = channel_queues()
    url = settings.queue_urls["slack"]
    flaky = FlakySQS(sqs, fails=lambda entry, call: False)
    send_all(flaky, url, messages(["a", "a", "b", "a", "c"]))
    assert flaky.calls == [["e0", "e2", "e4"], ["e1"], ["e3"]]
    assert [m["MessageId"] and json.loads(m["Body"])["i"] for m in drain(sqs, url)] == [0, 2, 4, 1, 3]


def test_only_failed_entries_are_retried(channel_queues) -> None:
    settings, sqs = channel_queues()
    url = settings.queue_urls["slack"]
    flaky = FlakySQS(sqs, fails=lambda entry, call: entry["MessageDeduplicationId"] == "e1" and call == 0)
    result = send_all(flaky, url, messages(["a", "b", "c"]))
    assert flaky.calls == [["e0", "e1", "e2"], ["e1"]]
    assert not result.failed_records
    assert len(drain(sqs, url)) == 3


def test_final_failure_holds_back_the_rest_of_that_task(channel_queues) -> None:
    settings, sqs = channel_queues()
    url = settings.queue_urls["slack"]
    flaky = FlakySQS(sqs, fails=lambda entry, call: entry["MessageDeduplicationId"] == "e0")
    result = send_all(flaky, url, messages(["a", "b", "a", "a"]))
    assert flaky.calls == [["e0", "e1"], ["e0"], ["e0"]]  # bounded: three rounds, then give up
    assert result.failed_records == {0, 2, 3}
    assert len(result.failures) == 1
    assert "injected" in result.failures[0]
    assert [json.loads(m["Body"])["i"] for m in drain(sqs, url)] == [1]


def test_sender_fault_is_not_retried(channel_queues) -> None:
    settings, sqs = channel_queues()
    url = settings.queue_urls["slack"]
    flaky = FlakySQS(
        sqs, fails=lambda entry, call: entry["MessageDeduplicationId"] == "e0", sender_fault=True
    )
    result = send_all(flaky, url, messages(["a"]))
    assert flaky.calls == [["e0"]]
    assert result.failed_records == {0}


def test_batches_respect_the_size_limit(channel_queues) -> None:
    settings, sqs = channel_queues()
    url = settings.queue_urls["slack"]
    big = [
        OutboundMessage(
            record_index=i, channel="slack", group_id=f"t{i}", dedup_id=f"e{i}", body="x" * 100_000
        )
        for i in range(4)
    ]
    flaky = FlakySQS(sqs, fails=lambda entry, call: False)
    result = send_all(flaky, url, big)
    assert [len(c) for c in flaky.calls] == [2, 2]
    assert result.sent == 4
    assert len(flaky.calls[0]) <= MAX_ENTRIES


class LosesEntries:
    """A real client whose response omits the first call's entries picked by `lose` (sent nowhere)."""

    def __init__(self, real: Any, lose: str) -> None:
        self.real, self.lose, self.calls = real, lose, 0

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        if self.calls == 1:
            Entries = [e for e in Entries if e["MessageDeduplicationId"] != self.lose]
        return dict(self.real.send_message_batch(QueueUrl=QueueUrl, Entries=Entries))


def test_an_entry_missing_from_the_response_is_sent_again(channel_queues) -> None:
    settings, sqs = channel_queues()
    url = settings.queue_urls["slack"]
    client = LosesEntries(sqs, lose="e1")
    result = send_all(client, url, messages(["a", "b", "c"]))
    assert client.calls == 2
    assert result.sent == 3
    assert not result.failed_records
    assert sorted(json.loads(m["Body"])["i"] for m in drain(sqs, url)) == [0, 1, 2]


def test_a_final_failure_names_the_task_and_event(channel_queues) -> None:
    settings, sqs = channel_queues()
    flaky = FlakySQS(sqs, fails=lambda entry, call: True, sender_fault=True)
    result = send_all(flaky, settings.queue_urls["slack"], messages(["task-7"]))
    assert result.failures == ["InternalError: injected [task task-7, event e0]"]


def test_retry_rounds_wait_with_jitter_and_stop_when_the_invocation_has_no_time(channel_queues) -> None:
    settings, sqs = channel_queues()
    url = settings.queue_urls["slack"]
    sleeps: list[float] = []
    pacing = RetryPacing(sleep=sleeps.append, random=lambda: 0.5, time_left_s=lambda: 30.0)
    flaky = FlakySQS(sqs, fails=lambda entry, call: entry["MessageDeduplicationId"] == "e0")

    result = send_all(flaky, url, messages(["a"]), pacing)

    assert sleeps == [0.5 * BACKOFF_BASE_S, 0.5 * BACKOFF_BASE_S * 2]  # full jitter on a doubling ceiling
    assert len(flaky.calls) == 3
    assert result.failed_records == {0}

    short: list[float] = []
    hurried = RetryPacing(sleep=short.append, random=lambda: 0.5, time_left_s=lambda: ROUND_RESERVE_S)
    flaky = FlakySQS(sqs, fails=lambda entry, call: entry["MessageDeduplicationId"] == "e0")
    result = send_all(flaky, url, messages(["a"]), hurried)
    assert len(flaky.calls) == 1  # no round that could run into the function timeout
    assert short == []
    assert "no time left to retry" in result.failures[0]
