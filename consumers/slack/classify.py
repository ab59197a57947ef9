"""What a Slack Web API answer means for delivery: a pure function, no I/O, no sleeping.

`classify(status, headers, body_or_error)` -> Delivered | Retry | Terminal, with the error classes of
channels.md. "Uncertain" marks answers after which the call may already have taken effect (Slack says
part of the operation may have succeeded, a proxy 5xx, or the connection dropped after the request went
out): the next attempt looks for the message before posting again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx

from consumers.runtime.http_faults import provider_side
from consumers.runtime.outcomes import UNKNOWN_PREFIX, Delivered, Retry, Terminal

RATE_LIMITED = frozenset({"ratelimited", "rate_limited"})
UNCERTAIN = frozenset({"internal_error", "fatal_error"})
SERVER_FAULTS = frozenset({"service_unavailable"}) | UNCERTAIN  # Slack failed on its side
RETRYABLE = frozenset({"team_added_to_org"}) | RATE_LIMITED | SERVER_FAULTS
TERMINAL = frozenset(
    {
        # where to post
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        # what was posted
        "msg_too_long",
        "msg_blocks_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_arguments",
        "too_many_attachments",
        # who posts
        "not_authed",
        "invalid_auth",
        "token_revoked",
        "token_expired",
        "account_inactive",
        # what the token may do
        "no_permission",
        "missing_scope",
        "restricted_action",
        "ekm_access_denied",
        "team_access_not_granted",
        "posting_to_general_channel_denied",
        "as_user_not_supported",
        "message_limit_exceeded",
    }
)
AUTH_ERRORS = frozenset({"invalid_auth", "token_expired"})  # a rotated token: fetch it again once

SlackOutcome = Delivered | Retry | Terminal


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Slack's Retry-After, in seconds (None when absent or unreadable)."""
    raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if raw is None:
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def error_code(body: Any) -> str | None:
    """The `error` of an `ok: false` body, else None."""
    if isinstance(body, Mapping) and body.get("ok") is False:
        code = body.get("error")
        return code if isinstance(code, str) and code else "unspecified"
    return None


def classify(
    status: int | None,
    headers: Mapping[str, str],
    body_or_error: Any,
    *,
    rate_limit_key: str | None = None,
) -> SlackOutcome:
    """One answer to a Slack call. `body_or_error` is the parsed JSON body, or the httpx exception the
    call raised (then `status` is None)."""
    if isinstance(body_or_error, BaseException):
        return classify_exception(body_or_error)
    wait = retry_after(headers)
    code = error_code(body_or_error)
    if status == 429 or code in RATE_LIMITED:
        return Retry(wait, code or "http_429", rate_limit_key=rate_limit_key)
    if status is not None and status >= 500:
        return Retry(wait, f"http_{status}" + (f":{code}" if code else ""), uncertain=True, server_fault=True)
    if code is None:
        if isinstance(body_or_error, Mapping) and body_or_error.get("ok") is True:
            return Delivered()
        # Not Slack's JSON (an HTML page from a proxy, say): nothing says whether the call was applied.
        return Retry(wait, f"{UNKNOWN_PREFIX}http_{status}_not_slack_json", uncertain=True)
    if code in TERMINAL:
        return Terminal(code)
    if code in RETRYABLE:
        return Retry(wait, code, uncertain=code in UNCERTAIN, server_fault=code in SERVER_FAULTS)
    return Retry(wait, f"{UNKNOWN_PREFIX}{code}")


def classify_exception(error: BaseException) -> Retry:
    """A call that raised: retryable; uncertain unless the request surely never reached Slack."""
    name = type(error).__name__
    if isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ConnectError):
        return Retry(None, f"connection:{name}", server_fault=provider_side(error))
    if isinstance(error, httpx.TimeoutException):
        return Retry(None, f"timeout:{name}", uncertain=True, server_fault=True)
    return Retry(None, f"connection:{name}", uncertain=True, server_fault=provider_side(error))


def is_unknown(outcome: SlackOutcome) -> bool:
    """A code this module does not know: retried, but logged apart so operators can reclassify it."""
    return isinstance(outcome, Retry) and outcome.reason.startswith(UNKNOWN_PREFIX)
