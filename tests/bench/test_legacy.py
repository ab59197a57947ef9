"""The model of the earlier design: every channel inline, a retry from one replays the whole record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bench.legacy import LegacyHandler, LegacyStats
from consumers.runtime.channel import Prepared
from consumers.runtime.outcomes import Delivered, Outcome, Retry, Skipped
from fanout.dynamo import to_item
from fanout.events import TaskEvent


class ScriptedChannel:
    """Answers deliver with the scripted outcomes in turn (the last one repeats), counting calls."""

    def __init__(self, name: str, outcomes: list[Outcome]) -> None:
        self.name = name
        self._outcomes = outcomes
        self.delivered: list[str] = []

    def prepare(self, event: TaskEvent) -> Prepared | Outcome:
        return Prepared(event=event, task={})

    def deliver(self, prepared: Prepared) -> Outcome:
        outcome = self._outcomes[min(len(self.delivered), len(self._outcomes) - 1)]
        self.delivered.append(prepared.event.event_id)
        return outcome


@pytest.fixture
def stream_event() -> Callable[..., dict[str, Any]]:
    def make(*types: str) -> dict[str, Any]:
        records = []
        for index, event_type in enumerate(types):
            item = {"task_id": "t1", "event_id": f"e{index}", "event_type": event_type, "timestamp": "x"}
            records.append(
                {
                    "eventID": str(index),
                    "eventName": "INSERT",
                    "eventSource": "aws:dynamodb",
                    "dynamodb": {"SequenceNumber": str(100 + index), "NewImage": to_item(item)},
                }
            )
        return {"Records": records}

    return make


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def test_a_retry_on_one_channel_fails_the_record_and_calls_every_channel_again(
    stream_event: Callable[..., dict[str, Any]],
) -> None:
    slack = ScriptedChannel("slack", [Retry(2.0, "ratelimited"), Delivered()])
    github = ScriptedChannel("github", [Delivered()])
    stats = LegacyStats()
    handler = LegacyHandler({"slack": slack, "github": github}, stats, retry_attempts=3)
    event = stream_event("task_completed")

    assert failed_ids(handler(event, None)) == ["100"]
    assert failed_ids(handler(event, None)) == []  # the replay
    assert github.delivered == ["e0", "e0"]  # GitHub delivered the same event twice
    assert (stats.records, stats.attempts, stats.retried, stats.lost) == (1, 2, 1, set())


def test_after_the_last_retry_the_record_is_dropped_and_the_failing_channel_loses_the_event(
    stream_event: Callable[..., dict[str, Any]],
) -> None:
    slack = ScriptedChannel("slack", [Retry(None, "http_503", uncertain=True)])
    stats = LegacyStats()
    handler = LegacyHandler({"slack": slack}, stats, retry_attempts=2)
    event = stream_event("task_created")

    answers = [failed_ids(handler(event, None)) for _ in range(3)]
    assert answers == [["100"], ["100"], []]
    assert stats.discarded == 1
    assert stats.lost == {("slack", "e0")}


def test_skips_are_swallowed_and_unsubscribed_channels_are_not_called(
    stream_event: Callable[..., dict[str, Any]],
) -> None:
    slack = ScriptedChannel("slack", [Skipped("not_slack_task")])
    github = ScriptedChannel("github", [Delivered()])
    stats = LegacyStats()
    handler = LegacyHandler({"slack": slack, "github": github}, stats, retry_attempts=3)

    assert failed_ids(handler(stream_event("session_started"), None)) == []
    assert github.delivered == []  # GitHub does not subscribe to session_started
    assert stats.swallowed == {"slack:not_slack_task": 1}
