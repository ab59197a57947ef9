"""The one status comment per task: post it, store its id, edit it in place, find it again.

Once-only rules:
- The first delivery POSTs and stores `github_comment_id` conditionally (see `tasks`); later ones PATCH
  it with the whole body, so repeating a PATCH is harmless.
- A 404 on PATCH (the comment was deleted) posts a new one stored in place of the old id; first it looks
  for a marker comment, because an earlier attempt may have re-posted already without storing the id.
- A lost race on the store (another attempt stored a different id first): that comment gets the body,
  ours is deleted (best effort, logged).
- A first POST for any event but pr_created looks for the marker first: an earlier event's POST may
  have landed unrecorded and then been dead-lettered, which leaves no uncertain claim behind.
- A POST whose effect is unknown (no answer, a 5xx, the id not stored) comes back as an uncertain Retry;
  the runtime then calls `reconcile`, which finds the comment by its marker, stores its id and deletes
  any duplicates. It answers Delivered when the comment already shows this event's body, else None and
  `deliver` PATCHes it (one cheap, idempotent write rather than a comparison GitHub could defeat by
  normalising the body).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from consumers.github.api import GitHubApi, Session
from consumers.github.finder import CommentFinder, Found, comment_id_of
from consumers.github.render import render_body
from consumers.github.tasks import PersistRace, Saved, SaveResult, TaskGone, TaskStore
from consumers.github.tokens import Credential, TokenSource
from consumers.runtime.channel import Clock
from consumers.runtime.outcomes import Delivered, Outcome, Retry, Skipped
from fanout import event_types
from fanout.events import TaskEvent


@dataclass
class Target:
    """Where the status comment lives. `comment_id` is the stored id, updated as it becomes known."""

    repo: str
    number: int
    credential: Credential
    comment_id: int | None = None


class StatusComments:
    def __init__(
        self, *, api: GitHubApi, tokens: TokenSource, store: TaskStore, clock: Clock, logger: Logger
    ) -> None:
        self._api = api
        self._tokens = tokens
        self._store = store
        self._clock = clock
        self._logger = logger
        self._finder = CommentFinder(logger)

    def deliver(self, event: TaskEvent, task: Any, target: Target) -> Outcome:
        session = self._session(target)
        body = render_body(event, task)
        if target.comment_id is None and event.event_type != event_types.PR_CREATED:
            # An earlier event's POST may have landed with its id never stored (an uncertain POST that
            # was then dead-lettered): look before posting, so a task never gets two status comments.
            found = self._finder.find(session, target.repo, target.number, event.task_id)
            if not isinstance(found, list):
                return found
            if found:
                adopted = self._adopt(session, event, target, found, body, replaced=None)
                return (
                    adopted
                    if adopted is not None
                    else self._patch(session, event, target, body, repost=False)
                )
        if target.comment_id is None:
            return self._create(session, event, target, body, replaced=None)
        return self._patch(session, event, target, body, repost=True)

    def reconcile(self, event: TaskEvent, task: Any, target: Target) -> Outcome | None:
        if target.comment_id is not None:
            return None  # deliver edits the stored comment; repeating a PATCH is harmless
        session = self._session(target)
        found = self._finder.find(session, target.repo, target.number, event.task_id)
        if not isinstance(found, list):
            return found
        if not found:
            return None
        return self._adopt(session, event, target, found, render_body(event, task), replaced=None)

    def _session(self, target: Target) -> Session:
        return Session(self._api, self._tokens, target.credential, self._clock, self._logger)

    def _patch(
        self, session: Session, event: TaskEvent, target: Target, body: str, *, repost: bool
    ) -> Outcome:
        comment_id = target.comment_id
        assert comment_id is not None
        response = session.call("PATCH", _comment_path(target.repo, comment_id), json={"body": body})
        if not isinstance(response, httpx.Response):
            return response
        if response.status_code == 404:
            self._log("comment_missing", event, comment_id=comment_id)
            if not repost:
                return Retry(None, "comment_missing")
            return self._replace(session, event, target, body, old_id=comment_id)
        outcome = session.outcome(response, "PATCH")
        return Delivered(f"updated comment {comment_id}") if isinstance(outcome, Delivered) else outcome

    def _replace(
        self, session: Session, event: TaskEvent, target: Target, body: str, *, old_id: int
    ) -> Outcome:
        """The stored comment is gone. An earlier attempt may have re-posted without storing the new id,
        so look for the marker before posting again."""
        found = self._finder.find(session, target.repo, target.number, event.task_id)
        if not isinstance(found, list):
            return found
        if not found:
            return self._create(session, event, target, body, replaced=old_id)
        adopted = self._adopt(session, event, target, found, body, replaced=old_id)
        return adopted if adopted is not None else self._patch(session, event, target, body, repost=False)

    def _create(
        self, session: Session, event: TaskEvent, target: Target, body: str, *, replaced: int | None
    ) -> Outcome:
        path = f"/repos/{target.repo}/issues/{target.number}/comments"
        response = session.call("POST", path, json={"body": body})
        if not isinstance(response, httpx.Response):
            return response
        outcome = session.outcome(response, "POST")
        if not isinstance(outcome, Delivered):
            return outcome
        new_id = comment_id_of(_json(response))
        if new_id is None:
            return Retry(None, "post_answer_without_id", uncertain=True)
        saved = self._save(event, new_id, replaced=replaced)
        if isinstance(saved, Retry):
            return saved
        if isinstance(saved, TaskGone):
            return Delivered(f"posted comment {new_id}; the task is gone")
        if isinstance(saved, Saved):
            target.comment_id = new_id
            self._log("comment_posted", event, comment_id=new_id, replaced=replaced)
            return Delivered(f"posted comment {new_id}")
        return self._lost_race(session, event, target, body, ours=new_id, winner=saved.comment_id)

    def _lost_race(
        self, session: Session, event: TaskEvent, target: Target, body: str, *, ours: int, winner: int
    ) -> Outcome:
        """Another attempt stored `winner` first: it gets the body and ours goes, unless the winner's
        comment is gone, in which case ours takes its place."""
        self._log("comment_race_lost", event, comment_id=ours, winner=winner)
        target.comment_id = winner
        response = session.call("PATCH", _comment_path(target.repo, winner), json={"body": body})
        if isinstance(response, httpx.Response) and response.status_code == 404:
            saved = self._save(event, ours, replaced=winner)
            if isinstance(saved, Saved):
                target.comment_id = ours
                return Delivered(f"posted comment {ours}")
            if isinstance(saved, Retry):
                return saved
            if isinstance(saved, TaskGone):
                return Delivered(f"posted comment {ours}; the task is gone")
            target.comment_id = saved.comment_id
            self._delete_duplicate(session, event, target, ours)
            return Retry(None, "comment_race")
        self._delete_duplicate(session, event, target, ours)
        if not isinstance(response, httpx.Response):
            return response
        outcome = session.outcome(response, "PATCH")
        return Delivered(f"updated comment {winner}") if isinstance(outcome, Delivered) else outcome

    def _adopt(
        self,
        session: Session,
        event: TaskEvent,
        target: Target,
        found: Found,
        body: str,
        *,
        replaced: int | None,
    ) -> Outcome | None:
        """Store the oldest marker comment as the task's comment and delete the other ones. Delivered when
        the kept comment already shows `body`, None when it still needs the PATCH."""
        adopted_id, adopted_body = found[0]
        saved = self._save(event, adopted_id, replaced=replaced)
        if isinstance(saved, Retry):
            return saved
        if isinstance(saved, TaskGone):
            return Skipped("task_not_found")
        target.comment_id = adopted_id if isinstance(saved, Saved) else saved.comment_id
        self._log("comment_adopted", event, comment_id=adopted_id, kept=target.comment_id)
        for comment_id, _ in found:
            if comment_id != target.comment_id:
                self._delete_duplicate(session, event, target, comment_id)
        if target.comment_id == adopted_id and adopted_body == body:
            return Delivered(f"comment {adopted_id} already current")
        return None

    def _save(self, event: TaskEvent, comment_id: int, *, replaced: int | None) -> SaveResult | Retry:
        try:
            saved = self._store.save_comment_id(event.task_id, comment_id, replaced=replaced)
        except (ClientError, BotoCoreError, PersistRace) as exc:
            # The comment exists but its id is not stored: the next attempt reconciles by the marker.
            self._log("persist_failed", event, comment_id=comment_id, error=type(exc).__name__, warn=True)
            return Retry(None, "persist_failed", uncertain=True)
        if isinstance(saved, TaskGone):
            self._log("task_gone", event, comment_id=comment_id, warn=True)
        return saved

    def _delete_duplicate(self, session: Session, event: TaskEvent, target: Target, comment_id: int) -> None:
        response = session.call("DELETE", _comment_path(target.repo, comment_id))
        if isinstance(response, httpx.Response) and (response.is_success or response.status_code == 404):
            self._log("duplicate_deleted", event, comment_id=comment_id)
            return
        error = f"http_{response.status_code}" if isinstance(response, httpx.Response) else response.reason
        self._log("dup_delete_failed", event, comment_id=comment_id, error=error, warn=True)

    def _log(self, what: str, event: TaskEvent, *, warn: bool = False, **fields: Any) -> None:
        key = f"fanout.github.{what}"
        line: dict[str, Any] = {
            "event": key,
            "task_id": event.task_id,
            "event_id": event.event_id,
            "event_type": event.event_type,
        }
        line.update(fields)
        (self._logger.warning if warn else self._logger.info)(key, extra=line)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _comment_path(repo: str, comment_id: int) -> str:
    return f"/repos/{repo}/issues/comments/{comment_id}"
