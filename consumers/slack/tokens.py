"""Slack bot tokens per workspace, from Secrets Manager, cached for the life of the container.

The secret `<prefix><team_id>` holds the token itself or JSON with `bot_token`. Powertools' SecretsProvider
(on the injected client) caches what it read for `TOKEN_MAX_AGE_S`; `refresh` forces a new read after Slack
said `invalid_auth` / `token_expired` (the token was rotated). A workspace without a secret is remembered
for `ABSENT_MAX_AGE_S`, so a stream of events for an unconfigured workspace does not read Secrets Manager
for each one. Tokens never appear in a log line, a reason or a repr.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from consumers.runtime.aws_errors import aws_code
from consumers.runtime.channel import Clock
from consumers.runtime.outcomes import Retry, Terminal

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from mypy_boto3_secretsmanager import SecretsManagerClient
else:
    SecretsManagerClient = Any

TOKEN_MAX_AGE_S = 300
ABSENT_MAX_AGE_S = 60
ABSENT = "ResourceNotFoundException"
# Errors no retry can fix until an operator acts: dead-lettered with the reason, then redriven.
_CONFIG_ERRORS = frozenset({"AccessDeniedException", "DecryptionFailure", "InvalidRequestException"})


@dataclass(frozen=True)
class NoToken:
    """The workspace has no usable bot token: a gate (counted skip), not an error."""

    reason: str


@dataclass(frozen=True)
class BotToken:
    """A workspace's bot token (the value never in a repr)."""

    team_id: str
    value: str = field(repr=False)


def parse_secret(secret: str | bytes) -> str | None:
    text = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        token = data.get("bot_token") if isinstance(data, dict) else None
        return token.strip() or None if isinstance(token, str) else None
    return text or None


class TokenSource:
    def __init__(self, secrets: SecretsManagerClient, prefix: str, clock: Clock) -> None:
        self._secrets = secrets
        self._provider: SecretsProvider | None = None  # built by the first read (`_secrets_provider`)
        self._prefix = prefix
        self._clock = clock
        self._absent_until: dict[str, float] = {}

    def secret_name(self, team_id: str) -> str:
        return f"{self._prefix}{team_id}"

    def _secrets_provider(self) -> SecretsProvider:
        """Powertools' SecretsProvider, built on the first read. Its package imports every provider it
        has (SSM, AppConfig, DynamoDB with boto3's conditions): about 4 ms of a cold start, paid here only
        by a container that reads a token, not by one whose first messages need none (a duplicate, a
        skip, a malformed message, a held key)."""
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._provider = SecretsProvider(boto3_client=self._secrets)
        return self._provider

    def get(self, team_id: str) -> BotToken | NoToken | Retry | Terminal:
        if self._absent_until.get(team_id, 0.0) > self._clock():
            return NoToken("no_bot_token")
        return self._read(team_id, force=False)

    def refresh(self, team_id: str) -> BotToken | NoToken | Retry | Terminal:
        """Read the secret again, past the cache (Slack refused the cached token)."""
        self._absent_until.pop(team_id, None)
        return self._read(team_id, force=True)

    def _read(self, team_id: str, *, force: bool) -> BotToken | NoToken | Retry | Terminal:
        name = self.secret_name(team_id)
        provider = self._secrets_provider()
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            secret = provider.get(name, max_age=TOKEN_MAX_AGE_S, force_fetch=force)
        except GetParameterError as exc:
            code = _aws_code(exc)
            if code == ABSENT:
                self._absent_until[team_id] = self._clock() + ABSENT_MAX_AGE_S
                return NoToken("no_bot_token")
            if code in _CONFIG_ERRORS:
                return Terminal("bot_token_unreadable", f"secret {name}: {code}")
            return Retry(None, f"secret_read_failed:{code}")
        token = parse_secret(secret) if isinstance(secret, str | bytes) else None
        if token is None:
            return NoToken("no_bot_token_in_secret")
        return BotToken(team_id, token)


def _aws_code(exc: GetParameterError) -> str:
    """Powertools wraps the SDK error; the original is the exception it was raised while handling."""
    cause = exc.__cause__ or exc.__context__
    return aws_code(cause) if cause is not None else "unknown"
