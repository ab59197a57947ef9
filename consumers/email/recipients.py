"""Who gets the email: the task's `notification_email`, else (when a user pool is configured) the
verified `email` of the task's user in Cognito, else nobody (a counted skip, `no_recipient`).

Either way the address must be one plain address (address.py): anything else is the skip
`invalid_recipient`, never a send. An address the task gives that is invalid is not replaced by the
user's Cognito address: the task said where to write, and writing elsewhere would surprise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from consumers.email.address import address_problem
from consumers.runtime.aws_errors import aws_code
from consumers.runtime.outcomes import Retry, Skipped, Terminal

TASK_FIELD = "notification_email"
NO_RECIPIENT = "no_recipient"
INVALID_RECIPIENT = "invalid_recipient"
# Cognito answers meaning "no such user": nothing to send to.
_NO_USER = frozenset({"UserNotFoundException"})
# The pool is missing or the function may not read it: a deployment fault an operator fixes, then redrives.
_MISCONFIGURED = frozenset({"ResourceNotFoundException", "AccessDeniedException", "NotAuthorizedException"})


@dataclass(frozen=True)
class Recipient:
    """One address a notification goes to."""

    address: str
    source: str  # "task" or "user_pool"


@dataclass(frozen=True)
class InvalidRecipient:
    """Not one plain address: the skip `invalid_recipient`, with what is wrong (never the address)."""

    problem: str


Resolution = Recipient | InvalidRecipient | Skipped | Retry | Terminal


class RecipientResolver:
    def __init__(self, cognito: Any | None, user_pool_id: str | None) -> None:
        self._cognito = cognito
        self._pool = user_pool_id

    def resolve(self, task: Mapping[str, Any]) -> Resolution:
        given = task.get(TASK_FIELD)
        if given is not None and not (isinstance(given, str) and not given.strip()):
            return _checked(given, "task")
        user_id = task.get("user_id")
        if self._cognito is None or self._pool is None or not isinstance(user_id, str) or not user_id:
            return Skipped(NO_RECIPIENT)
        try:
            user = self._cognito.admin_get_user(UserPoolId=self._pool, Username=user_id)
        except ClientError as exc:
            code = aws_code(exc)
            if code in _NO_USER:
                return Skipped(NO_RECIPIENT)
            if code in _MISCONFIGURED:
                return Terminal(f"user_pool_{code}", str(exc)[:300])
            return Retry(None, f"user_lookup_failed:{code}", costs_attempt=False)
        except BotoCoreError as exc:
            return Retry(None, f"user_lookup_failed:{type(exc).__name__}", costs_attempt=False)
        attributes = {a.get("Name"): a.get("Value") for a in user.get("UserAttributes") or []}
        if user.get("Enabled") is False or attributes.get("email_verified") != "true":
            return Skipped(NO_RECIPIENT)
        email = attributes.get("email")
        if not email:
            return Skipped(NO_RECIPIENT)
        return _checked(email, "user_pool")


def _checked(address: object, source: str) -> Recipient | InvalidRecipient:
    problem = address_problem(address)
    if problem is not None:
        return InvalidRecipient(problem)
    assert isinstance(address, str)
    return Recipient(address, source)
