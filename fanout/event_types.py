"""The task lifecycle event types the platform emits, and how they group."""

from __future__ import annotations

TASK_CREATED = "task_created"
SESSION_STARTED = "session_started"
TASK_COMPLETED = "task_completed"
TASK_FAILED = "task_failed"
TASK_CANCELLED = "task_cancelled"
TASK_TIMED_OUT = "task_timed_out"
TASK_STRANDED = "task_stranded"
AGENT_ERROR = "agent_error"
AGENT_MILESTONE = "agent_milestone"
PR_CREATED = "pr_created"

TERMINAL: frozenset[str] = frozenset(
    {TASK_COMPLETED, TASK_FAILED, TASK_CANCELLED, TASK_TIMED_OUT, TASK_STRANDED}
)

# Only these milestones become an event type of their own; every other milestone keeps the type
# `agent_milestone`, which no channel renders, so it reaches no one.
ROUTABLE_MILESTONES: frozenset[str] = frozenset({PR_CREATED})

# Emitted today, plus the forward-compatible types the platform has announced.
KNOWN: frozenset[str] = frozenset(
    {
        TASK_CREATED,
        SESSION_STARTED,
        AGENT_ERROR,
        AGENT_MILESTONE,
        PR_CREATED,
        "approval_requested",
        "approval_stranded",
        "status_response",
    }
    | TERMINAL
)


def is_terminal(event_type: str) -> bool:
    return event_type in TERMINAL
