"""The GitHub channel: gates, target and token in `prepare`; the status comment in `status_comment`.

Gates (each a counted skip, logged by the runtime with its reason): the task exists; the channel is not
muted for it and the event type is subscribed (per-task overrides); the task has a `repo`; it has a
target (`pr_number`, else `issue_number`); the event is not superseded (the task has ended, its comment
exists and shows that end: a redriven old event or a late `task_stranded` must not edit it back).

Token: the task's `github_token_secret_arn`, else the platform default (`FANOUT_GITHUB_TOKEN_SECRET`).
A task with neither ends Terminal("no_token"): it is dead-lettered with that reason rather than skipped,
because it is a deployment fault (the default secret is not configured) that an operator fixes and then
redrives. The same goes for a secret that does not exist or holds no token.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from consumers.github.api import GitHubApi
from consumers.github.pacer import Pacer
from consumers.github.render import RENDERERS
from consumers.github.status_comment import StatusComments, Target
from consumers.github.tasks import TaskStore, stored_comment_id
from consumers.github.tokens import NO_TOKEN, Credential, TokenSource
from consumers.runtime.aws_errors import read_failed
from consumers.runtime.channel import Clock, Prepared
from consumers.runtime.clients import Clients
from consumers.runtime.gates import subscription_gate
from consumers.runtime.outcomes import Delivered, Outcome, Skipped, Terminal
from consumers.runtime.pr_links import vet_pr_link
from consumers.runtime.settings import ConsumerSettings
from fanout import event_types, registry
from fanout.dynamo import AttributeValueError
from fanout.events import TaskEvent

TARGET = "target"  # the key of the Target in Prepared.extras
# Task statuses (data-model.md) after which nothing but a terminal event changes the comment.
ENDED_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})
STATUS_OF = {
    event_types.TASK_COMPLETED: "COMPLETED",
    event_types.TASK_FAILED: "FAILED",
    event_types.TASK_CANCELLED: "CANCELLED",
    event_types.TASK_TIMED_OUT: "TIMED_OUT",
}
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


class GitHubChannel:
    name = registry.GITHUB.name

    def __init__(
        self,
        *,
        settings: ConsumerSettings,
        clients: Clients,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        logger: Logger | None = None,
    ) -> None:
        self._logger = logger or Logger(service=registry.GITHUB.name, child=True)
        self._store = TaskStore(clients.dynamodb, settings.task_table)
        self._tokens = TokenSource(clients.secrets, settings.github_token_secret)
        self._web_url = settings.github_web_url
        api = GitHubApi(
            http=clients.http,
            base_url=settings.api_base_url,
            pacer=Pacer(clock, sleep),
            clock=clock,
            logger=self._logger,
        )
        self._comments = StatusComments(
            api=api, tokens=self._tokens, store=self._store, clock=clock, logger=self._logger
        )

    def prepare(self, event: TaskEvent) -> Prepared | Outcome:
        try:
            task = self._store.read(event.task_id)
        except (ClientError, BotoCoreError) as exc:
            return read_failed("task_read_failed", exc)
        except AttributeValueError as exc:
            return Terminal("malformed_task", str(exc))
        if task is None:
            return Skipped("task_not_found")
        gate = self._gate(event, task)
        if gate is not None:
            return gate
        repo, number = task["repo"].strip(), _target_number(task)
        assert number is not None  # checked by the gate
        secret_id = self._tokens.secret_for(task.get("github_token_secret_arn"))
        if secret_id is None:
            return Terminal(NO_TOKEN, "the task names no token secret and no platform default is configured")
        credential = self._tokens.get(secret_id)
        if not isinstance(credential, Credential):
            return credential
        target = Target(repo=repo, number=number, credential=credential, comment_id=stored_comment_id(task))
        task = vet_pr_link(event, task, web_url=self._web_url, logger=self._logger, channel=self.name)
        return Prepared(
            event=event, task=task, rate_limit_key=credential.rate_limit_key, extras={TARGET: target}
        )

    def reconcile(self, prepared: Prepared) -> Delivered | Outcome | None:
        return self._comments.reconcile(prepared.event, prepared.task, _target(prepared))

    def deliver(self, prepared: Prepared) -> Outcome:
        return self._comments.deliver(prepared.event, prepared.task, _target(prepared))

    def _gate(self, event: TaskEvent, task: Mapping[str, Any]) -> Outcome | None:
        skipped = subscription_gate(
            event, task, channel=registry.GITHUB, renderable=RENDERERS, logger=self._logger
        )
        if skipped is not None:
            return skipped
        repo = task.get("repo")
        if not isinstance(repo, str) or not repo.strip():
            return Skipped("no_repo")
        if not _REPO.fullmatch(repo.strip()) or ".." in repo:
            return Terminal("invalid_repo", "repo is not of the form owner/name")
        if _target_number(task) is None:
            return Skipped("no_target")
        if _superseded(event, task):
            return Skipped("superseded")
        return None


def build_github_channel(settings: ConsumerSettings, clients: Clients, clock: Clock) -> GitHubChannel:
    return GitHubChannel(settings=settings, clients=clients, clock=clock)


def _target(prepared: Prepared) -> Target:
    target = prepared.extras.get(TARGET)
    if not isinstance(target, Target):
        raise TypeError("Prepared was not made by the GitHub channel's prepare")
    return target


def _superseded(event: TaskEvent, task: Mapping[str, Any]) -> bool:
    """The task has ended, its status comment exists, and this event is not the one that says how it
    ended: an older `pr_created` redriven from the DLQ (it would edit "completed" back to "PR opened"),
    or the reconciler's `task_stranded` after the task failed (it would replace the failure's reason).
    Without a comment the event still posts, so a task whose terminal event is not subscribed still
    gets one."""
    status = task.get("status")
    return (
        status in ENDED_STATUSES
        and STATUS_OF.get(event.event_type) != status
        and stored_comment_id(task) is not None
    )


def _target_number(task: Mapping[str, Any]) -> int | None:
    """`pr_number`, else `issue_number`: a positive whole number."""
    for name in ("pr_number", "issue_number"):
        value = task.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None
