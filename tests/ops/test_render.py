from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.console import Console

from fanout.ops.messages import DeadLetter
from fanout.ops.redrive_client import RedriveResult
from fanout.ops.render import format_age, letters_table, redrive_summary


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0, "0s"), (59.9, "59s"), (60, "1m 0s"), (7260, "2h 1m"), (90000, "1d 1h")],
)
def test_format_age(seconds: float | None, text: str) -> None:
    assert format_age(seconds) == text


def test_summary_names_what_was_not_moved_and_possible_duplicates() -> None:
    result = RedriveResult(
        dry_run=False,
        examined=5,
        matched=3,
        moved=2,
        unexamined=4,
        failed=["m1: send failed: boom"],
        delete_failed=["m2: moved, but the DLQ still holds it (x)"],
    )

    lines = redrive_summary(result, dlq="d.fifo", queue="q.fifo")

    assert lines[0] == "moved 2 of 3 matching messages from d.fifo to q.fifo"
    assert any(
        line.startswith("4 messages were not examined: they wait behind a failed one") for line in lines
    )
    assert "not moved, still in the DLQ: m1: send failed: boom" in lines
    assert any(line.startswith("duplicate possible (harmless): m2") for line in lines)


def test_summary_when_nothing_matched() -> None:
    result = RedriveResult(dry_run=False, examined=3)

    (line,) = redrive_summary(result, dlq="d.fifo", queue="q.fifo", filters="task_id=t9")

    assert line == "no message of the 3 examined in d.fifo matched (task_id=t9); nothing moved"


def test_untrusted_text_is_not_read_as_rich_markup() -> None:
    letter = DeadLetter(
        message_id="m",
        receipt_handle="r",
        body="",
        group_id="g",
        sent_at=None,
        last_error="[red]x[/red] [link]",
    )
    console = Console(record=True, width=200)
    console.print(letters_table([letter], now=datetime.now(UTC), title="t"))

    assert "[red]x[/red] [link]" in console.export_text()
