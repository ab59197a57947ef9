"""Keep tokens out of logs and DLQ attributes: the token values this container holds are replaced
wherever they appear, whatever their format, and so is anything that looks like a credential.

Pattern matching alone misses formats it does not know (a legacy 40-hex GitHub token echoed without
"Bearer"): every credential a provider request carries is remembered (deadline.py's request hook) and
redacted exactly from then on."""

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
    r"|(?i:basic)\s+[A-Za-z0-9+/=]{8,}"
    r"|x-access-token:[^@\s]+"  # a token in a git URL
    r"|\b[0-9a-f]{40}\b"  # a legacy (classic, pre-2021) GitHub token: 40 hex digits, no prefix
)
MIN_SECRET_CHARS = 8  # shorter values are not credentials, and replacing them would eat ordinary words
_held: set[str] = set()
_held_pattern: re.Pattern[str] | None = None
_MARK = "_fanout_redacting"


def remember_secret(value: str) -> None:
    """A credential this container holds: from now on it is redacted exactly, wherever it is echoed."""
    global _held_pattern
    value = value.strip()
    if len(value) < MIN_SECRET_CHARS or value in _held:
        return
    _held.add(value)
    # Longest first, so a token that contains another is replaced whole.
    _held_pattern = re.compile("|".join(re.escape(v) for v in sorted(_held, key=len, reverse=True)))


def redact(text: str) -> str:
    if _held_pattern is not None:
        text = _held_pattern.sub(REDACTED, text)
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
