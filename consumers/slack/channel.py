"""The Slack channel: gates and the workspace in `prepare`; the post and its bookkeeping in `delivery`.

Gates (each a counted skip with its reason, never an error): the task exists; it came from Slack; the
channel is not muted for it and the event type is subscribed (per-task overrides); it names its Slack
workspace and channel; a progress message is not superseded (the terminal message is out); the
workspace has a bot token. A throttled task read is a Retry.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from consumers.runtime.aws_errors import read_failed
from consumers.runtime.channel import Clock, Prepared
from consumers.runtime.clients import Clients
from consumers.runtime.gates import subscription_gate
from consumers.runtime.outcomes import Delivered, Outcome, Skipped, Terminal
from consumers.runtime.pr_links import vet_pr_link
from consumers.runtime.settings import ConsumerSettings
from consumers.slack.api import SlackApi
from consumers.slack.calls import SlackCalls, rate_limit_key
from consumers.slack.delivery import SlackDelivery
from consumers.slack.render import RENDERERS
from consumers.slack.tasks import (
    TERMINAL_SLOT,
    AwsError,
    SlackTarget,
    TaskStore,
    meta_text,
    target_of,
)
from consumers.slack.tokens import BotToken, NoToken, TokenSource
from fanout import event_types, registry
from fanout.dynamo import AttributeValueError
from fanout.events import TaskEvent

TARGET = "target"  # the key of the SlackTarget in Prepared.extras
SLACK_SOURCE = "slack"
# Progress messages that mean nothing once the task's terminal message is out. Per-task order means only
# a redrive of an old dead-lettered event gets here; posting it would swap the thread root's terminal
# reaction back to a progress one.
PROGRESS_TYPES = frozenset({event_types.TASK_CREATED, event_types.SESSION_STARTED})


class SlackChannel:
    name = registry.SLACK.name

    def __init__(
        self, *, settings: ConsumerSettings, clients: Clients, clock: Clock, logger: Logger | None = None
    ) -> None:
        self._logger = logger or Logger(service=registry.SLACK.name, child=True)
        self._store = TaskStore(clients.dynamodb, settings.task_table)
        self._tokens = TokenSource(clients.secrets, settings.slack_secret_prefix, clock)
        self._web_url = settings.github_web_url
        calls = SlackCalls(SlackApi(clients.http, settings.api_base_url), self._tokens, self._logger)
        self._delivery = SlackDelivery(calls, self._store, self._logger)

    def prepare(self, event: TaskEvent) -> Prepared | Outcome:
        try:
            task = self._store.read(event.task_id)
        except AwsError as exc:
            return read_failed("task_read_failed", exc)
        except AttributeValueError as exc:
            return Terminal("malformed_task", str(exc))
        if task is None:
            return Skipped("task_not_found")
        if task.get("channel_source") != SLACK_SOURCE:
            return Skipped("not_slack_task")
        skipped = subscription_gate(
            event, task, channel=registry.SLACK, renderable=RENDERERS, logger=self._logger
        )
        if skipped is not None:
            return skipped
        target = target_of(task)
        if target is None:
            return Skipped("missing_slack_metadata")
        if event.event_type in PROGRESS_TYPES and meta_text(task, TERMINAL_SLOT) is not None:
            return Skipped("superseded")
        token = self._tokens.get(target.team_id)
        if isinstance(token, NoToken):
            return Skipped(token.reason)
        if not isinstance(token, BotToken):
            return token
        task = vet_pr_link(
            event, task, web_url=self._web_url, logger=self._logger, channel=self.name, from_event=False
        )
        return Prepared(
            event=event,
            task=task,
            rate_limit_key=rate_limit_key(target.team_id),
            extras={TARGET: target},
            claim_with=self._delivery.claim_write(event),
        )

    def reconcile(self, prepared: Prepared) -> Delivered | Outcome | None:
        return self._delivery.reconcile(prepared.event, prepared.task, _target(prepared))

    def deliver(self, prepared: Prepared) -> Outcome:
        return self._delivery.deliver(prepared.event, prepared.task, _target(prepared), prepared.claim_with)


def build_slack_channel(settings: ConsumerSettings, clients: Clients, clock: Clock) -> SlackChannel:
    return SlackChannel(settings=settings, clients=clients, clock=clock)


def _target(prepared: Prepared) -> SlackTarget:
    target = prepared.extras.get(TARGET)
    if not isinstance(target, SlackTarget):
        raise TypeError("Prepared was not made by the Slack channel's prepare")
    return target
