"""A stand-in for Slack's Web API: the calls the Slack consumer makes, what they keep, and injected faults.

One implementation for both uses: the local runtime serves it with `HttpFake(SlackFake(...))` (point the
consumer at `<url>/api`); unit tests hand it to an httpx client with `mock_transport(SlackFake(...))`,
inject a clock, and script single calls with `fail(method, CallFault(...))`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from fanout.local.fakes.calllog import Call, CallLog, RetryAfterWindows
from fanout.local.fakes.faults import FaultKind, FaultSchedule
from fanout.local.fakes.server import Request, Response
from fanout.local.fakes.slack_faults import CallFault, ScriptedFaults
from fanout.local.fakes.slack_messages import BOT_ID, BOT_USER, MessageStore, SlackMessage, ts_order

__all__ = ["RATE_LIMIT_FAULT", "SCRIPTED_FAULT", "CallFault", "SlackFake", "SlackMessage"]

RATE_LIMITED_METHODS = frozenset({"chat.postMessage"})
RATE_LIMIT_FAULT = "slack_rate"  # Call.fault of a 429 answered by the configured rate, not a schedule
SCRIPTED_FAULT = "scripted"  # Call.fault of an answer scripted with `fail`
DEFAULT_SEED_TEXT = "@agent fix the bug"


class SlackFake:
    """Keeps every message and reaction; answers like Slack; injects the schedule's Slack faults and the
    faults scripted with `fail`."""

    def __init__(
        self,
        schedule: FaultSchedule | None = None,
        *,
        tokens: dict[str, str] | None = None,
        rate_per_s: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`rate_per_s` (default off): chat.postMessage calls allowed per second per workspace, a token
        bucket holding one second's worth (at least one); beyond it Slack's answer, 429 with Retry-After
        the whole seconds until the next token (at least 1)."""
        if rate_per_s is not None and rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be positive, got {rate_per_s}")
        self.schedule = schedule or FaultSchedule()
        self.rate_per_s = rate_per_s
        self.clock = clock
        self.log = CallLog()
        self.windows = RetryAfterWindows()
        self.scripted = ScriptedFaults()
        self._store = MessageStore()
        self._buckets: dict[str, tuple[float, float]] = {}  # team -> (tokens, refilled at)
        self._tokens: dict[str, str] = dict(tokens or {})  # token -> team id
        self._lock = threading.Lock()

    # -- set-up ----------------------------------------------------------------------------------
    def register_token(self, token: str, team: str) -> None:
        with self._lock:
            self._tokens[token] = team

    def revoke_token(self, token: str) -> None:
        """Slack stops accepting it (a rotated or revoked bot token): its calls answer invalid_auth."""
        with self._lock:
            self._tokens.pop(token, None)

    def fail(self, method: str, *faults: CallFault) -> None:
        """Script the next call(s) of one method, one fault per call, in order."""
        self.scripted.add(method, *faults)

    @property
    def page_size(self) -> int | None:
        """When set, every page of history and replies holds at most this many messages."""
        return self._store.page_size

    @page_size.setter
    def page_size(self, value: int | None) -> None:
        self._store.page_size = value

    def seed(
        self,
        channel: str,
        text: str = DEFAULT_SEED_TEXT,
        *,
        ts: str | None = None,
        thread_ts: str | None = None,
        team: str | None = None,
    ) -> str:
        """A user's message from before the run (the @mention that starts a task, or a reply in a
        thread); returns its ts, a new one unless given."""
        now = self.clock()
        with self._lock:
            ts = ts or self._store.next_ts(now)
            message = SlackMessage(channel, ts, team, text, None, thread_ts, None, now, seeded=True)
            self._store.seed(message)
        return ts

    def seed_message(self, team: str, channel: str, ts: str, text: str) -> None:
        """The local runtime's seeding: a message that existed before the run, at a given ts."""
        self.seed(channel, text, ts=ts, team=team)

    # -- inspection ------------------------------------------------------------------------------
    def messages(self, *, channel: str | None = None, include_deleted: bool = False) -> list[SlackMessage]:
        """What the consumer posted (seeded messages excluded), oldest first."""
        with self._lock:
            found = [
                m
                for m in self._store.all()
                if not m.seeded
                and (channel is None or m.channel == channel)
                and (include_deleted or not m.deleted)
            ]
        return sorted(found, key=ts_order)

    def message(self, channel: str, ts: str) -> SlackMessage | None:
        """One message, seeded or posted, deleted or not."""
        with self._lock:
            return self._store.get(channel, ts)

    def methods(self) -> list[str]:
        """The Web API method of every call so far, in order."""
        return [call.api for call in self.log.calls()]

    # -- the API ---------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        now = self.clock()
        method = request.path.rstrip("/").rsplit("/", 1)[-1]
        params = request.form()
        token = request.bearer or params.get("token")
        with self._lock:
            team = self._tokens.get(token) if token else None
        channel = params.get("channel")
        inside, inside_own = self.windows.check(team, request.container, now, method)
        fault_name: str | None = None

        def answer(response: Response, error: str | None) -> Response:
            self.log.add(
                Call(
                    t=now,
                    provider="slack",
                    http_method=request.method,
                    path=request.path,
                    api=method,
                    scope=team,
                    container=request.container,
                    status=0 if response.drop else response.status,
                    error=error,
                    target=channel,
                    fault=fault_name,
                    inside_retry_after=inside,
                    inside_own_retry_after=inside_own,
                    url=request.url,
                    headers=dict(request.headers),
                    params=_params_as_sent(request),
                )
            )
            return response

        def error(status: int, code: str, headers: dict[str, str] | None = None) -> Response:
            return answer(Response(status, {"ok": False, "error": code}, headers or {}), code)

        if team is None:
            return error(200, "invalid_auth" if token else "not_authed")
        fault = self.schedule.first(
            frozenset({FaultKind.SLACK_5XX, FaultKind.SLACK_RATELIMIT}), now, scopes=[team], method=method
        )
        if fault is not None and fault.kind is FaultKind.SLACK_5XX:
            fault_name = fault.kind.value
            return error(503, "service_unavailable")
        if fault is not None:
            fault_name = fault.kind.value
            seconds = max(1, math.ceil(fault.retry_after_s))
            self.windows.announce(team, request.container, now, seconds)
            return error(429, "ratelimited", {"retry-after": str(seconds)})
        wait = self._take_token(team, now) if method in RATE_LIMITED_METHODS else 0.0
        if wait > 0:
            fault_name = RATE_LIMIT_FAULT
            seconds = max(1, math.ceil(wait))
            self.windows.announce(team, request.container, now, seconds, api=method)
            return error(429, "ratelimited", {"retry-after": str(seconds)})
        error_fault = self.schedule.first(
            frozenset({FaultKind.SLACK_ERROR}), now, scopes=[channel, team], method=method
        )
        if error_fault is not None:
            fault_name = error_fault.kind.value
            return error(200, error_fault.error)
        scripted = self.scripted.take(method)
        if scripted is not None:
            fault_name = SCRIPTED_FAULT
            if scripted.applied:
                self._dispatch(method, params, team, now)
            return answer(scripted.response(), scripted.logged_error)
        body = self._dispatch(method, params, team, now)
        return answer(Response(200, body), None if body.get("ok") else str(body.get("error")))

    def _take_token(self, team: str, now: float) -> float:
        """Take one of the workspace's tokens: 0 when taken, else the seconds until the next one."""
        rate = self.rate_per_s
        if rate is None:
            return 0.0
        capacity = max(1.0, rate)
        with self._lock:
            tokens, at = self._buckets.get(team, (capacity, now))
            tokens = min(capacity, tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[team] = (tokens - 1.0, now)
                return 0.0
            self._buckets[team] = (tokens, now)
            return (1.0 - tokens) / rate

    def _dispatch(self, method: str, params: dict[str, str], team: str, now: float) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "team_id": team, "user_id": BOT_USER, "bot_id": BOT_ID}
        handler = self._store.methods.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        with self._lock:
            return handler(params, team, now)


def _params_as_sent(request: Request) -> dict[str, Any]:
    """The query and the body's fields with their JSON types (`form()` flattens them to strings)."""
    params: dict[str, Any] = {k: v[-1] for k, v in request.query.items() if v}
    data = request.json() if "application/json" in request.headers.get("content-type", "") else None
    if isinstance(data, dict):
        params.update(data)
    elif request.body and data is None:
        params.update(request.form())
    return params
