"""Posting one event to Slack, once, with the bookkeeping the post needs; and finding a lost post again.

Two once-only mechanisms, both in the task's `channel_metadata`:
- task_created / session_started: their message ts, persisted after the post under attribute_not_exists.
  A post that loses that race is a duplicate and is deleted.
- terminal types (one shared slot) and agent_error (its own): the slot holds the event id that owns it.
  It is taken before posting (free, or already ours) and released again when the post fails in a way that
  surely posted nothing, so a retry finds it free; a different owner means another event already posted
  (a task_stranded after a task_failed posts nothing).

A post that succeeded but whose bookkeeping failed, and an answer that leaves it unknown whether Slack
posted, end `Retry(uncertain=True)`: the next attempt calls `reconcile`, which finds the message by the
event id in its metadata and finishes the bookkeeping instead of posting again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from consumers.runtime.aws_errors import aws_code
from consumers.runtime.outcomes import Delivered, Outcome, Retry, Skipped
from consumers.runtime.task_writes import TaskWrite
from consumers.slack import logs
from consumers.slack.api import SlackReply
from consumers.slack.calls import SlackCalls
from consumers.slack.classify import is_unknown
from consumers.slack.cleanup import delete_duplicate, terminal_cleanup
from consumers.slack.reactions import update_reactions
from consumers.slack.render import message_metadata, render
from consumers.slack.tasks import (
    AGENT_ERROR_SLOT,
    CREATED_TS,
    SESSION_TS,
    TERMINAL_SLOT,
    AwsError,
    SlackTarget,
    TaskStore,
    meta_text,
    metadata,
)
from fanout import event_types as et
from fanout.events import TaskEvent

if TYPE_CHECKING:
    from consumers.slack.finder import FoundPost

MESSAGE_TS = {et.TASK_CREATED: CREATED_TS, et.SESSION_STARTED: SESSION_TS}


def _store_busy(what: str, exc: Exception, *, uncertain: bool = False) -> Retry:
    """The task table refused a write (throttling, an outage): a wait, not a failed Slack call, so it
    costs no attempt. `uncertain` when the post already happened: the retry reconciles instead."""
    return Retry(None, f"{what}:{aws_code(exc)}", uncertain=uncertain, costs_attempt=False)


def slot_for(event_type: str) -> str:
    return TERMINAL_SLOT if et.is_terminal(event_type) else AGENT_ERROR_SLOT


class SlackDelivery:
    def __init__(self, calls: SlackCalls, store: TaskStore, logger: Logger) -> None:
        self._calls = calls
        self._store = store
        self._logger = logger

    # -- deliver --------------------------------------------------------------------------------------

    def claim_write(self, event: TaskEvent) -> TaskWrite | None:
        """The once-only slot a slot-guarded event takes before posting (the runtime carries it with
        the ledger claim); None for a lifecycle message, recorded after its post instead."""
        if event.event_type in MESSAGE_TS:
            return None
        slot = slot_for(event.event_type)
        taken = Skipped(f"{slot}_taken")
        return self._store.slot_write(event.task_id, slot, event.event_id, lost=lambda: taken)

    def deliver(
        self, event: TaskEvent, task: Mapping[str, Any], target: SlackTarget, claim_with: TaskWrite | None
    ) -> Outcome:
        self._calls.begin()
        return self._with_limit(self._deliver(event, task, target, claim_with))

    def reconcile(self, event: TaskEvent, task: Mapping[str, Any], target: SlackTarget) -> Outcome | None:
        self._calls.begin()
        found = self._reconcile(event, task, target)
        return None if found is None else self._with_limit(found)

    def _with_limit(self, outcome: Outcome) -> Outcome:
        """A delivery whose later best-effort call was rate-limited still tells the runtime of it."""
        limited = self._calls.limited
        if isinstance(outcome, Delivered) and limited is not None:
            return replace(
                outcome, rate_limit_key=limited.rate_limit_key, after_seconds=limited.after_seconds
            )
        return outcome

    def _deliver(
        self, event: TaskEvent, task: Mapping[str, Any], target: SlackTarget, claim_with: TaskWrite | None
    ) -> Outcome:
        field = MESSAGE_TS.get(event.event_type)
        if field is not None:
            return self._deliver_lifecycle(event, task, target, field)
        return self._deliver_once(event, task, target, slot_for(event.event_type), claim_with)

    def _deliver_lifecycle(
        self, event: TaskEvent, task: Mapping[str, Any], target: SlackTarget, field: str
    ) -> Outcome:
        if meta_text(task, field) is not None:
            return Skipped(f"{event.event_type}_already_posted")
        reply = self._post(event, task, target)
        if not reply.ok:
            return reply.outcome
        ts = str(reply.data.get("ts", ""))
        as_root = event.event_type == et.TASK_CREATED and target.thread_ts is None
        return self._record_lifecycle(event, target, field, ts, as_root=as_root)

    def _deliver_once(
        self,
        event: TaskEvent,
        task: Mapping[str, Any],
        target: SlackTarget,
        slot: str,
        claim_with: TaskWrite | None,
    ) -> Outcome:
        holder = metadata(task).get(slot)
        if holder is not None and holder != event.event_id:
            return Skipped(f"{slot}_taken")
        if claim_with is not None:  # not taken with the claim (a retry's take-over): take it now
            try:
                taken = self._store.apply(claim_with)
            except AwsError as exc:
                return _store_busy("slot_write_failed", exc)
            if not taken:
                return claim_with.lost()
        reply = self._post(event, task, target)
        if not reply.ok:
            outcome = reply.outcome
            if not (isinstance(outcome, Retry) and outcome.uncertain):
                self._release(event, slot)  # nothing was posted: the slot stays free for the retry
            return outcome
        self._after_once(event, task, target)
        return Delivered()

    def _post(self, event: TaskEvent, task: Mapping[str, Any], target: SlackTarget) -> SlackReply:
        message = render(event, task)
        body: dict[str, Any] = {
            "channel": target.post_channel,
            "text": message.text,
            "blocks": list(message.blocks),
            "unfurl_links": False,
            "metadata": message_metadata(event),
        }
        if target.thread_ts is not None:
            body["thread_ts"] = target.thread_ts
        reply = self._calls.post(target.team_id, "chat.postMessage", body, event)
        if is_unknown(reply.outcome):
            reason = getattr(reply.outcome, "reason", None)
            logs.note(self._logger, logs.UNKNOWN_ERROR, event, slack_error=reply.error, reason=reason)
        if reply.ok and not isinstance(reply.data.get("ts"), str):
            return SlackReply(Retry(None, "post_without_ts", uncertain=True), reply.data)
        return reply

    def _release(self, event: TaskEvent, slot: str) -> None:
        try:
            self._store.release_slot(event.task_id, slot, event.event_id)
        except AwsError as exc:
            # Still ours: this event's retry takes it again (free or ours), so nothing is lost.
            logs.note(self._logger, logs.SLOT_RELEASE_FAILED, event, slot=slot, reason=aws_code(exc))

    # -- bookkeeping shared by deliver and reconcile ----------------------------------------------------

    def _record_lifecycle(
        self, event: TaskEvent, target: SlackTarget, field: str, ts: str, *, as_root: bool
    ) -> Outcome:
        """Delivered, with the ts write as its record: the runtime commits it with the ledger completion.
        The reactions go first (best effort); if the record loses to another post, ours is deleted."""
        root = ts if as_root else target.thread_ts
        update_reactions(self._calls, target, root, event, self._logger)

        def lost() -> Outcome:
            delete_duplicate(self._calls, target, ts, event, self._logger)
            return Skipped(f"{event.event_type}_already_posted")

        record = self._store.ts_write(
            event.task_id,
            field,
            ts,
            as_thread_root=as_root,
            replacing_root=target.unusable_thread_ts,
            lost=lost,
        )
        return Delivered(record=record)

    def _after_once(self, event: TaskEvent, task: Mapping[str, Any], target: SlackTarget) -> None:
        if not et.is_terminal(event.event_type):
            return
        update_reactions(self._calls, target, target.thread_ts, event, self._logger)
        if self._calls.limited is None:
            terminal_cleanup(self._calls, target, task, event, self._logger)
        else:
            logs.note(self._logger, logs.CLEANUP_SKIPPED, event, reason="rate_limited")

    # -- reconcile ------------------------------------------------------------------------------------

    def _reconcile(self, event: TaskEvent, task: Mapping[str, Any], target: SlackTarget) -> Outcome | None:
        # Imported here: only an attempt after an uncertain outcome searches for its post, and the
        # finder's module and class cost about a millisecond of every cold start.
        from consumers.slack.finder import FoundPost, find_post

        found = find_post(self._calls, target, event)
        if not isinstance(found, FoundPost):
            return found
        field = MESSAGE_TS.get(event.event_type)
        if field is not None:
            return self._adopt_lifecycle(event, task, target, field, found)
        slot = slot_for(event.event_type)
        try:
            taken = self._store.take_slot(event.task_id, slot, event.event_id)
        except AwsError as exc:
            return _store_busy("slot_write_failed", exc, uncertain=True)
        if not taken:
            logs.note(self._logger, logs.SLOT_HELD_ELSEWHERE, event, slot=slot, ts=found.ts)
        self._after_once(event, task, target)
        return Delivered("reconciled")

    def _adopt_lifecycle(
        self, event: TaskEvent, task: Mapping[str, Any], target: SlackTarget, field: str, found: FoundPost
    ) -> Outcome:
        stored = meta_text(task, field)
        if stored == found.ts:  # the earlier attempt's bookkeeping was done; only reactions may lack
            own_root = event.event_type == et.TASK_CREATED and found.is_top_level
            root = target.thread_ts or (found.ts if own_root else None)
            update_reactions(self._calls, target, root, event, self._logger)
            return Delivered("reconciled")
        if stored is not None:  # another message won; ours is the duplicate
            delete_duplicate(self._calls, target, found.ts, event, self._logger)
            return Skipped(f"{event.event_type}_already_posted")
        as_root = event.event_type == et.TASK_CREATED and found.is_top_level
        outcome = self._record_lifecycle(event, target, field, found.ts, as_root=as_root)
        return replace(outcome, detail="reconciled") if isinstance(outcome, Delivered) else outcome
