"""GitHub tokens from Secrets Manager, cached per container, never logged.

The secret string is the token itself or JSON with a `token` field. A task names its own secret with
`github_token_secret_arn`; otherwise the platform default configured at deploy time is used. A task
whose secret does not exist or holds no token ends Terminal("no_token") (dead-lettered with the reason,
so an operator can fix the secret and redrive); a Secrets Manager outage or throttle is a Retry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from consumers.runtime.outcomes import Retry, Terminal

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
else:
    SecretsManagerClient = Any

NO_TOKEN = "no_token"
# Errors no retry can fix: the secret is missing, unreadable by this function, or undecryptable.
_CONFIG_ERRORS = frozenset(
    {"ResourceNotFoundException", "AccessDeniedException", "DecryptionFailure", "InvalidRequestException"}
)
FINGERPRINT_CHARS = 16


@dataclass(frozen=True)
class Credential:
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
    def __init__(self, secrets: SecretsManagerClient, default_secret: str | None) -> None:
        self._secrets = secrets
        self._default = default_secret
        self._cache: dict[str, Credential] = {}

    def secret_for(self, task_secret: object) -> str | None:
        """The task's own secret when it names one, else the platform default (None: neither)."""
        if isinstance(task_secret, str) and task_secret.strip():
            return task_secret.strip()
        return self._default

    def get(self, secret_id: str) -> Credential | Retry | Terminal:
        cached = self._cache.get(secret_id)
        return cached if cached is not None else self._fetch(secret_id)

    def refresh(self, secret_id: str) -> Credential | Retry | Terminal:
        """Forget the cached token (GitHub said 401) and read the secret again."""
        self._cache.pop(secret_id, None)
        return self._fetch(secret_id)

    def _fetch(self, secret_id: str) -> Credential | Retry | Terminal:
        try:
            answer = self._secrets.get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _CONFIG_ERRORS:
                return Terminal(NO_TOKEN, f"secret {secret_id}: {code}")
            return Retry(None, f"secret_read_failed:{code or 'unknown'}")
        except BotoCoreError as exc:
            return Retry(None, f"secret_read_failed:{type(exc).__name__}")
        token = parse_secret(answer.get("SecretString") or "")
        if token is None:
            return Terminal(
                NO_TOKEN, f"secret {secret_id} holds no token (expected the token or JSON with 'token')"
            )
        credential = Credential(secret_id, token)
        self._cache[secret_id] = credential
        return credential
