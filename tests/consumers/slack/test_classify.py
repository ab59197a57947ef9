from __future__ import annotations

import httpx
import pytest

from consumers.runtime.outcomes import Delivered, Retry, Terminal
from consumers.slack.classify import SlackOutcome, classify, is_unknown, retry_after

KEY = "slack:T1"
SPEC_TERMINAL = [
    "channel_not_found", "not_in_channel", "is_archived", "msg_too_long", "msg_blocks_too_long", "no_text",
    "invalid_blocks", "invalid_blocks_format", "invalid_arguments", "too_many_attachments", "not_authed",
    "invalid_auth", "token_revoked", "token_expired", "account_inactive", "no_permission", "missing_scope",
    "restricted_action", "ekm_access_denied", "team_access_not_granted", "posting_to_general_channel_denied",
    "as_user_not_supported", "message_limit_exceeded",
]  # fmt: skip


def error(code: str, status: int = 200, headers: dict[str, str] | None = None) -> SlackOutcome:
    return classify(status, headers or {}, {"ok": False, "error": code}, rate_limit_key=KEY)


def test_ok_is_delivered() -> None:
    assert classify(200, {}, {"ok": True, "ts": "1.2"}) == Delivered()


@pytest.mark.parametrize("code", SPEC_TERMINAL)
def test_spec_terminal_codes_are_terminal(code: str) -> None:
    assert error(code) == Terminal(code)


@pytest.mark.parametrize("code", ["ratelimited", "rate_limited"])
def test_rate_limit_codes_retry_with_the_workspace_key(code: str) -> None:
    outcome = error(code, headers={"Retry-After": "12"})
    assert outcome == Retry(12.0, code, rate_limit_key=KEY)


def test_http_429_retry_after_30() -> None:
    outcome = classify(429, {"retry-after": "30"}, {"ok": False, "error": "ratelimited"}, rate_limit_key=KEY)
    assert isinstance(outcome, Retry)
    assert outcome.after_seconds == 30
    assert outcome.rate_limit_key == KEY
    assert not outcome.uncertain


def test_http_429_without_a_body_still_rate_limits() -> None:
    outcome = classify(429, {"Retry-After": "5"}, None, rate_limit_key=KEY)
    assert outcome == Retry(5.0, "http_429", rate_limit_key=KEY)


@pytest.mark.parametrize(
    ("code", "uncertain", "server_fault"),
    [
        ("service_unavailable", False, True),
        ("team_added_to_org", False, False),
        ("internal_error", True, True),
        ("fatal_error", True, True),
    ],
)
def test_retryable_codes_which_are_uncertain_and_which_are_slacks_own_failure(
    code: str, uncertain: bool, server_fault: bool
) -> None:
    outcome = error(code)
    assert isinstance(outcome, Retry)
    assert outcome.reason == code
    assert outcome.uncertain is uncertain
    assert outcome.server_fault is server_fault
    assert outcome.rate_limit_key is None
    assert not is_unknown(outcome)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_an_uncertain_retry(status: int) -> None:
    outcome = classify(status, {}, None)
    assert isinstance(outcome, Retry)
    assert outcome.uncertain
    assert outcome.server_fault
    assert outcome.reason == f"http_{status}"
    with_code = classify(status, {}, {"ok": False, "error": "service_unavailable"})
    assert isinstance(with_code, Retry)
    assert with_code.uncertain
    assert with_code.server_fault


def test_rate_limits_and_unknown_codes_are_not_server_faults() -> None:
    for outcome in (classify(429, {"Retry-After": "1"}, None, rate_limit_key=KEY), error("brand_new")):
        assert isinstance(outcome, Retry)
        assert not outcome.server_fault


def test_unknown_code_is_retryable_and_marked_unknown() -> None:
    outcome = error("brand_new_error")
    assert outcome == Retry(None, "unknown:brand_new_error")
    assert is_unknown(outcome)


def test_a_200_that_is_not_slack_json_is_an_uncertain_unknown() -> None:
    outcome = classify(200, {}, None)
    assert isinstance(outcome, Retry)
    assert outcome.uncertain
    assert is_unknown(outcome)


@pytest.mark.parametrize(
    ("exc", "uncertain"),
    [
        (httpx.ConnectError, False),
        (httpx.ConnectTimeout, False),
        (httpx.PoolTimeout, False),
        (httpx.ReadTimeout, True),
        (httpx.WriteTimeout, True),
        (httpx.RemoteProtocolError, True),
        (httpx.ReadError, True),
    ],
)
def test_timeouts_and_connection_errors_retry_uncertain_only_after_sending(
    exc: type[Exception], uncertain: bool
) -> None:
    outcome = classify(None, {}, exc("boom"))
    assert isinstance(outcome, Retry)
    assert outcome.uncertain is uncertain
    assert outcome.server_fault is (exc is not httpx.PoolTimeout)  # a dry pool is ours, not Slack's
    assert outcome.after_seconds is None


@pytest.mark.parametrize("exc", [httpx.TooManyRedirects, httpx.DecodingError, httpx.UnsupportedProtocol])
def test_errors_of_one_request_are_not_slacks_outage(exc: type[Exception]) -> None:
    outcome = classify(None, {}, exc("boom"))
    assert isinstance(outcome, Retry)
    assert not outcome.server_fault


@pytest.mark.parametrize(
    ("raw", "seconds"), [("30", 30.0), ("1.5", 1.5), ("-3", 0.0), ("soon", None), ("inf", None)]
)
def test_retry_after_parsing(raw: str, seconds: float | None) -> None:
    assert retry_after({"Retry-After": raw}) == seconds
    assert retry_after({}) is None
