"""GitHub tokens from Secrets Manager, read through Powertools' SecretsProvider, never logged.

The secret string is the token itself or JSON with a `token` field. A task names its own secret with
`github_token_secret_arn`; otherwise the platform default configured at deploy time is used. A token is
cached for `TOKEN_MAX_AGE_S` (as Slack's), so a rotated secret is picked up within that time without
waiting for GitHub to refuse the old token; `refresh` reads past the cache after a 401. A task whose
secret does not exist or holds no token ends Terminal("no_token") (dead-lettered with the reason, so an
operator can fix the secret and redrive); a Secrets Manager outage or throttle is a Retry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from consumers.runtime.aws_errors import aws_code
from consumers.runtime.outcomes import Retry, Terminal

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from mypy_boto3_secretsmanager import SecretsManagerClient
else:
    SecretsManagerClient = Any

NO_TOKEN = "no_token"
TOKEN_MAX_AGE_S = 300  # how long a read token is reused before Secrets Manager is asked again
# Errors no retry can fix: the secret is missing, unreadable by this function, or undecryptable.
_CONFIG_ERRORS = frozenset(
    {"ResourceNotFoundException", "AccessDeniedException", "DecryptionFailure", "InvalidRequestException"}
)
FINGERPRINT_CHARS = 16


@dataclass(frozen=True)
class Credential:
    """A GitHub token and the secret it came from (the token never in a repr)."""

    secret_id: str
    token: str = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """A short, non-reversible name for the token (sha256 prefix), safe for logs and keys."""
        return hashlib.sha256(self.token.encode()).hexdigest()[:FINGERPRINT_CHARS]

    @property
    def rate_limit_key(self) -> str:
        return f"github:{self.fingerprint}"


def parse_secret(secret_string: str) -> str | None:
    """The token in a secret string (the token itself, or JSON with `token`), or None."""
    text = secret_string.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str):
            return None
        return token.strip() or None
    return text or None


class TokenSource:
    def __init__(
        self, secrets: SecretsManagerClient, default_secret: str | None, *, max_age_s: int = TOKEN_MAX_AGE_S
    ) -> None:
        self._secrets = secrets
        self._provider: SecretsProvider | None = None  # built by the first read (`_secrets_provider`)
        self._default = default_secret
        self._max_age_s = max_age_s

    def secret_for(self, task_secret: object) -> str | None:
        """The task's own secret when it names one, else the platform default (None: neither)."""
        if isinstance(task_secret, str) and task_secret.strip():
            return task_secret.strip()
        return self._default

    def _secrets_provider(self) -> SecretsProvider:
        """Powertools' SecretsProvider, built on the first read. Its package imports every provider it
        has (SSM, AppConfig, DynamoDB with boto3's conditions): about 4 ms of a cold start, paid here only
        by a container that reads a token, not by one whose first messages need none (a duplicate, a
        skip, a malformed message, a held key)."""
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._provider = SecretsProvider(boto3_client=self._secrets)
        return self._provider

    def get(self, secret_id: str) -> Credential | Retry | Terminal:
        return self._read(secret_id, force=False)

    def refresh(self, secret_id: str) -> Credential | Retry | Terminal:
        """Read the secret again, past the cache (GitHub said 401)."""
        return self._read(secret_id, force=True)

    def _read(self, secret_id: str, *, force: bool) -> Credential | Retry | Terminal:
        provider = self._secrets_provider()
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            secret = provider.get(secret_id, max_age=self._max_age_s, force_fetch=force)
        except GetParameterError as exc:
            cause = exc.__cause__ or exc.__context__  # Powertools wraps the SDK error
            code = aws_code(cause) if cause is not None else "unknown"
            if code in _CONFIG_ERRORS:
                return Terminal(NO_TOKEN, f"secret {secret_id}: {code}")
            return Retry(None, f"secret_read_failed:{code or 'unknown'}")
        text = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
        token = parse_secret(text) if isinstance(text, str) else None
        if token is None:
            return Terminal(
                NO_TOKEN, f"secret {secret_id} holds no token (expected the token or JSON with 'token')"
            )
        return Credential(secret_id, token)
