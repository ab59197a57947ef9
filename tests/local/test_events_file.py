from __future__ import annotations

import pytest

from fanout.local.events_file import (
    EventsFileError,
    PutEvent,
    PutSecret,
    PutTask,
    Sleep,
    load_events_file,
    parse_lines,
    slack_teams,
    to_item,
)


def test_parses_every_kind_of_line_in_order():
    steps = parse_lines(
        [
            '{"task": {"task_id": "t1", "channel_metadata": {"slack_team_id": "T1"}}}',
            "",
            '{"event": {"task_id": "t1", "event_id": "e1", "event_type": "task_created"}}',
            '{"sleep": 0.5}',
            '{"secret": {"name": "bgagent/slack/T1", "value": "xoxb-1"}}',
        ]
    )
    assert [type(s) for s in steps] == [PutTask, PutEvent, Sleep, PutSecret]
    assert steps[2] == Sleep(0.5)
    assert slack_teams(steps) == ["T1"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not valid JSON"),
        ('{"task": {"task_id": "t"}, "sleep": 1}', "exactly one key"),
        ('{"event": {"task_id": "t"}}', "'event_id'"),
        ('{"task": {"user_id": "u"}}', "'task_id'"),
        ('{"sleep": -1}', "between 0"),
        ('{"sleep": "1"}', "number of seconds"),
        ('{"secret": {"name": "x"}}', "secret must be"),
        ('{"tasks": {}}', "unknown key"),
        ('{"task": {"task_id": "t", "cost": 1e999}}', "finite"),
    ],
)
def test_bad_lines_name_the_line_and_the_reason(line, reason):
    with pytest.raises(EventsFileError) as caught:
        parse_lines(['{"sleep": 0}', line])
    assert caught.value.line == 2
    assert reason in str(caught.value)
    assert "line 2" in str(caught.value)


def test_unreadable_file_is_an_error(tmp_path):
    with pytest.raises(EventsFileError, match="cannot read"):
        load_events_file(tmp_path / "missing.jsonl")


def test_plain_json_becomes_dynamodb_attribute_values():
    [step] = parse_lines(
        [
            '{"task": {"task_id": "t", "pr_number": 42, "cost_usd": 1.37, "ok": true, "x": null,'
            ' "meta": {"a": "b"}, "tags": ["x", 2]}}'
        ]
    )
    assert to_item(step.item) == {
        "task_id": {"S": "t"},
        "pr_number": {"N": "42"},
        "cost_usd": {"N": "1.37"},
        "ok": {"BOOL": True},
        "x": {"NULL": True},
        "meta": {"M": {"a": {"S": "b"}}},
        "tags": {"L": [{"S": "x"}, {"N": "2"}]},
    }
