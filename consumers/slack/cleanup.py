"""Message deletion: the duplicate of a lost race, and the intermediate messages after the terminal one.

Both are best effort and never fail the delivery. `message_not_found` counts as deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from consumers.slack import logs
from consumers.slack.api import SlackReply
from consumers.slack.calls import SlackCalls
from consumers.slack.tasks import (
    CREATED_TS,
    SESSION_TS,
    THREAD_TS,
    SlackTarget,
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
    target: SlackTarget,
    snapshot: Mapping[str, Any],
    event: TaskEvent,
    logger: Logger,
) -> None:
    """Delete the session_started and task_created messages that are thread replies (never the root).

    The snapshot is prepare's consistent read of the task, made after the task's earlier messages were
    settled: the FIFO group hands this message over only once they are deleted from the queue, so every
    ts they persisted is in it, and reading the task again would cost a call and find nothing new.
    """
    task: Mapping[str, Any] = snapshot
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
