from __future__ import annotations

import json

import pytest

from fanout.local.events_file import (
    EventsFileError,
    PutEvent,
    PutSecret,
    PutTask,
    Sleep,
    item_size,
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
            '{"event": {"task_id": "t1", "event_id": "e1", "event_type": "task_created",'
            ' "timestamp": "2026-11-26T10:00:00Z"}}',
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
        ('{"event": {"task_id": "t", "event_id": "e", "timestamp": "2026-11-26T10:00:00Z"}}', "'event_type'"),
        ('{"event": {"task_id": "t", "event_id": "e", "event_type": "task_created"}}', "'timestamp'"),
        ('{"event": {"task_id": "t", "event_id": "e", "event_type": 5, "timestamp": "x"}}', "'event_type'"),
        (
            '{"event": {"task_id": "t", "event_id": "e", "event_type": "task_created", "timestamp": "yesterday"}}',
            "ISO-8601",
        ),
        ('{"task": {"task_id": "t", "task_description": "' + "x" * 500_000 + '"}}', "at most 409,600"),
        ('{"task": {"task_id": "t", "deep": ' + "[" * 40 + "]" * 40 + "}}", "32 levels"),
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


def test_a_line_ends_at_newline_only_so_json_text_may_hold_any_line_separator(tmp_path):
    description = "para one\u2028para two \u0085 end\x0c"
    task = json.dumps({"task": {"task_id": "t1", "task_description": description}}, ensure_ascii=False)
    path = tmp_path / "events.jsonl"
    path.write_text(task + "\r\n" + '{"sleep": 0}' + "\n", encoding="utf-8")
    steps = load_events_file(path)
    assert [type(s) for s in steps] == [PutTask, Sleep]
    assert steps[0].item["task_description"] == description


def test_a_bad_line_after_a_line_separator_still_gets_its_own_number(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"task": {"task_id": "a\u2028b"}}\n{nope}\n', encoding="utf-8")
    with pytest.raises(EventsFileError) as caught:
        load_events_file(path)
    assert caught.value.line == 2


def test_item_size_counts_names_and_values_as_dynamodb_does():
    assert item_size(to_item({"ab": "héllo"})) == 2 + 6
    assert item_size(to_item({"m": {"k": "v"}, "n": 1, "b": True})) == (1 + 3 + 1 + 1 + 1) + (1 + 21) + (
        1 + 1
    )
