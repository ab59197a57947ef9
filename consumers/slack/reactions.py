"""Emoji status on the thread root: best effort. A failure is logged (`fanout.slack.reaction_failed`),
never retried and never fails the delivery; `already_reacted` and `no_reaction` mean the root already
looks the way we want."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from consumers.slack import logs
from consumers.slack.calls import SlackCalls
from consumers.slack.tasks import SlackTarget
from fanout import event_types as et
from fanout.events import TaskEvent

REACTION_FOR: dict[str, str] = {
    et.TASK_CREATED: "eyes",
    et.SESSION_STARTED: "hourglass_flowing_sand",
    et.TASK_COMPLETED: "white_check_mark",
    et.TASK_FAILED: "x",
    et.TASK_STRANDED: "x",
    et.TASK_CANCELLED: "no_entry_sign",
    et.TASK_TIMED_OUT: "hourglass",
}
STALE = ("eyes", "hourglass_flowing_sand")  # in-progress marks, removed before the next one is added
_ALREADY = {"reactions.add": "already_reacted", "reactions.remove": "no_reaction"}


def stale_for(event_type: str) -> tuple[str, ...]:
    """The in-progress marks an event replaces: those of earlier stages than its own."""
    if event_type == et.TASK_CREATED:
        return ()
    if event_type == et.SESSION_STARTED:
        return ("eyes",)
    return STALE


def update_reactions(
    calls: SlackCalls, target: SlackTarget, root_ts: str | None, event: TaskEvent, logger: Logger
) -> None:
    """Swap the root's reaction, best effort. After a rate limit the swap stops: `calls` makes no further
    call in this delivery (see calls.py), and there is nothing more to log."""
    name = REACTION_FOR.get(event.event_type)
    if name is None or root_ts is None:
        return
    for stale in stale_for(event.event_type):
        _react(calls, "reactions.remove", stale, target, root_ts, event, logger)
        if calls.limited is not None:
            return
    _react(calls, "reactions.add", name, target, root_ts, event, logger)


def _react(
    calls: SlackCalls,
    method: str,
    name: str,
    target: SlackTarget,
    root_ts: str,
    event: TaskEvent,
    logger: Logger,
) -> None:
    """One reaction call; a failure is logged, never retried."""
    body = {"channel": target.channel, "timestamp": root_ts, "name": name}
    reply = calls.post(target.team_id, method, body, event)
    if reply.ok or reply.error == _ALREADY[method]:
        return
    logs.note(logger, logs.REACTION_FAILED, event, method=method, reaction=name, reason=reply.problem)
