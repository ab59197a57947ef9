"""Slack-specific log lines (things the runtime's outcome lines do not cover), one stable key each."""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools import Logger

from fanout.events import TaskEvent

REACTION_FAILED = "reaction_failed"
DUP_DELETE_FAILED = "dup_delete_failed"
CLEANUP_DELETE_FAILED = "cleanup_delete_failed"
CLEANUP_SKIPPED = "cleanup_skipped"
UNKNOWN_ERROR = "unknown_error"
TOKEN_REFETCHED = "token_refetched"
SLOT_RELEASE_FAILED = "slot_release_failed"
SLOT_HELD_ELSEWHERE = "slot_held_elsewhere"


# LogRecord's own attributes; `extra` may not set them.
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def key(name: str) -> str:
    return f"fanout.slack.{name}"


def note(
    logger: Logger, name: str, event: TaskEvent | None, *, level: str = "warning", **fields: Any
) -> None:
    line: dict[str, Any] = {"event": key(name)}
    if event is not None:
        line.update(task_id=event.task_id, event_id=event.event_id, event_type=event.event_type)
    # logging refuses LogRecord's own attribute names in `extra`; a log line must never fail a delivery.
    line.update({(f"field_{k}" if k in _RESERVED else k): v for k, v in fields.items() if v is not None})
    if level == "info":
        logger.info(key(name), extra=line)
    else:
        logger.warning(key(name), extra=line)
