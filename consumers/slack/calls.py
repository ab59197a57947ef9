"""Slack calls on behalf of one workspace: the token is looked up (cached) per call, and a token Slack
refuses (`invalid_auth` / `token_expired`, i.e. rotated) is fetched again once and the call repeated once,
within the same attempt, before the refusal stands.

Within one delivery (from `begin`), after Slack rate-limited the workspace no further call is made: each
answers with that rate limit at once. `limited` tells the delivery, which hands it to the runtime even
when the delivery itself succeeded (a best-effort reaction or delete was the call refused)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger

from consumers.runtime.outcomes import Retry, Terminal
from consumers.slack import logs
from consumers.slack.api import SlackApi, SlackReply
from consumers.slack.classify import AUTH_ERRORS
from consumers.slack.tokens import BotToken, NoToken, TokenSource
from fanout.events import TaskEvent


def rate_limit_key(team_id: str) -> str:
    return f"slack:{team_id}"


class SlackCalls:
    def __init__(self, api: SlackApi, tokens: TokenSource, logger: Logger) -> None:
        self._api = api
        self._tokens = tokens
        self._logger = logger
        self.limited: Retry | None = None

    def begin(self) -> None:
        """A new delivery: nothing is known to be limited yet (the runtime remembers across messages)."""
        self.limited = None

    def post(self, team_id: str, method: str, body: Mapping[str, Any], event: TaskEvent) -> SlackReply:
        return self._watched(
            team_id,
            event,
            lambda token: self._api.post(method, token, body, rate_limit_key=rate_limit_key(team_id)),
        )

    def get(self, team_id: str, method: str, params: Mapping[str, str], event: TaskEvent) -> SlackReply:
        return self._watched(
            team_id,
            event,
            lambda token: self._api.get(method, token, params, rate_limit_key=rate_limit_key(team_id)),
        )

    def _watched(self, team_id: str, event: TaskEvent, call: Callable[[str], SlackReply]) -> SlackReply:
        if self.limited is not None:
            return SlackReply(self.limited, error="ratelimited")
        reply = self._with_token(team_id, event, call)
        if reply.rate_limited:
            assert isinstance(reply.outcome, Retry)
            self.limited = reply.outcome
        return reply

    def _with_token(self, team_id: str, event: TaskEvent, call: Callable[[str], SlackReply]) -> SlackReply:
        token = self._tokens.get(team_id)
        if not isinstance(token, BotToken):
            return _without_token(token)
        reply = call(token.value)
        if reply.error not in AUTH_ERRORS:
            return reply
        fresh = self._tokens.refresh(team_id)
        logs.note(self._logger, logs.TOKEN_REFETCHED, event, level="info", slack_error=reply.error)
        if isinstance(fresh, Retry):
            return SlackReply(fresh)
        if not isinstance(fresh, BotToken):
            return reply
        return call(fresh.value)


def _without_token(problem: NoToken | Retry | Terminal) -> SlackReply:
    if isinstance(problem, NoToken):
        return SlackReply(Terminal(problem.reason, "the workspace's bot token secret disappeared"))
    return SlackReply(problem)
