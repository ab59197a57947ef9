"""Slack messages for every event type the channel renders: Block Kit blocks plus a plain-text fallback.

Every piece of untrusted text (description, error, preview, repo, metadata values) goes through
`escape.safe`; a value that is absent is left out of the message, never shown as "None".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from consumers.runtime.humanize import duration
from consumers.slack.escape import bounded, safe
from fanout import event_types as et
from fanout.events import TaskEvent

METADATA_EVENT_TYPE = "fanout_delivery"  # message metadata type: how reconciliation finds our posts
DESCRIPTION_CHARS = 200
ERROR_CHARS = 300
PREVIEW_CHARS = 200
UNKNOWN_ERROR = "Unknown error"
TASK_ID_CHARS = 100
# Block Kit's limits: Slack answers invalid_blocks to a message over any of them.
SECTION_CHARS = 3000
ACTION_ID_CHARS = 255
BUTTON_VALUE_CHARS = 2000
_URL_MAX = 3000
CANCEL_ACTION = "cancel_task"
_PR_NUMBER = re.compile(r"/pull/(\d+)")


@dataclass(frozen=True)
class SlackMessage:
    """A rendered Slack post: the fallback text and the blocks."""

    text: str  # fallback for notifications and clients without blocks
    blocks: tuple[dict[str, Any], ...]


Renderer = Callable[[TaskEvent, Mapping[str, Any]], SlackMessage]


def message_metadata(event: TaskEvent) -> dict[str, Any]:
    """Carried by every post, so an attempt that lost its answer can find what it posted."""
    return {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {"event_id": event.event_id, "task_id": event.task_id, "type": event.event_type},
    }


# -- small pieces -----------------------------------------------------------------------------------


def _text(task: Mapping[str, Any], name: str) -> str | None:
    value = task.get(name)
    return value.strip() or None if isinstance(value, str) else None


def _number(task: Mapping[str, Any], name: str) -> float | None:
    value = task.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _repo(task: Mapping[str, Any], joiner: str) -> str:
    """' for `owner/name`' (with the given joiner), or '' for a repo-less task."""
    repo = _text(task, "repo")
    return f" {joiner} `{safe(repo, 200)}`" if repo else ""


def _facts(task: Mapping[str, Any]) -> str | None:
    """'4m 12s · $1.37', either half alone, or None."""
    parts = []
    seconds = _number(task, "duration_s")
    cost = _number(task, "cost_usd")
    if seconds is not None:
        parts.append(duration(seconds))
    if cost is not None:
        parts.append(f"${cost:.2f}")
    return " · ".join(parts) or None


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": bounded(text, SECTION_CHARS)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": bounded(text, SECTION_CHARS)}]}


def _message(*lines: str | None, extra: tuple[dict[str, Any], ...] = ()) -> SlackMessage:
    present = [line for line in lines if line]
    return SlackMessage(text="\n".join(present), blocks=tuple(_section(t) for t in present) + extra)


def _pr_button(task: Mapping[str, Any]) -> dict[str, Any] | None:
    url = _text(task, "pr_url")
    if url is None or not url.startswith(("https://", "http://")) or len(url) > _URL_MAX:
        return None
    number = task.get("pr_number")
    if isinstance(number, bool) or not isinstance(number, int):
        match = _PR_NUMBER.search(url)
        number = int(match.group(1)) if match else None
    label = f"View PR #{number}" if number is not None else "View PR"
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "url": url,
        "action_id": "view_pr",
    }


# -- renderers ----------------------------------------------------------------------------------------


def task_created(event: TaskEvent, task: Mapping[str, Any]) -> SlackMessage:
    description = _text(task, "task_description")
    head = f":rocket: *Task submitted*{_repo(task, 'for')}"
    body = safe(description, DESCRIPTION_CHARS) if description else None
    footer = f"Task ID: `{safe(event.task_id, TASK_ID_CHARS)}`"
    return SlackMessage(
        text="\n".join(line for line in (head, body, footer) if line),
        blocks=(*(_section(line) for line in (head, body) if line), _context(footer)),
    )


def session_started(event: TaskEvent, task: Mapping[str, Any]) -> SlackMessage:
    repo = _repo(task, "on")
    head = f":hourglass_flowing_sand: Agent started working{repo}"
    action_id = f"{CANCEL_ACTION}:{event.task_id}"
    if len(action_id) > ACTION_ID_CHARS or len(event.task_id) > BUTTON_VALUE_CHARS:
        return _message(head)  # a task id that cannot name its button: no button rather than invalid_blocks
    cancel = {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Cancel Task"},
                "style": "danger",
                "action_id": action_id,
                "value": event.task_id,
            }
        ],
    }
    return _message(head, extra=(cancel,))


def task_completed(event: TaskEvent, task: Mapping[str, Any]) -> SlackMessage:
    head = f":white_check_mark: *Task completed*{_repo(task, 'for')}"
    facts = _facts(task)
    button = _pr_button(task)
    extra: tuple[dict[str, Any], ...] = ()
    if facts:
        extra += (_context(facts),)
    if button:
        extra += ({"type": "actions", "elements": [button]},)
    text = head + (f" ({facts})" if facts else "")
    return SlackMessage(text=text, blocks=(_section(head), *extra))


def task_failed(event: TaskEvent, task: Mapping[str, Any]) -> SlackMessage:
    reason = _text(task, "error_message") or event.meta_str("error") or UNKNOWN_ERROR
    return _message(f":x: *Task failed*{_repo(task, 'for')}", safe(reason, ERROR_CHARS))


def task_cancelled(event: TaskEvent, task: Mapping[str, Any]) -> SlackMessage:
    return _message(f":no_entry_sign: Task cancelled{_repo(task, 'for')}")


def task_timed_out(event: TaskEvent, task: Mapping[str, Any]) -> SlackMessage:
    seconds = _number(task, "duration_s")
    after = f" after {duration(seconds)}" if seconds is not None else ""
    return _message(f":hourglass: *Task timed out*{_repo(task, 'for')}{after}")


def task_stranded(event: TaskEvent, task: Mapping[str, Any]) -> SlackMessage:
    prior = event.meta_str("prior_status")
    status = f" (last status: {safe(prior, 50)})" if prior else ""
    return _message(f":warning: *Task stranded*{_repo(task, 'for')}{status}")


def agent_error(event: TaskEvent, task: Mapping[str, Any]) -> SlackMessage:
    error_type = event.meta_str("error_type")
    preview = event.meta_str("message_preview")
    return _message(
        f":rotating_light: *Agent error*{_repo(task, 'during')}",
        f"_Type:_ `{safe(error_type, 100)}`" if error_type else None,
        safe(preview, PREVIEW_CHARS) if preview else None,
    )


RENDERERS: Mapping[str, Renderer] = {
    et.TASK_CREATED: task_created,
    et.SESSION_STARTED: session_started,
    et.TASK_COMPLETED: task_completed,
    et.TASK_FAILED: task_failed,
    et.TASK_CANCELLED: task_cancelled,
    et.TASK_TIMED_OUT: task_timed_out,
    et.TASK_STRANDED: task_stranded,
    et.AGENT_ERROR: agent_error,
}


def render(event: TaskEvent, task: Mapping[str, Any]) -> SlackMessage:
    """The message for an event; KeyError for a type this channel does not render (gated earlier)."""
    return RENDERERS[event.event_type](event, task)
