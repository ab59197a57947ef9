"""What SES's answer to SendEmail means: a pure function of the error (channels.md, Email).

SES has no idempotency key and no way to look a sent email up, so an answer that leaves the send in
doubt (a 5xx, a timeout or dropped connection after the request went out) is an UncertainOutcome,
never a Retry. Everything SES refused before accepting the message is safe to retry or is terminal.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from consumers.runtime.outcomes import UNKNOWN_PREFIX, Retry, Terminal, UncertainOutcome

# The 24-hour quota renews continuously; an hour at a time is long enough not to hammer SES with
# refused sends and short enough that the backlog moves soon after the window slides.
QUOTA_WAIT_S = 3600.0
RATE_LIMITED = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException"})
QUOTA = frozenset({"LimitExceededException"})
QUOTA_MESSAGE = "daily message quota exceeded"
OUTAGE = frozenset({"SendingPausedException", "AccountSuspendedException"})
TERMINAL = frozenset(
    {
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "BadRequestException",
        "NotFoundException",
        "AccessDeniedException",
        "AccessDenied",
    }
)
# Reasons a caller can recognise (tests, metrics, runbooks).
QUOTA_REASON = "quota_exceeded"
UNCERTAIN_REASON = "uncertain_outcome"
DETAIL_CHARS = 300

SendFailure = Retry | Terminal | UncertainOutcome


def classify_error(exc: BaseException, *, rate_limit_key: str) -> SendFailure:
    if isinstance(exc, ClientError):
        return _client_error(exc, rate_limit_key)
    if isinstance(exc, ConnectTimeoutError | EndpointConnectionError):
        # Never connected: nothing was sent. The outage circuit holds the key's other messages.
        return Retry(None, f"network_{type(exc).__name__}", server_fault=True)
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError):
        return UncertainOutcome(UNCERTAIN_REASON, f"no answer after sending ({type(exc).__name__})")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):  # signing comes before sending
        return Retry(None, f"{UNKNOWN_PREFIX}{type(exc).__name__}")
    if isinstance(exc, ParamValidationError):
        return Terminal("invalid_request", str(exc)[:DETAIL_CHARS])
    if isinstance(exc, BotoCoreError):
        # Anything else botocore raises may have happened after the request went out.
        return UncertainOutcome(UNCERTAIN_REASON, f"{type(exc).__name__}: {str(exc)[:DETAIL_CHARS]}")
    return UncertainOutcome(UNCERTAIN_REASON, f"{type(exc).__name__}: {str(exc)[:DETAIL_CHARS]}")


def _client_error(exc: ClientError, key: str) -> SendFailure:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "unknown"))
    message = str(error.get("Message", ""))[:DETAIL_CHARS]
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in QUOTA or (code in RATE_LIMITED and QUOTA_MESSAGE in message.lower()):
        return Retry(QUOTA_WAIT_S, QUOTA_REASON, rate_limit_key=key, costs_attempt=False)
    if code in RATE_LIMITED:
        return Retry(None, code, rate_limit_key=key)  # no Retry-After from SES: jittered backoff
    if code in OUTAGE:
        return Retry(None, code, server_fault=True)
    if code in TERMINAL:
        return Terminal(code, message)
    if status >= 500:
        return UncertainOutcome(UNCERTAIN_REASON, f"{code} (HTTP {status}) after sending: {message}")
    return Retry(None, f"{UNKNOWN_PREFIX}{code}")
