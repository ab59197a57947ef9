"""docs/events-file.md stays true: its example parses into one step of each kind, and each refused line
is refused with the reason the table gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fanout.local.events_file import EventsFileError, PutEvent, PutSecret, PutTask, Sleep, parse_lines

DOC = (Path(__file__).resolve().parents[1] / "docs" / "events-file.md").read_text()


def test_the_example_has_one_line_of_each_kind_and_parses() -> None:
    (block,) = re.findall(r"```jsonl\n(.*?)```", DOC, re.S)
    steps = parse_lines(block.splitlines())
    assert {type(step) for step in steps} == {PutTask, PutEvent, Sleep, PutSecret}
    assert [type(s).__name__ for s in steps].count("PutEvent") == 3


REFUSED = re.findall(r"^\| `(.+?)` \| `(.+?)` \|$", DOC.split("## Lines that are refused")[1], re.M)


@pytest.mark.parametrize(("line", "reason"), REFUSED)
def test_each_refused_line_is_refused_with_its_reason(line: str, reason: str) -> None:
    with pytest.raises(EventsFileError) as error:
        parse_lines([line])
    assert error.value.line == 1
    assert reason in error.value.reason


def test_the_refused_table_is_read() -> None:
    assert len(REFUSED) == 8
