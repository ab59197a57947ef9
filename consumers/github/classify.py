"""GitHub's answers to outcomes: pure functions of the response (or the transport error) and the clock.

The caller handles the two statuses that need another call first: a 401 (refresh the token once and
repeat) and a 404 on PATCH (the comment is gone: post a new one). Everything reaching here is final.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from consumers.runtime.http_faults import provider_side
from consumers.runtime.outcomes import Delivered, Retry, Terminal

# GitHub: "If you receive a secondary rate limit without retry-after or x-ratelimit-reset, wait at least
# one minute before retrying."
DEFAULT_RATE_LIMIT_WAIT_S = 60.0
MIN_WAIT_S = 1.0
TERMINAL_STATUSES = frozenset({400, 404, 410, 422})
WRITES = frozenset({"POST", "PATCH", "DELETE"})
LOW_REMAINING_FRACTION = 0.10
DETAIL_LIMIT = 300
# "secondary rate limit", "API rate limit exceeded", and the older "abuse detection mechanism".
_RATE_LIMIT_WORDS = ("rate limit", "abuse detection")


@dataclass(frozen=True)
class RateLimitLow:
    """GitHub's rate-limit headers said the budget is nearly spent."""

    remaining: int
    limit: int
    reset_epoch: int | None


def classify(
    response: httpx.Response, *, method: str, now: float, rate_limit_key: str | None
) -> Delivered | Retry | Terminal:
    status = response.status_code
    if 200 <= status < 300:
        return Delivered(f"http_{status}")
    message = error_message(response)
    if status in (403, 429) and is_rate_limited(status, response.headers, message):
        return Retry(
            rate_limit_wait(response.headers, now),
            f"rate_limited_{status}",
            rate_limit_key=rate_limit_key,
        )
    if status >= 500 or status == 408:
        # A POST answered with a 5xx may still have been applied behind the proxy that answered.
        return Retry(
            None, f"http_{status}", uncertain=method == "POST" and status >= 500, server_fault=status >= 500
        )
    return Terminal(f"http_{status}", message[:DETAIL_LIMIT])


def classify_transport_error(exc: httpx.HTTPError, *, method: str) -> Retry:
    """A call that got no answer. It may have been applied when the request could have reached GitHub:
    anything but a failure to connect (or to get a pooled connection) counts as possibly sent."""
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return Retry(
        None,
        f"network_{type(exc).__name__}",
        uncertain=method == "POST" and not never_sent,
        server_fault=provider_side(exc),
    )


def is_rate_limited(status: int, headers: Mapping[str, str], message: str) -> bool:
    """GitHub's documented signals (a `retry-after`, no requests left, or a message that says so). A 429
    is a rate limit whatever it carries."""
    return (
        status == 429
        or "retry-after" in headers
        or headers.get("x-ratelimit-remaining", "").strip() == "0"
        or any(words in message.lower() for words in _RATE_LIMIT_WORDS)
    )


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float:
    """`retry-after` seconds, else until `x-ratelimit-reset` (epoch seconds), else at least a minute."""
    retry_after = _number(headers.get("retry-after"))
    if retry_after is not None:
        return max(MIN_WAIT_S, retry_after)
    reset = _number(headers.get("x-ratelimit-reset"))
    if reset is not None:  # the spec's order: retry-after, else the reset time, else a minute
        return max(MIN_WAIT_S, reset - now)
    return DEFAULT_RATE_LIMIT_WAIT_S


def rate_limit_low(headers: Mapping[str, str]) -> RateLimitLow | None:
    """The primary budget when fewer than 10% of its requests are left (worth a warning), else None."""
    remaining = _number(headers.get("x-ratelimit-remaining"))
    limit = _number(headers.get("x-ratelimit-limit"))
    if remaining is None or limit is None or limit <= 0 or remaining >= LOW_REMAINING_FRACTION * limit:
        return None
    reset = _number(headers.get("x-ratelimit-reset"))
    return RateLimitLow(int(remaining), int(limit), int(reset) if reset is not None else None)


def error_message(response: httpx.Response) -> str:
    """GitHub's `message` field, or the start of the body when it is not GitHub's JSON."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:DETAIL_LIMIT]
    message = data.get("message") if isinstance(data, dict) else None
    return message if isinstance(message, str) else ""


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None
