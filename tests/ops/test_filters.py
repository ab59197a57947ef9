from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fanout.ops.errors import UsageError
from fanout.ops.filters import RedriveFilter, parse_duration
from fanout.ops.messages import DeadLetter

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def letter():
    def make(**fields) -> DeadLetter:
        base = {
            "message_id": "m1",
            "receipt_handle": "r1",
            "body": "{}",
            "group_id": "t1",
            "sent_at": NOW - timedelta(hours=1),
            "reason": "terminal:token_revoked",
            "task_id": "t1",
            "event_type": "task_completed",
        }
        return DeadLetter(**{**base, **fields})

    return make


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("45s", 45), ("90", 90), (" 2H ", 7200)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "2x", "h2", "-5m", "1h and", "²", "99999999999d", "9" * 30])
def test_parse_duration_rejects_nonsense(text: str) -> None:
    with pytest.raises(UsageError, match="bad duration"):
        parse_duration(text)


def test_every_given_filter_must_match(letter) -> None:
    subject = letter()
    assert RedriveFilter().matches(subject, NOW)
    assert RedriveFilter(reason="TOKEN_REVOKED").matches(subject, NOW)
    assert not RedriveFilter(reason="budget").matches(subject, NOW)
    assert RedriveFilter(task_id="t1", event_type="task_completed").matches(subject, NOW)
    assert not RedriveFilter(task_id="t1", event_type="task_failed").matches(subject, NOW)
    assert RedriveFilter(older_than=timedelta(minutes=30)).matches(subject, NOW)
    assert not RedriveFilter(older_than=timedelta(hours=2)).matches(subject, NOW)


def test_a_letter_missing_what_a_filter_needs_does_not_match(letter) -> None:
    bare = letter(reason=None, sent_at=None, task_id=None, event_type=None)
    assert not RedriveFilter(reason="x").matches(bare, NOW)
    assert not RedriveFilter(older_than=timedelta(0)).matches(bare, NOW)
    assert RedriveFilter().matches(bare, NOW)


def test_describe_names_the_filters() -> None:
    assert RedriveFilter().describe() == "all messages"
    assert RedriveFilter(task_id="t1", reason="401").describe() == "reason~'401', task_id=t1"
