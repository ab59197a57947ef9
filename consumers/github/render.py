"""The status comment's body: a hidden marker naming the task, then the task's latest state.

The marker lets a later attempt find the comment again when its id was never stored (a crash between the
POST and the write of `github_comment_id`). Every untrusted value goes through `escape`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from consumers.github.escape import escape_text, marker_id, safe_url, truncate
from consumers.runtime.humanize import duration
from fanout import event_types as et
from fanout.events import TaskEvent

Task = Mapping[str, Any]
Renderer = Callable[[TaskEvent, Task], str]

REASON_LIMIT = 300
UNKNOWN_ERROR = "Unknown error"


def marker(task_id: str) -> str:
    return f"<!-- fanout:task_id={marker_id(task_id)} -->"


def render_body(event: TaskEvent, task: Task) -> str:
    """The whole comment body for `event`; KeyError when the type has no renderer."""
    headline = RENDERERS[event.event_type](event, task)
    footer = f"<sub>Status of task {escape_text(event.task_id)}, updated by fanout.</sub>"
    return f"{marker(event.task_id)}\n{headline}\n\n{footer}\n"


def _pr_created(event: TaskEvent, task: Task) -> str:
    link = _pr_link(event, task)
    return f"🔗 **Pull request opened**{': ' + link if link else ''}. The agent is finishing up."


def _completed(event: TaskEvent, task: Task) -> str:
    details = [d for d in (_pr_link(event, task, label="View PR"), _duration(task), _cost(task)) if d]
    return "✅ **Task completed**" + ("\n\n" + " · ".join(details) if details else "")


def _failed(event: TaskEvent, task: Task) -> str:
    reason = _text(task.get("error_message")) or event.meta_str("error") or UNKNOWN_ERROR
    return f"❌ **Task failed**: {escape_text(truncate(reason, REASON_LIMIT))}"


def _cancelled(event: TaskEvent, task: Task) -> str:
    return "🚫 **Task cancelled**"


def _timed_out(event: TaskEvent, task: Task) -> str:
    duration = _duration(task)
    return "⏲ **Task timed out**" + (f" after {duration}" if duration else "")


def _stranded(event: TaskEvent, task: Task) -> str:
    prior = event.meta_str("prior_status")
    suffix = f" (last status: {escape_text(truncate(prior, 40))})" if prior else ""
    return f"⚠️ **Task stranded**{suffix}: the agent stopped reporting."


RENDERERS: Mapping[str, Renderer] = MappingProxyType(
    {
        et.PR_CREATED: _pr_created,
        et.TASK_COMPLETED: _completed,
        et.TASK_FAILED: _failed,
        et.TASK_CANCELLED: _cancelled,
        et.TASK_TIMED_OUT: _timed_out,
        et.TASK_STRANDED: _stranded,
    }
)


def _duration(task: Task) -> str | None:
    value = _number(task.get("duration_s"))
    return duration(value) if value is not None else None


def _cost(task: Task) -> str | None:
    value = _number(task.get("cost_usd"))
    return f"${value:.2f}" if value is not None else None


def _pr_link(event: TaskEvent, task: Task, *, label: str = "") -> str | None:
    number = _pr_number(task.get("pr_number")) or _pr_number(event.metadata.get("pr_number"))
    url = safe_url(task.get("pr_url"))  # vetted in prepare: the task's own repository on the GitHub host
    text = " ".join(part for part in (label, f"#{number}" if number else "") if part) or "pull request"
    if url:
        return f"[{text}]({url})"
    return text if number else None


def _pr_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    return None
