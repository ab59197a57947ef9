"""Keep tokens out of logs and DLQ attributes: anything that looks like a credential is replaced."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

REDACTED = "[redacted]"
_TOKEN = re.compile(
    r"xox[a-z]-[A-Za-z0-9-]+"  # Slack bot / user / app tokens
    r"|xapp-[A-Za-z0-9-]+"
    r"|gh[pousr]_[A-Za-z0-9]+"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]+"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+"  # Authorization header values
)
_MARK = "_fanout_redacting"


def redact(text: str) -> str:
    return _TOKEN.sub(REDACTED, text)


def safe_error(text: str, limit: int = 1000) -> str:
    """An error text fit for a DLQ attribute or a log: no token, bounded length."""
    cleaned = redact(text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def install_redaction(logger: Logger) -> None:
    """Redact every line the logger's handler writes, whoever logs through it (the handler is shared by
    all Powertools loggers of the same service, channel code included). Idempotent."""
    formatter = logger.registered_handler.formatter
    if not isinstance(formatter, LambdaPowertoolsFormatter) or getattr(formatter, _MARK, False):
        return
    serialize: Callable[[Any], str] = formatter.json_serializer

    def redacting(log: Any) -> str:
        return redact(serialize(log))

    formatter.json_serializer = redacting
    setattr(formatter, _MARK, True)
