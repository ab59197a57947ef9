"""A thin Slack Web API client over the injected httpx client: one call, one classified reply.

Writes are JSON POSTs; reads (conversations.*) are GETs with query parameters, as Slack accepts JSON
bodies only for write methods. The token travels in the Authorization header only, never in a URL or a
log line. No retries and no sleeping here: the caller decides from the reply's outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from consumers.runtime.outcomes import Delivered, Retry
from consumers.slack.classify import SlackOutcome, classify, error_code


@dataclass(frozen=True)
class SlackReply:
    """Slack's answer to one call: the classified outcome, the body and the error code."""

    outcome: SlackOutcome
    data: Mapping[str, Any] = field(default_factory=dict)  # the JSON body (empty when there was none)
    error: str | None = None  # Slack's error code, when it sent one

    @property
    def ok(self) -> bool:
        return isinstance(self.outcome, Delivered)

    @property
    def rate_limited(self) -> bool:
        return isinstance(self.outcome, Retry) and self.outcome.rate_limit_key is not None

    @property
    def problem(self) -> str:
        """Why the call did not succeed, for a log line: Slack's code, else the outcome's reason."""
        return self.error or str(getattr(self.outcome, "reason", type(self.outcome).__name__))


class SlackApi:
    def __init__(self, http: httpx.Client, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    def post(
        self, method: str, token: str, body: Mapping[str, Any], *, rate_limit_key: str | None = None
    ) -> SlackReply:
        return self._send("POST", method, token, rate_limit_key, json=dict(body))

    def get(
        self, method: str, token: str, params: Mapping[str, str], *, rate_limit_key: str | None = None
    ) -> SlackReply:
        return self._send("GET", method, token, rate_limit_key, params=dict(params))

    def _send(
        self, verb: str, method: str, token: str, rate_limit_key: str | None, **request: Any
    ) -> SlackReply:
        headers = {"Authorization": f"Bearer {token}"}
        if verb == "POST":
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            response = self._http.request(verb, f"{self._base}/{method}", headers=headers, **request)
        except httpx.HTTPError as exc:  # transport errors, and a body httpx cannot decode or redirect
            return SlackReply(classify(None, {}, exc))
        try:
            data = response.json()
        except ValueError:
            data = None
        outcome = classify(response.status_code, response.headers, data, rate_limit_key=rate_limit_key)
        body = data if isinstance(data, Mapping) else {}
        return SlackReply(outcome, body, error_code(data))
