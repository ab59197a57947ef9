"""What an AWS SDK error was, in the few words logs, retry reasons and conditional writes need."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from consumers.runtime.outcomes import Retry, Terminal

CONDITION_FAILED = "ConditionalCheckFailedException"


def aws_code(exc: BaseException) -> str:
    """The service's error code (ThrottlingException, AccessDenied, ...), else the exception's type."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "unknown"))
    return type(exc).__name__


def condition_failed(exc: ClientError) -> bool:
    """A conditional DynamoDB write lost its condition (not an error: someone else got there first)."""
    return aws_code(exc) == CONDITION_FAILED


# Answers that say "not now" rather than "never": throttling, and the service failing on its side.
_TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TransactionConflictException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def transient(exc: BaseException) -> bool:
    """Whether the same request can succeed later: throttling, a 5xx, or no answer at all (connection,
    timeout). Anything else (a ValidationException for an oversized key, a missing table, access denied)
    is a request that fails the same way every time."""
    if isinstance(exc, BotoCoreError):
        return True
    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return aws_code(exc) in _TRANSIENT_CODES or (isinstance(status, int) and status >= 500)


def describe(exc: BaseException) -> str:
    """`Code: message` of an SDK error, for a DLQ's last_error."""
    if isinstance(exc, ClientError):
        return f"{aws_code(exc)}: {exc.response.get('Error', {}).get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"


def read_failed(what: str, exc: BaseException) -> Retry | Terminal:
    """A failed read before any provider call (the task, say): a transient one waits for free; one that
    can never succeed is dead-lettered at once with its reason, instead of blocking the task's group until
    the age budget ends."""
    if transient(exc):
        return Retry(None, f"{what}:{aws_code(exc)}")
    return Terminal(what, describe(exc))
