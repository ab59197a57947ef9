"""Message deletion: the duplicate of a lost race, and the intermediate messages after the terminal one.

Both are best effort and never fail the delivery. `message_not_found` counts as deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from consumers.runtime.aws_errors import aws_code
from consumers.slack import logs
from consumers.slack.api import SlackReply
from consumers.slack.calls import SlackCalls
from consumers.slack.tasks import (
    CREATED_TS,
    SESSION_TS,
    THREAD_TS,
    AwsError,
    SlackTarget,
    TaskStore,
    meta_text,
)
from fanout.events import TaskEvent

GONE = "message_not_found"


def delete_message(calls: SlackCalls, target: SlackTarget, ts: str, event: TaskEvent) -> SlackReply | None:
    """None when the message is gone, else Slack's failed answer."""
    reply = calls.post(target.team_id, "chat.delete", {"channel": target.channel, "ts": ts}, event)
    if reply.ok or reply.error == GONE:
        return None
    return reply


def delete_duplicate(
    calls: SlackCalls, target: SlackTarget, ts: str, event: TaskEvent, logger: Logger
) -> None:
    """Our post lost the race to persist its ts: another attempt's message is the one the task keeps."""
    failed = delete_message(calls, target, ts, event)
    if failed is not None:
        logs.note(logger, logs.DUP_DELETE_FAILED, event, ts=ts, reason=failed.problem, level="error")


def terminal_cleanup(
    calls: SlackCalls,
    store: TaskStore,
    target: SlackTarget,
    snapshot: Mapping[str, Any],
    event: TaskEvent,
    logger: Logger,
) -> None:
    """Delete the session_started and task_created messages that are thread replies (never the root).

    The task is read again, consistently: a task_created ts persisted after our first read must be seen.
    """
    task: Mapping[str, Any] = snapshot
    try:
        task = store.read(event.task_id) or snapshot
    except AwsError as exc:
        logs.note(logger, logs.CLEANUP_REREAD_FAILED, event, reason=aws_code(exc))
    root = meta_text(task, THREAD_TS)
    for name in (SESSION_TS, CREATED_TS):
        ts = meta_text(task, name)
        if ts is None or ts == root:
            continue
        failed = delete_message(calls, target, ts, event)
        if failed is not None:
            logs.note(logger, logs.CLEANUP_DELETE_FAILED, event, ts=ts, which=name, reason=failed.problem)
            if failed.rate_limited:
                return  # best effort: not into the Retry-After window
