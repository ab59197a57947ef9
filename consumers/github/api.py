"""Calls to GitHub's REST API: headers, pacing of writes, the low-budget warning, one token refresh.

`GitHubApi` is shared by the container; a `Session` is one attempt's sequence of calls under one
credential, and it refreshes the token at most once (GitHub said 401) before the 401 becomes final.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from aws_lambda_powertools import Logger

from consumers.github.classify import WRITES, classify, classify_transport_error, rate_limit_low
from consumers.github.pacer import Pacer
from consumers.github.tokens import Credential, TokenSource
from consumers.runtime.channel import Clock
from consumers.runtime.outcomes import Delivered, Retry, Terminal

API_VERSION = "2022-11-28"
USER_AGENT = "fanout-github-consumer"


class GitHubApi:
    def __init__(
        self, *, http: httpx.Client, base_url: str, pacer: Pacer, clock: Clock, logger: Logger
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._pacer = pacer
        self._clock = clock
        self._logger = logger
        self._low_warned: dict[str, int | None] = {}

    def is_same_origin(self, url: str) -> bool:
        """Whether `url` (a pagination link) may be sent the token: only GitHub's own API host."""
        return _origin(url) == self._origin

    def send(
        self, method: str, path_or_url: str, credential: Credential, *, json: Any = None, params: Any = None
    ) -> httpx.Response:
        """One request; raises httpx.HTTPError when no answer came. Writes wait for their pacing slot."""
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.base_url + path_or_url
        if method in WRITES:
            self._pacer.wait(credential.fingerprint)
        response = self._http.request(
            method,
            url,
            json=json,
            params=params,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {credential.token}",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": USER_AGENT,
            },
            follow_redirects=True,  # renamed repositories answer with a redirect
        )
        self._watch_budget(response, credential)
        return response

    def _watch_budget(self, response: httpx.Response, credential: Credential) -> None:
        low = rate_limit_low(response.headers)
        if low is None or self._low_warned.get(credential.fingerprint, -1) == low.reset_epoch:
            return
        self._low_warned[credential.fingerprint] = low.reset_epoch  # once per token and budget window
        reset = _iso(low.reset_epoch)
        self._logger.warning(
            "fanout.github.rate_limit_low",
            extra={
                "event": "fanout.github.rate_limit_low",
                "token_fingerprint": credential.fingerprint,
                "remaining": low.remaining,
                "limit": low.limit,
                "reset_at": reset,
            },
        )


class Session:
    """One attempt's calls. `call` answers a response, or a Retry/Terminal when there was no usable one."""

    def __init__(
        self, api: GitHubApi, tokens: TokenSource, credential: Credential, clock: Clock, logger: Logger
    ) -> None:
        self.api = api
        self.credential = credential
        self._tokens = tokens
        self._clock = clock
        self._logger = logger
        self._refreshed = False

    @property
    def rate_limit_key(self) -> str:
        return self.credential.rate_limit_key

    def call(
        self, method: str, path_or_url: str, *, json: Any = None, params: Any = None
    ) -> httpx.Response | Retry | Terminal:
        while True:
            try:
                response = self.api.send(method, path_or_url, self.credential, json=json, params=params)
            except httpx.HTTPError as exc:
                return classify_transport_error(exc, method=method)
            if response.status_code != 401 or self._refreshed:
                return response
            self._refreshed = True
            fresh = self._tokens.refresh(self.credential.secret_id)
            if not isinstance(fresh, Credential):
                return fresh
            self._logger.info(
                "fanout.github.token_refreshed",
                extra={
                    "event": "fanout.github.token_refreshed",
                    "token_fingerprint": fresh.fingerprint,
                    "changed": fresh.fingerprint != self.credential.fingerprint,
                },
            )
            self.credential = fresh

    def outcome(self, response: httpx.Response, method: str) -> Delivered | Retry | Terminal:
        return classify(response, method=method, now=self._clock(), rate_limit_key=self.rate_limit_key)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _iso(epoch: float | None) -> str | None:
    """The reset time for the log line; a header no date can hold (a broken proxy) is logged as None."""
    if not epoch:
        return None
    try:
        return datetime.fromtimestamp(epoch, UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return None
