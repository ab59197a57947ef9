"""The email for each outcome: a subject, a plain-text body and an HTML body with the same facts as
the Slack terminal message (outcome, repository, duration and cost, the PR link, the failure reason).

Every untrusted value goes through escape.py (`plain` for the text part and the subject, `html_text`
for the HTML part); the only link is links.pull_request's. A value that is absent is left out, never
shown as "None".
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from consumers.email.escape import html_text, plain
from consumers.email.links import pull_request
from consumers.runtime.humanize import duration
from fanout import event_types as et
from fanout.events import TaskEvent

Task = Mapping[str, Any]
REASON_CHARS = 300
DESCRIPTION_CHARS = 200
REPO_CHARS = 100
STATUS_CHARS = 40
ID_CHARS = 100
UNKNOWN_ERROR = "Unknown error"


@dataclass(frozen=True)
class EmailMessage:
    """A rendered notification: subject and bodies, ready for SES."""

    subject: str  # one line: no CR/LF or other control character
    text: str
    html: str


@dataclass(frozen=True)
class _Fact:
    """One line of the body: a label (ours) and a value (untrusted, escaped per part)."""

    label: str
    value: str
    limit: int


@dataclass(frozen=True)
class _Outcome:
    """How a finished task is described in a message."""

    headline: str  # ours: "Task completed"
    facts: tuple[_Fact, ...] = ()
    trusted: tuple[str, ...] = ()  # lines of our own making (numbers we formatted)


Renderer = Callable[[TaskEvent, Task], _Outcome]


def render(event: TaskEvent, task: Task, *, github_host: str) -> EmailMessage:
    """The email for an event; KeyError for a type this channel does not render (gated earlier)."""
    outcome = RENDERERS[event.event_type](event, task)
    repo = _text(task.get("repo"))
    subject = f"{outcome.headline}: {plain(repo, REPO_CHARS)}" if repo else outcome.headline
    facts = list(outcome.facts)
    if repo:
        facts.insert(0, _Fact("Repository", repo, REPO_CHARS))
    description = _text(task.get("task_description"))
    if description:
        facts.append(_Fact("Task", description, DESCRIPTION_CHARS))
    facts.append(_Fact("Task ID", event.task_id, ID_CHARS))
    pr = pull_request(task, github_host=github_host)
    text_lines = [f"{outcome.headline}.", "", *outcome.trusted]
    text_lines += [f"{fact.label}: {plain(fact.value, fact.limit)}" for fact in facts]
    html_lines = [f"<p><strong>{html.escape(outcome.headline)}</strong></p>"]
    html_lines += [f"<p>{html.escape(line)}</p>" for line in outcome.trusted]
    html_lines += [f"<p>{html.escape(fact.label)}: {html_text(fact.value, fact.limit)}</p>" for fact in facts]
    if pr is not None and pr.url is not None:
        text_lines.append(f"Pull request #{pr.number}: {pr.url}")
        html_lines.append(
            f'<p><a href="{html.escape(pr.url, quote=True)}">View pull request #{pr.number}</a></p>'
        )
    elif pr is not None:
        text_lines.append(f"Pull request #{pr.number}")
        html_lines.append(f"<p>Pull request #{pr.number}</p>")
    footer = "Sent by fanout because this task asked for email notifications."
    text_lines += ["", footer]
    body = "\n".join(html_lines)
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f"<body>\n{body}\n<p><small>{html.escape(footer)}</small></p>\n</body></html>\n"
    )
    return EmailMessage(subject=subject, text="\n".join(text_lines) + "\n", html=page)


def _completed(event: TaskEvent, task: Task) -> _Outcome:
    facts = _facts(task)
    return _Outcome("Task completed", trusted=(facts,) if facts else ())


def _failed(event: TaskEvent, task: Task) -> _Outcome:
    reason = _text(task.get("error_message")) or event.meta_str("error") or UNKNOWN_ERROR
    return _Outcome("Task failed", facts=(_Fact("Reason", reason, REASON_CHARS),))


def _cancelled(event: TaskEvent, task: Task) -> _Outcome:
    return _Outcome("Task cancelled")


def _timed_out(event: TaskEvent, task: Task) -> _Outcome:
    seconds = _number(task.get("duration_s"))
    return _Outcome(
        "Task timed out", trusted=(f"Ran for {duration(seconds)}",) if seconds is not None else ()
    )


def _stranded(event: TaskEvent, task: Task) -> _Outcome:
    prior = event.meta_str("prior_status")
    facts = (_Fact("Last status", prior, STATUS_CHARS),) if prior else ()
    return _Outcome("Task stranded", facts=facts, trusted=("The agent stopped reporting.",))


RENDERERS: Mapping[str, Renderer] = MappingProxyType(
    {
        et.TASK_COMPLETED: _completed,
        et.TASK_FAILED: _failed,
        et.TASK_CANCELLED: _cancelled,
        et.TASK_TIMED_OUT: _timed_out,
        et.TASK_STRANDED: _stranded,
    }
)


def _facts(task: Task) -> str | None:
    """'4m 12s · $1.37', either half alone, or None."""
    seconds, cost = _number(task.get("duration_s")), _number(task.get("cost_usd"))
    parts = ([duration(seconds)] if seconds is not None else []) + (
        [f"${cost:.2f}"] if cost is not None else []
    )
    return " · ".join(parts) or None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
