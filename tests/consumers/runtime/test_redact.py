from __future__ import annotations

import io
import json
import uuid

import pytest
from aws_lambda_powertools import Logger

from consumers.runtime.redact import REDACTED, install_redaction, redact, remember_secret, safe_error


@pytest.mark.parametrize(
    "token",
    [
        "xoxb-1234-5678-abcdEFGH",
        "xoxp-1-2-3",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "ghs_0123456789abcdef",
        "github_pat_11ABCDEFG_0123456789abcdef",
        "Bearer eyJhbGciOi.J9.abc-def",
        "0123456789abcdef0123456789abcdef01234567",  # a legacy GitHub token, no prefix, no "Bearer"
        "x-access-token:s3cr3t",
    ],
)
def test_tokens_are_redacted(token: str) -> None:
    assert redact(f"call failed with {token} in header") == f"call failed with {REDACTED} in header"


def test_ordinary_text_is_left_alone() -> None:
    text = "channel_not_found: token_revoked for workspace T123 (ghost_user)"
    assert redact(text) == text


def test_safe_error_truncates_after_redacting() -> None:
    assert safe_error("x" * 50, limit=10) == "x" * 9 + "…"
    assert safe_error("xoxb-" + "a" * 40, limit=20) == REDACTED


def test_every_line_through_the_service_handler_is_redacted_even_from_other_loggers() -> None:
    service = f"redact-{uuid.uuid4().hex[:8]}"
    stream = io.StringIO()
    channel_logger = Logger(service=service, stream=stream)  # e.g. created first by channel code
    install_redaction(Logger(service=service))
    install_redaction(Logger(service=service))  # idempotent

    channel_logger.info("posting with xoxb-111-222-abc", extra={"auth": "Bearer abc.def"})

    (line,) = [json.loads(raw) for raw in stream.getvalue().splitlines()]
    assert line["message"] == f"posting with {REDACTED}"
    assert line["auth"] == REDACTED


def test_a_value_the_consumer_holds_is_redacted_exactly_wherever_it_appears() -> None:
    held = f"opaque-{uuid.uuid4().hex[:10]}-Token"
    assert redact(f"echo {held}!") == f"echo {held}!"  # no pattern knows it
    remember_secret(held)
    remember_secret("short")  # too short to be a credential: never replaces ordinary words
    assert redact(f"echo {held}! and {held}") == f"echo {REDACTED}! and {REDACTED}"
    assert redact("a short word") == "a short word"
