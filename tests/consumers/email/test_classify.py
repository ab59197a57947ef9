"""SES's answers to SendEmail, classified (channels.md, Email: error classes and the uncertain rule)."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from consumers.email.classify import QUOTA_WAIT_S, classify_error
from consumers.runtime.outcomes import UNKNOWN_PREFIX, Retry, Terminal, UncertainOutcome

KEY = "ses:us-east-1"


def ses_error(code: str, status: int, message: str = "") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "SendEmail",
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        # rate limit: backoff with jitter (no Retry-After), the account's key held in this container
        (
            ses_error("TooManyRequestsException", 429),
            Retry(None, "TooManyRequestsException", rate_limit_key=KEY),
        ),
        (
            ses_error("Throttling", 400, "Maximum sending rate exceeded."),
            Retry(None, "Throttling", rate_limit_key=KEY),
        ),
        # the 24-hour quota: the key held an hour at a time, a free wait
        (
            ses_error("LimitExceededException", 400),
            Retry(QUOTA_WAIT_S, "quota_exceeded", rate_limit_key=KEY, costs_attempt=False),
        ),
        (
            ses_error("Throttling", 400, "Daily message quota exceeded."),
            Retry(QUOTA_WAIT_S, "quota_exceeded", rate_limit_key=KEY, costs_attempt=False),
        ),
        # provider outage: the circuit
        (ses_error("SendingPausedException", 400), Retry(None, "SendingPausedException", server_fault=True)),
        (
            ses_error("AccountSuspendedException", 400),
            Retry(None, "AccountSuspendedException", server_fault=True),
        ),
        # terminal
        (
            ses_error("MessageRejected", 400, "Email address is not verified."),
            Terminal("MessageRejected", "Email address is not verified."),
        ),
        (
            ses_error("MailFromDomainNotVerifiedException", 400),
            Terminal("MailFromDomainNotVerifiedException"),
        ),
        (ses_error("BadRequestException", 400, "bad"), Terminal("BadRequestException", "bad")),
        (
            ses_error("NotFoundException", 404, "no such configuration set"),
            Terminal("NotFoundException", "no such configuration set"),
        ),
        (ses_error("AccessDeniedException", 403), Terminal("AccessDeniedException")),
        # an answer nobody classified yet: retried, counted apart
        (ses_error("BrandNewException", 400), Retry(None, f"{UNKNOWN_PREFIX}BrandNewException")),
        # no credentials to sign with: nothing sent, counted apart (a deployment fault)
        (NoCredentialsError(), Retry(None, f"{UNKNOWN_PREFIX}NoCredentialsError")),
        # never connected: nothing sent, the outage circuit
        (
            EndpointConnectionError(endpoint_url="https://email.example"),
            Retry(None, "network_EndpointConnectionError", server_fault=True),
        ),
        (
            ConnectTimeoutError(endpoint_url="https://email.example"),
            Retry(None, "network_ConnectTimeoutError", server_fault=True),
        ),
    ],
    ids=lambda value: (
        type(value).__name__ if not isinstance(value, ClientError) else value.response["Error"]["Code"]
    ),
)
def test_refusals_before_sending_are_retried_or_terminal(error: Exception, expected: object) -> None:
    assert classify_error(error, rate_limit_key=KEY) == expected


@pytest.mark.parametrize(
    "error",
    [
        ses_error("InternalFailure", 500),
        ses_error("ServiceUnavailable", 503),
        ses_error("BadGateway", 502),
        ReadTimeoutError(endpoint_url="https://email.example"),
        ConnectionClosedError(endpoint_url="https://email.example"),
        RuntimeError("who knows"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_send_whose_outcome_is_unknown_is_never_a_retry(error: Exception) -> None:
    outcome = classify_error(error, rate_limit_key=KEY)
    assert isinstance(outcome, UncertainOutcome)
    assert outcome.reason == "uncertain_outcome"


def test_a_request_botocore_refused_to_build_is_terminal() -> None:
    outcome = classify_error(ParamValidationError(report="bad subject"), rate_limit_key=KEY)
    assert isinstance(outcome, Terminal)
    assert outcome.reason == "invalid_request"
