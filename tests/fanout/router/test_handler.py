from __future__ import annotations

import json
import logging

import pytest

from fanout.router.handler import make_handler, sqs_client
from fanout.router.settings import RouterSettings, RouterSettingsError, load_settings

from .conftest import FlakySQS, drain


def lifecycle(stream_record, task_id: str) -> list[dict]:
    return [
        stream_record(task_id=task_id, event_type="task_created"),
        stream_record(task_id=task_id, event_type="session_started"),
        stream_record(task_id=task_id, event_type="agent_milestone", metadata={"milestone": "pr_created"}),
        stream_record(task_id=task_id, event_type="task_completed"),
    ]


def test_routes_each_event_to_its_channels_in_order(channel_queues, stream_record) -> None:
    settings, sqs = channel_queues()
    records = [*lifecycle(stream_record, "t1"), stream_record(event_name="REMOVE")]
    response = make_handler(settings, sqs=sqs)({"Records": records}, None)
    assert response == {"batchItemFailures": []}
    slack = drain(sqs, settings.queue_urls["slack"])
    github = drain(sqs, settings.queue_urls["github"])
    assert [json.loads(m["Body"])["event_type"] for m in slack] == [
        "task_created",
        "session_started",
        "task_completed",
    ]
    assert [json.loads(m["Body"])["event_type"] for m in github] == ["pr_created", "task_completed"]
    assert {m["Attributes"]["MessageGroupId"] for m in slack + github} == {"t1"}
    assert [m["Attributes"]["MessageDeduplicationId"] for m in github] == [
        records[2]["dynamodb"]["NewImage"]["event_id"]["S"],
        records[3]["dynamodb"]["NewImage"]["event_id"]["S"],
    ]


def test_partial_batch_failure_reports_exactly_the_failed_records(channel_queues, stream_record) -> None:
    settings, sqs = channel_queues()
    records = [
        stream_record(task_id="ok-1", event_type="task_created"),
        stream_record(task_id="bad", event_type="task_created"),
        stream_record(task_id="ok-2", event_type="task_failed"),
        stream_record(task_id="bad", event_type="session_started"),
        stream_record(task_id="ok-1", event_type="session_started"),
    ]
    bad_event = records[1]["dynamodb"]["NewImage"]["event_id"]["S"]
    flaky = FlakySQS(sqs, fails=lambda entry, call: entry["MessageDeduplicationId"] == bad_event)
    response = make_handler(settings, sqs=flaky)({"Records": records}, None)
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    # The failed record, and the later record of the same task that was held back to keep its order.
    assert failed == [records[1]["dynamodb"]["SequenceNumber"], records[3]["dynamodb"]["SequenceNumber"]]
    slack = drain(sqs, settings.queue_urls["slack"])
    assert sorted(json.loads(m["Body"])["task_id"] for m in slack) == ["ok-1", "ok-1", "ok-2"]


def test_all_records_failing_is_reported_not_raised(channel_queues, stream_record) -> None:
    settings, sqs = channel_queues()
    records = [stream_record(task_id="x", event_type="task_created")]
    flaky = FlakySQS(sqs, fails=lambda entry, call: True)
    response = make_handler(settings, sqs=flaky)({"Records": records}, None)
    assert response["batchItemFailures"] == [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]


def test_replaying_a_batch_sends_no_duplicates(channel_queues, stream_record) -> None:
    settings, sqs = channel_queues()
    records = lifecycle(stream_record, "t1") + lifecycle(stream_record, "t2")
    handler = make_handler(settings, sqs=sqs)
    assert handler({"Records": records}, None) == {"batchItemFailures": []}
    # Lambda replays from a failed record: the same records reach the router again.
    assert handler({"Records": records[3:]}, None) == {"batchItemFailures": []}
    assert len(drain(sqs, settings.queue_urls["slack"])) == 6
    assert len(drain(sqs, settings.queue_urls["github"])) == 4


def test_malformed_records_never_fail_the_batch(channel_queues, stream_record) -> None:
    settings, sqs = channel_queues()
    garbage = {"eventName": "INSERT", "dynamodb": {"NewImage": {"task_id": {"X": 1}}, "SequenceNumber": "1"}}
    response = make_handler(settings, sqs=sqs)(
        {"Records": [garbage, {}, stream_record(event_type="task_failed")]}, None
    )
    assert response == {"batchItemFailures": []}
    assert len(drain(sqs, settings.queue_urls["github"])) == 1


def test_settings_need_at_least_one_queue() -> None:
    with pytest.raises(RouterSettingsError, match="FANOUT_SLACK_QUEUE_URL"):
        load_settings({})
    assert load_settings({"FANOUT_GITHUB_QUEUE_URL": "u"}) == RouterSettings(queue_urls={"github": "u"})


def test_one_log_line_per_batch(channel_queues, stream_record, caplog) -> None:
    settings, sqs = channel_queues()
    with caplog.at_level(logging.DEBUG, logger="fanout-router"):
        make_handler(settings, sqs=sqs)({"Records": lifecycle(stream_record, "t1")}, None)
    ours = [r for r in caplog.records if r.name == "fanout-router"]
    assert [r.getMessage() for r in ours] == ["fanout.router.batch"]
    assert ours[0].routed == {"slack": 3, "github": 2}
    assert ours[0].sqs_calls == {"slack": 3, "github": 2}


def test_metrics_per_batch_are_emitted_once_and_not_accumulated(
    channel_queues, stream_record, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    settings, sqs = channel_queues()
    handler = make_handler(settings, sqs=sqs)
    for task in ("t1", "t2"):
        capsys.readouterr()
        handler({"Records": [*lifecycle(stream_record, task), stream_record(event_name="REMOVE")]}, None)
        documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
        routed = {d["channel"]: d["RoutedEvents"] for d in documents if "RoutedEvents" in d}
        totals = [d for d in documents if "SkippedRecords" in d]
        assert routed == {"slack": [3.0], "github": [2.0]}
        assert len(totals) == 1
        assert (totals[0]["SkippedRecords"], totals[0]["SendFailures"]) == ([1.0], [0.0])


def test_skipped_records_are_named_in_one_warning_per_batch(channel_queues, stream_record, caplog) -> None:
    settings, sqs = channel_queues()
    garbage = {"eventID": "bad-1", "eventName": "INSERT", "dynamodb": {"NewImage": {"task_id": {"X": 1}}}}
    removed = {"eventID": "gone-1", "eventName": "REMOVE", "dynamodb": {}}
    with caplog.at_level(logging.DEBUG, logger="fanout-router"):
        make_handler(settings, sqs=sqs)({"Records": [garbage, removed, stream_record()]}, None)
    ours = [r for r in caplog.records if r.name == "fanout-router"]
    assert [r.getMessage() for r in ours] == ["fanout.router.batch", "fanout.router.records_noted"]
    noted = {n["record"]: n["reason"] for n in ours[1].records}
    assert noted == {"bad-1": "malformed_attribute", "gone-1": "remove"}


def test_the_router_sqs_client_times_out_well_inside_the_function_and_retries_in_standard_mode() -> None:
    client = sqs_client()
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 5)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    # three tries at both timeouts stay inside the router's 60 s function timeout
    assert config.retries["total_max_attempts"] * (config.connect_timeout + config.read_timeout) < 60
