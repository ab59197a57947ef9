"""The email channel: task, gates, recipient and message in `prepare`; one SES send in `deliver`.

Gates (each a counted skip with its reason): the task exists; the channel is not muted for it and the
event type is subscribed (per-task overrides); it has a recipient (`no_recipient`) that is one plain
address (`invalid_recipient`). Nothing is written to the task: once-only is the delivery ledger's.

SES cannot be asked whether a send whose answer was lost went out, so `reconcile` never finds
anything: an earlier attempt that may have sent ends as UncertainOutcome, dead-lettered as
`uncertain_outcome` for an operator to redrive knowingly (docs/operations.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from consumers.email import metrics
from consumers.email.classify import QUOTA_REASON, UNCERTAIN_REASON, classify_error
from consumers.email.config import EmailConfig, load_email_config
from consumers.email.pacer import SendPacer
from consumers.email.recipients import INVALID_RECIPIENT, InvalidRecipient, Recipient, RecipientResolver
from consumers.email.render import RENDERERS, render
from consumers.email.ses import SendRequest, send, send_config
from consumers.runtime.aws_errors import aws_code
from consumers.runtime.channel import Clock, Prepared
from consumers.runtime.clients import Clients
from consumers.runtime.gates import subscription_gate
from consumers.runtime.outcomes import Delivered, Outcome, Retry, Skipped, Terminal, UncertainOutcome
from consumers.runtime.settings import ConsumerSettings
from fanout import registry
from fanout.dynamo import AttributeValueError, from_item
from fanout.events import TaskEvent

REQUEST = "request"  # the key of the SendRequest in Prepared.extras
OUTAGE_CODES = frozenset({"SendingPausedException", "AccountSuspendedException"})


class EmailChannel:
    name = registry.EMAIL.name

    def __init__(
        self,
        *,
        settings: ConsumerSettings,
        config: EmailConfig,
        ses: Any,
        cognito: Any | None,
        dynamodb: Any,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        logger: Logger | None = None,
        count: Callable[[str], None] = metrics.count,
    ) -> None:
        self._logger = logger or Logger(service=registry.EMAIL.name, child=True)
        self._config = config
        self._ses = ses
        self._dynamodb = dynamodb
        self._task_table = settings.task_table
        self._count = count
        self._recipients = RecipientResolver(cognito, config.user_pool_id)
        self._pacer = SendPacer(
            ses, clock=clock, sleep=sleep, containers=config.containers, on_error=self._rate_unknown
        )
        # SES limits the account per region: that is what a throttled send says about every other send.
        self.rate_limit_key = f"ses:{ses.meta.region_name}"

    def prepare(self, event: TaskEvent) -> Prepared | Outcome:
        try:
            answer = self._dynamodb.get_item(
                TableName=self._task_table, Key={"task_id": {"S": event.task_id}}, ConsistentRead=True
            )
            task = from_item(answer["Item"]) if answer.get("Item") else None
        except (ClientError, BotoCoreError) as exc:
            return Retry(None, f"task_read_failed:{aws_code(exc)}")
        except AttributeValueError as exc:
            return Terminal("malformed_task", str(exc))
        if task is None:
            return Skipped("task_not_found")
        skipped = subscription_gate(
            event, task, channel=registry.EMAIL, renderable=RENDERERS, logger=self._logger
        )
        if skipped is not None:
            return skipped
        recipient = self._recipients.resolve(task)
        if isinstance(recipient, InvalidRecipient):
            self._note(INVALID_RECIPIENT, event, problem=recipient.problem)
            return Skipped(INVALID_RECIPIENT)
        if not isinstance(recipient, Recipient):
            return recipient
        message = render(event, task, github_host=self._config.github_host)
        request = SendRequest(
            sender=self._config.sender,
            recipient=recipient.address,
            message=message,
            configuration_set=self._config.configuration_set,
            event_id=event.event_id,
        )
        return Prepared(event=event, task=task, rate_limit_key=self.rate_limit_key, extras={REQUEST: request})

    def reconcile(self, prepared: Prepared) -> Delivered | Outcome | None:
        return UncertainOutcome(
            UNCERTAIN_REASON, "an earlier attempt may have sent this email, and SES cannot be asked"
        )

    def deliver(self, prepared: Prepared) -> Outcome:
        request = prepared.extras.get(REQUEST)
        if not isinstance(request, SendRequest):
            raise TypeError("Prepared was not made by the email channel's prepare")
        self._pacer.wait()
        try:
            message_id = send(self._ses, request)
        except Exception as exc:  # every answer is classified; nothing escapes to the runtime
            failure = classify_error(exc, rate_limit_key=self.rate_limit_key)
            if isinstance(failure, Retry) and failure.reason == QUOTA_REASON:
                self._count(metrics.SEND_QUOTA_EXCEEDED)
            elif isinstance(failure, Retry) and failure.reason in OUTAGE_CODES:
                self._count(metrics.SENDING_PAUSED)
            return failure
        return Delivered(f"ses_message_id:{message_id}")

    def _rate_unknown(self, error: str) -> None:
        self._note("send_rate_unknown", None, error=error)

    def _note(self, what: str, event: TaskEvent | None, **fields: Any) -> None:
        key = f"fanout.{registry.EMAIL.name}.{what}"
        extra: dict[str, Any] = {"event": key, **fields}
        if event is not None:
            extra.update(task_id=event.task_id, event_id=event.event_id, event_type=event.event_type)
        self._logger.warning(key, extra=extra)


def build_email_channel(settings: ConsumerSettings, clients: Clients, clock: Clock) -> EmailChannel:
    """The channel with clients built like the runtime's own; `api_base_url`, when set, is where SES
    calls go (a stand-in), else the AWS endpoint."""
    config = load_email_config(settings.channel_env, github_web_url=settings.github_web_url)
    # Only a given base URL replaces the endpoint the runtime's clients use (AWS's, or a local one).
    elsewhere = {"endpoint_url": settings.api_base_url} if settings.api_base_url else {}
    ses = clients.aws("sesv2", send_config(settings), **elsewhere)
    cognito = clients.aws("cognito-idp") if config.user_pool_id else None
    return EmailChannel(
        settings=settings, config=config, ses=ses, cognito=cognito, dynamodb=clients.dynamodb, clock=clock
    )
