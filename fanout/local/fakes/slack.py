"""A stand-in for Slack's Web API: the calls the Slack consumer makes, what they keep, and injected faults.

Serve it with `HttpFake(SlackFake(...))`; point the consumer at `<url>/api`.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fanout.local.fakes.calllog import Call, CallLog, RetryAfterWindows
from fanout.local.fakes.faults import FaultKind, FaultSchedule
from fanout.local.fakes.server import Request, Response

BOT_USER = "UFANOUTBOT"
BOT_ID = "BFANOUTBOT"
SEED_USER = "ULOCALUSER"
RATE_LIMITED_METHODS = frozenset({"chat.postMessage"})
RATE_LIMIT_FAULT = "slack_rate"  # Call.fault of a 429 answered by the configured rate, not a schedule
HISTORY_DEFAULT_LIMIT = 100
REPLIES_DEFAULT_LIMIT = 1000


@dataclass
class SlackMessage:
    channel: str
    ts: str
    team: str | None
    text: str
    blocks: Any
    thread_ts: str | None
    metadata: dict[str, Any] | None
    posted_at: float
    deleted: bool = False
    reactions: set[str] = field(default_factory=set)
    seeded: bool = False  # existed before the run (posted by a user, not by the consumer)

    @property
    def event_id(self) -> str | None:
        """The event id the consumer put in the message metadata, when it did."""
        payload = (self.metadata or {}).get("event_payload")
        value = payload.get("event_id") if isinstance(payload, dict) else None
        return value if isinstance(value, str) else None

    def as_api(self, *, with_metadata: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "message",
            "ts": self.ts,
            "text": self.text,
            "user": SEED_USER if self.seeded else BOT_USER,
        }
        if not self.seeded:
            data["bot_id"] = BOT_ID
        if self.blocks is not None:
            data["blocks"] = self.blocks
        if self.thread_ts is not None:
            data["thread_ts"] = self.thread_ts
        if with_metadata and self.metadata is not None:
            data["metadata"] = self.metadata
        return data


class SlackFake:
    """Keeps every message and reaction; answers like Slack; injects the schedule's Slack faults."""

    def __init__(
        self,
        schedule: FaultSchedule | None = None,
        *,
        tokens: dict[str, str] | None = None,
        rate_per_s: float | None = None,
    ) -> None:
        """`rate_per_s` (default off): chat.postMessage calls allowed per second per workspace, a token
        bucket holding one second's worth (at least one); beyond it Slack's answer, 429 with Retry-After
        the whole seconds until the next token (at least 1)."""
        if rate_per_s is not None and rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be positive, got {rate_per_s}")
        self.schedule = schedule or FaultSchedule()
        self.rate_per_s = rate_per_s
        self._buckets: dict[str, tuple[float, float]] = {}  # team -> (tokens, refilled at)
        self.log = CallLog()
        self.windows = RetryAfterWindows()
        self._tokens: dict[str, str] = dict(tokens or {})  # token -> team id
        self._messages: dict[tuple[str, str], SlackMessage] = {}
        self._lock = threading.Lock()
        self._ts_counter = 0

    # -- set-up and inspection -------------------------------------------------------------------
    def register_token(self, token: str, team: str) -> None:
        with self._lock:
            self._tokens[token] = team

    def seed_message(self, team: str, channel: str, ts: str, text: str) -> None:
        """A message that existed before the run (a user's @mention that started a task)."""
        with self._lock:
            self._messages[(channel, ts)] = SlackMessage(
                channel, ts, team, text, None, None, None, time.time(), seeded=True
            )

    def messages(self, *, channel: str | None = None, include_deleted: bool = False) -> list[SlackMessage]:
        """What the consumer posted (seeded messages excluded), oldest first."""
        with self._lock:
            found = [
                m
                for m in self._messages.values()
                if not m.seeded
                and (channel is None or m.channel == channel)
                and (include_deleted or not m.deleted)
            ]
        return sorted(found, key=lambda m: m.ts)

    def message(self, channel: str, ts: str) -> SlackMessage | None:
        with self._lock:
            return self._messages.get((channel, ts))

    # -- the API ---------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        now = time.time()
        method = request.path.rstrip("/").rsplit("/", 1)[-1]
        params = request.form()
        token = request.bearer or params.get("token")
        team = self._tokens.get(token) if token else None
        channel = params.get("channel")
        inside, inside_own = self.windows.check(team, request.container, now, method)
        fault_name: str | None = None

        def record(status: int, error: str | None) -> None:
            self.log.add(
                Call(
                    t=now,
                    provider="slack",
                    http_method=request.method,
                    path=request.path,
                    api=method,
                    scope=team,
                    container=request.container,
                    status=status,
                    error=error,
                    target=channel,
                    fault=fault_name,
                    inside_retry_after=inside,
                    inside_own_retry_after=inside_own,
                )
            )

        if team is None:
            record(200, "invalid_auth" if token else "not_authed")
            return Response(200, {"ok": False, "error": "invalid_auth" if token else "not_authed"})
        fault = self.schedule.first(
            frozenset({FaultKind.SLACK_5XX, FaultKind.SLACK_RATELIMIT}), now, scopes=[team], method=method
        )
        if fault is not None and fault.kind is FaultKind.SLACK_5XX:
            fault_name = fault.kind.value
            record(503, "service_unavailable")
            return Response(503, {"ok": False, "error": "service_unavailable"})
        if fault is not None:
            fault_name = fault.kind.value
            seconds = max(1, math.ceil(fault.retry_after_s))
            self.windows.announce(team, request.container, now, seconds)
            record(429, "ratelimited")
            return Response(429, {"ok": False, "error": "ratelimited"}, {"retry-after": str(seconds)})
        wait = self._take_token(team, now) if method in RATE_LIMITED_METHODS else 0.0
        if wait > 0:
            fault_name = RATE_LIMIT_FAULT
            seconds = max(1, math.ceil(wait))
            self.windows.announce(team, request.container, now, seconds, api=method)
            record(429, "ratelimited")
            return Response(429, {"ok": False, "error": "ratelimited"}, {"retry-after": str(seconds)})
        error_fault = self.schedule.first(
            frozenset({FaultKind.SLACK_ERROR}), now, scopes=[channel, team], method=method
        )
        if error_fault is not None:
            fault_name = error_fault.kind.value
            record(200, error_fault.error)
            return Response(200, {"ok": False, "error": error_fault.error})
        body = self._dispatch(method, params, team, now)
        error = None if body.get("ok") else str(body.get("error"))
        record(200, error)
        return Response(200, body)

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
        handlers = {
            "chat.postMessage": self._post,
            "chat.delete": self._delete,
            "reactions.add": self._react_add,
            "reactions.remove": self._react_remove,
            "conversations.replies": self._replies,
            "conversations.history": self._history,
        }
        if method == "auth.test":
            return {"ok": True, "team_id": team, "user_id": BOT_USER, "bot_id": BOT_ID}
        handler = handlers.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        with self._lock:
            return handler(params, team, now)

    def _post(self, params: dict[str, str], team: str, now: float) -> dict[str, Any]:
        channel = params.get("channel", "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel.startswith("U"):
            channel = "D" + channel[1:]  # posting to a user id opens the DM with that user
        text = params.get("text", "")
        blocks = _loads(params.get("blocks"))
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        metadata = _loads(params.get("metadata"))
        thread_ts = params.get("thread_ts") or None
        self._ts_counter += 1
        ts = f"{int(now)}.{self._ts_counter:06d}"
        message = SlackMessage(
            channel=channel,
            ts=ts,
            team=team,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            metadata=metadata if isinstance(metadata, dict) else None,
            posted_at=now,
        )
        self._messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message.as_api(with_metadata=True)}

    def _delete(self, params: dict[str, str], team: str, now: float) -> dict[str, Any]:
        message = self._messages.get((params.get("channel", ""), params.get("ts", "")))
        if message is None or message.deleted:
            return {"ok": False, "error": "message_not_found"}
        message.deleted = True
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _react_add(self, params: dict[str, str], team: str, now: float) -> dict[str, Any]:
        message = self._messages.get((params.get("channel", ""), params.get("timestamp", "")))
        if message is None or message.deleted:
            return {"ok": False, "error": "message_not_found"}
        name = params.get("name", "")
        if name in message.reactions:
            return {"ok": False, "error": "already_reacted"}
        message.reactions.add(name)
        return {"ok": True}

    def _react_remove(self, params: dict[str, str], team: str, now: float) -> dict[str, Any]:
        message = self._messages.get((params.get("channel", ""), params.get("timestamp", "")))
        if message is None or message.deleted:
            return {"ok": False, "error": "message_not_found"}
        name = params.get("name", "")
        if name not in message.reactions:
            return {"ok": False, "error": "no_reaction"}
        message.reactions.discard(name)
        return {"ok": True}

    def _replies(self, params: dict[str, str], team: str, now: float) -> dict[str, Any]:
        channel, ts = params.get("channel", ""), params.get("ts", "")
        root = self._messages.get((channel, ts))
        if root is None:
            return {"ok": False, "error": "thread_not_found"}
        thread = [
            m
            for m in self._messages.values()
            if m.channel == channel and not m.deleted and (m.ts == ts or m.thread_ts == ts)
        ]
        thread.sort(key=lambda m: m.ts)
        return _page(thread, params, REPLIES_DEFAULT_LIMIT)

    def _history(self, params: dict[str, str], team: str, now: float) -> dict[str, Any]:
        channel = params.get("channel", "")
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or math.inf)
        top = [
            m
            for m in self._messages.values()
            if m.channel == channel
            and not m.deleted
            and (m.thread_ts is None or m.thread_ts == m.ts)
            and oldest <= float(m.ts) <= latest
        ]
        top.sort(key=lambda m: m.ts, reverse=True)  # history is newest first
        return _page(top, params, HISTORY_DEFAULT_LIMIT)


def _page(messages: list[SlackMessage], params: dict[str, str], default_limit: int) -> dict[str, Any]:
    with_metadata = params.get("include_all_metadata", "").lower() in {"1", "true"}
    limit = max(1, int(params.get("limit") or default_limit))
    start = int(params.get("cursor") or 0)
    chunk = messages[start : start + limit]
    more = start + limit < len(messages)
    return {
        "ok": True,
        "messages": [m.as_api(with_metadata=with_metadata) for m in chunk],
        "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }


def _loads(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value
