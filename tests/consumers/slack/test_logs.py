"""Slack's own log lines: stable keys, the event's ids, and fields logging itself would refuse renamed."""

from __future__ import annotations

import io
import json
import uuid

from aws_lambda_powertools import Logger

from consumers.slack import logs

from .conftest import make_event


def test_a_field_named_like_a_logrecord_attribute_is_renamed_not_fatal() -> None:
    stream = io.StringIO()
    logger = Logger(service=f"slack-logs-{uuid.uuid4().hex[:8]}", stream=stream)
    event = make_event("task-1", "task_completed")
    logs.note(
        logger, logs.CLEANUP_DELETE_FAILED, event, message="slack_session_msg_ts", module="x", reason="r"
    )
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["event"] == "fanout.slack.cleanup_delete_failed"
    assert line["field_message"] == "slack_session_msg_ts"
    assert line["field_module"] == "x"
    assert (line["task_id"], line["reason"]) == ("task-1", "r")
