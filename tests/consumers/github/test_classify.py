"""Every class of GitHub answer maps to the outcome the spec names (pure: response, method, clock)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from consumers.github.classify import (
    DEFAULT_RATE_LIMIT_WAIT_S,
    classify,
    classify_transport_error,
    rate_limit_low,
    rate_limit_wait,
)
from consumers.runtime.outcomes import Delivered, Retry, Terminal

NOW = 1_800_000_000.0
KEY = "github:abc"
SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


def answer(status: int, message: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"message": message}, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )


def run(response: httpx.Response, method: str = "POST") -> Any:
    return classify(response, method=method, now=NOW, rate_limit_key=KEY)


@pytest.mark.parametrize("status", [200, 201, 204])
def test_2xx_is_delivered(status: int) -> None:
    assert isinstance(run(httpx.Response(status)), Delivered)


@pytest.mark.parametrize("status", [403, 429])
def test_retry_after_wins(status: int) -> None:
    outcome = run(
        answer(status, SECONDARY, retry_after="37", x_ratelimit_remaining="0", x_ratelimit_reset="9")
    )
    assert outcome == Retry(37.0, f"rate_limited_{status}", rate_limit_key=KEY)


def test_secondary_limit_without_retry_after_waits_a_minute() -> None:
    assert run(answer(403, SECONDARY)) == Retry(
        DEFAULT_RATE_LIMIT_WAIT_S, "rate_limited_403", rate_limit_key=KEY
    )


def test_primary_limit_waits_until_the_reset() -> None:
    response = answer(
        403,
        "API rate limit exceeded for user.",
        x_ratelimit_remaining="0",
        x_ratelimit_reset=str(int(NOW) + 754),
    )
    assert run(response, "PATCH") == Retry(754.0, "rate_limited_403", rate_limit_key=KEY)


def test_a_reset_already_past_still_waits_a_second() -> None:
    response = answer(429, x_ratelimit_remaining="0", x_ratelimit_reset=str(int(NOW) - 5))
    assert run(response).after_seconds == 1.0


def test_the_older_abuse_message_is_a_rate_limit() -> None:
    outcome = run(answer(403, "You have triggered an abuse detection mechanism."))
    assert outcome == Retry(DEFAULT_RATE_LIMIT_WAIT_S, "rate_limited_403", rate_limit_key=KEY)


def test_a_bare_429_is_a_rate_limit() -> None:
    assert run(answer(429)) == Retry(DEFAULT_RATE_LIMIT_WAIT_S, "rate_limited_429", rate_limit_key=KEY)


def test_a_permission_403_is_terminal_with_githubs_message() -> None:
    outcome = run(answer(403, "Resource not accessible by integration", x_ratelimit_remaining="4000"))
    assert outcome == Terminal("http_403", "Resource not accessible by integration")


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_client_errors_are_terminal(status: int) -> None:
    assert run(answer(status, "nope")) == Terminal(f"http_{status}", "nope")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retries_as_a_server_fault_and_is_uncertain_only_for_post(status: int) -> None:
    fault = Retry(None, f"http_{status}", server_fault=True)
    assert run(answer(status), "POST") == replace(fault, uncertain=True)
    assert run(answer(status), "PATCH") == fault
    assert run(answer(status), "GET") == fault


def test_a_408_retries_without_calling_it_a_server_fault() -> None:
    assert run(answer(408), "PATCH") == Retry(None, "http_408")


def test_a_non_json_error_body_is_kept_as_detail() -> None:
    outcome = run(httpx.Response(400, text="<html>bad gateway page</html>"))
    assert outcome == Terminal("http_400", "<html>bad gateway page</html>")


def request() -> httpx.Request:
    return httpx.Request("POST", "https://api.github.test/x")


@pytest.mark.parametrize(
    ("exc", "uncertain"),
    [
        (httpx.ReadTimeout("slow", request=request()), True),
        (httpx.WriteTimeout("slow", request=request()), True),
        (httpx.RemoteProtocolError("dropped", request=request()), True),
        (httpx.ReadError("reset", request=request()), True),
        (httpx.ConnectError("refused", request=request()), False),
        (httpx.ConnectTimeout("syn", request=request()), False),
        (httpx.PoolTimeout("busy", request=request()), False),
    ],
)
def test_transport_errors_retry_and_post_may_have_applied(exc: httpx.HTTPError, uncertain: bool) -> None:
    outcome = classify_transport_error(exc, method="POST")
    assert outcome.after_seconds is None
    assert outcome.reason == f"network_{type(exc).__name__}"
    assert outcome.uncertain is uncertain
    assert outcome.server_fault is not isinstance(exc, httpx.PoolTimeout)  # a dry pool is ours
    assert classify_transport_error(exc, method="PATCH").uncertain is False


def test_a_redirect_loop_is_not_githubs_outage() -> None:
    outcome = classify_transport_error(httpx.TooManyRedirects("loop", request=request()), method="POST")
    assert not outcome.server_fault


def test_rate_limit_low_below_ten_percent() -> None:
    low = rate_limit_low(
        httpx.Headers(
            {"x-ratelimit-remaining": "499", "x-ratelimit-limit": "5000", "x-ratelimit-reset": "1800000600"}
        )
    )
    assert low is not None
    assert (low.remaining, low.limit, low.reset_epoch) == (499, 5000, 1800000600)
    assert (
        rate_limit_low(httpx.Headers({"x-ratelimit-remaining": "500", "x-ratelimit-limit": "5000"})) is None
    )
    assert rate_limit_low(httpx.Headers({"x-ratelimit-remaining": "3"})) is None
    assert rate_limit_low(httpx.Headers({"x-ratelimit-remaining": "x", "x-ratelimit-limit": "5000"})) is None


def test_the_reset_time_counts_even_when_requests_remain() -> None:
    # The spec's order: retry-after, else until x-ratelimit-reset, else at least a minute.
    headers = httpx.Headers({"x-ratelimit-remaining": "12", "x-ratelimit-reset": str(int(NOW) + 95)})
    assert rate_limit_wait(headers, NOW) == 95
    assert rate_limit_wait(httpx.Headers({}), NOW) == DEFAULT_RATE_LIMIT_WAIT_S >= 60
