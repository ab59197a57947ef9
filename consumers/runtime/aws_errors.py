"""What an AWS SDK error was, in the few words logs, retry reasons and conditional writes need."""

from __future__ import annotations

from botocore.exceptions import ClientError

CONDITION_FAILED = "ConditionalCheckFailedException"


def aws_code(exc: BaseException) -> str:
    """The service's error code (ThrottlingException, AccessDenied, ...), else the exception's type."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "unknown"))
    return type(exc).__name__


def condition_failed(exc: ClientError) -> bool:
    """A conditional DynamoDB write lost its condition (not an error: someone else got there first)."""
    return aws_code(exc) == CONDITION_FAILED
