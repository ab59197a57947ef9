"""SES v2 SendEmail: the request and the client it goes through.

The client has botocore's retries off (total_max_attempts=1): a retried send after a lost answer
would send the email twice, and SES cannot tell us whether the first one went. Throttling and every
other refusal come back to the channel, which classifies them (classify.py) and lets the runtime wait.
Timeouts stay well inside the function's: a send that gets no answer is an uncertain outcome anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.config import Config

from consumers.email.render import EmailMessage
from consumers.runtime.settings import ConsumerSettings

SEND_CONFIG = Config(
    retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=3, read_timeout=10
)


def send_config(settings: ConsumerSettings) -> Config:
    """SEND_CONFIG with the channel's HTTP timeouts (the per-record time margin counts on them)."""
    return SEND_CONFIG.merge(
        Config(connect_timeout=settings.http_connect_timeout_s, read_timeout=settings.http_read_timeout_s)
    )


CHARSET = "UTF-8"
# Tag values SES accepts: letters, digits, `_`, `-`, `.`, `@` (at most 256). Event ids are ULIDs.
_TAG_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True)
class SendRequest:
    """One SES send, as the consumer hands it to the client."""

    sender: str
    recipient: str
    message: EmailMessage
    configuration_set: str | None
    event_id: str

    def as_kwargs(self) -> dict[str, Any]:
        """SendEmail's arguments. Addresses were validated (address.py); the subject is one line."""
        kwargs: dict[str, Any] = {
            "FromEmailAddress": self.sender,
            "Destination": {"ToAddresses": [self.recipient]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": self.message.subject, "Charset": CHARSET},
                    "Body": {
                        "Text": {"Data": self.message.text, "Charset": CHARSET},
                        "Html": {"Data": self.message.html, "Charset": CHARSET},
                    },
                }
            },
        }
        tag = "".join(c if c in _TAG_SAFE else "_" for c in self.event_id)[:256]
        if tag:  # lets an operator find the send in SES's event publishing (configuration set)
            kwargs["EmailTags"] = [{"Name": "fanout_event_id", "Value": tag}]
        if self.configuration_set:
            kwargs["ConfigurationSetName"] = self.configuration_set
        return kwargs


def send(ses: Any, request: SendRequest) -> str:
    """The SES message id; raises whatever botocore raises (classified by the caller)."""
    answer = ses.send_email(**request.as_kwargs())
    return str(answer.get("MessageId", ""))
