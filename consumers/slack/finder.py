"""Finding the message an earlier attempt may have posted, by the event id in its message metadata.

In a thread: conversations.replies on the thread root (the root itself is part of the answer). With no
thread yet (a task_created that became the root): conversations.history, from shortly before the event.
Both with include_all_metadata, page by page up to `MAX_PAGES`; a search cut off there is not a "not found".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from consumers.runtime.outcomes import Delivered, Retry, Terminal
from consumers.slack.calls import SlackCalls
from consumers.slack.render import METADATA_EVENT_TYPE
from consumers.slack.tasks import SlackTarget
from fanout.events import TaskEvent

PAGE_SIZE = 200
MAX_PAGES = 10
HISTORY_MARGIN_S = 600  # clock skew between the platform's event time and Slack's
NO_THREAD = "thread_not_found"  # the root is gone, so nothing can have been posted under it


@dataclass(frozen=True)
class FoundPost:
    """A post of the channel's that carries the event (found after an uncertain outcome)."""

    ts: str
    thread_ts: str | None  # None, or equal to ts, for a top-level message

    @property
    def is_top_level(self) -> bool:
        return self.thread_ts is None or self.thread_ts == self.ts


def carries_event(message: Mapping[str, Any], event_id: str) -> bool:
    metadata = message.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != METADATA_EVENT_TYPE:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, Mapping) and payload.get("event_id") == event_id


def find_post(
    calls: SlackCalls, target: SlackTarget, event: TaskEvent
) -> FoundPost | Retry | Terminal | None:
    params = {"channel": target.channel, "include_all_metadata": "true", "limit": str(PAGE_SIZE)}
    if target.thread_ts is not None:
        method = "conversations.replies"
        params["ts"] = target.thread_ts
    else:
        method = "conversations.history"
        oldest = _epoch(event.timestamp)
        if oldest is not None:
            params["oldest"] = f"{oldest - HISTORY_MARGIN_S:.6f}"
    cursor = ""
    for _ in range(MAX_PAGES):
        page = dict(params, cursor=cursor) if cursor else params
        reply = calls.get(target.team_id, method, page, event)
        if reply.error == NO_THREAD:
            return None
        if not reply.ok:
            return _lookup_failed(reply.outcome)
        for message in reply.data.get("messages") or []:
            if isinstance(message, Mapping) and carries_event(message, event.event_id):
                ts, thread = message.get("ts"), message.get("thread_ts")
                if isinstance(ts, str):
                    return FoundPost(ts, thread if isinstance(thread, str) else None)
        cursor = _next_cursor(reply.data)
        if not cursor:
            return None
    # Pages left unread may hold the post: "not found" here could mean a second post, so the event
    # stays unresolved (and, if it stays so, ends on the DLQ for an operator rather than posted twice).
    return Retry(None, "reconcile:search_truncated", uncertain=True)


def _lookup_failed(outcome: Delivered | Retry | Terminal) -> Retry | Terminal:
    """Whatever the lookup ran into, the earlier post stays unresolved for the next attempt."""
    if isinstance(outcome, Terminal):
        return outcome
    if isinstance(outcome, Retry):
        return replace(outcome, reason=f"reconcile:{outcome.reason}", uncertain=True)
    return Retry(None, "reconcile:unexpected_answer", uncertain=True)


def _next_cursor(data: Mapping[str, Any]) -> str:
    meta = data.get("response_metadata")
    cursor = meta.get("next_cursor") if isinstance(meta, Mapping) else None
    return cursor if isinstance(cursor, str) and data.get("has_more") is not False else ""


def _epoch(timestamp: str) -> float | None:
    try:
        stamp = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    return stamp.timestamp() if stamp.tzinfo is not None else None
