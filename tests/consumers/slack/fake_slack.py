"""A stateful Slack Web API behind httpx.MockTransport: messages (ts, thread, metadata), reactions,
deletes, conversations.replies/history with metadata, token checks, and per-call injected faults."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: Any = None
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    reactions: list[str] = field(default_factory=list)
    deleted: bool = False
    seeded: bool = False

    def api(self, with_metadata: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if with_metadata and self.metadata:
            data["metadata"] = self.metadata
        return data


@dataclass
class Fault:
    """An injected answer. `applied`: the call takes effect first (the answer was lost or misleading)."""

    status: int = 200
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    exception: type[Exception] | None = None
    applied: bool = False
    body: dict[str, Any] | None = None  # answer exactly this JSON body


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    http_method: str
    url: str


class FakeSlack:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.tokens: dict[str, str] = {}  # valid token -> team id
        self.messages: list[Message] = []
        self.calls: list[Call] = []
        self.faults: dict[str, list[Fault]] = {}
        self.page_size: int | None = None
        self._n = 0
        self.transport = httpx.MockTransport(self.handle)

    # -- set-up and inspection ------------------------------------------------------------------------
    def fail(self, method: str, *faults: Fault) -> None:
        self.faults.setdefault(method, []).extend(faults)

    def seed(self, channel: str, text: str = "@agent fix the bug") -> str:
        """A user's message (the @mention that starts a task); returns its ts."""
        message = Message(channel, self._ts(), text, seeded=True)
        self.messages.append(message)
        return message.ts

    def posted(self, *, include_deleted: bool = False) -> list[Message]:
        return [m for m in self.messages if not m.seeded and (include_deleted or not m.deleted)]

    def find(self, channel: str, ts: str) -> Message | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    # -- the API --------------------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        method = request.url.path.rsplit("/", 1)[-1]
        params: dict[str, Any] = dict(request.url.params)
        if request.content:
            params.update(json.loads(request.content))
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        self.calls.append(Call(method, params, token, request.method, str(request.url)))
        queue = self.faults.get(method)
        fault = queue.pop(0) if queue else None
        if token is None or token not in self.tokens:
            return httpx.Response(200, json={"ok": False, "error": "invalid_auth"})
        if fault is not None and not fault.applied:
            return self._fault(fault, request)
        body = self._dispatch(method, params)
        if fault is not None:
            return self._fault(fault, request)
        return httpx.Response(200, json=body)

    def _fault(self, fault: Fault, request: httpx.Request) -> httpx.Response:
        if fault.exception is not None:
            raise fault.exception("injected", request=request)  # type: ignore[call-arg]
        if fault.body is not None:
            return httpx.Response(fault.status, json=fault.body, headers=fault.headers)
        body: dict[str, Any] = {"ok": False, "error": fault.error} if fault.error else {}
        if fault.status >= 500 and not fault.error:
            return httpx.Response(fault.status, text="<html>Bad gateway</html>", headers=fault.headers)
        return httpx.Response(fault.status, json=body, headers=fault.headers)

    def _dispatch(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        if method == "chat.postMessage":
            channel = str(p["channel"])
            if channel.startswith("U"):  # posting to a user id opens the DM with that user
                channel = "D" + channel[1:]
            message = Message(
                channel, self._ts(), p.get("text", ""), p.get("blocks"), p.get("thread_ts"), p.get("metadata")
            )
            self.messages.append(message)
            return {"ok": True, "channel": channel, "ts": message.ts}
        if method == "chat.delete":
            found = self.find(p["channel"], p["ts"])
            if found is None or found.deleted:
                return {"ok": False, "error": "message_not_found"}
            found.deleted = True
            return {"ok": True}
        if method in ("reactions.add", "reactions.remove"):
            return self._react(method, p)
        if method == "conversations.replies":
            root = self.find(p["channel"], p["ts"])
            if root is None or root.deleted:
                return {"ok": False, "error": "thread_not_found"}
            thread = [m for m in self._live(p["channel"]) if m.ts == root.ts or m.thread_ts == root.ts]
            return self._page(thread, p)
        if method == "conversations.history":
            oldest = float(p.get("oldest") or 0)
            top = [m for m in self._live(p["channel"]) if not m.thread_ts and float(m.ts) >= oldest]
            return self._page(list(reversed(top)), p)
        return {"ok": False, "error": "unknown_method"}

    def _react(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        found = self.find(p["channel"], p["timestamp"])
        if found is None or found.deleted:
            return {"ok": False, "error": "message_not_found"}
        name = p["name"]
        if method == "reactions.add":
            if name in found.reactions:
                return {"ok": False, "error": "already_reacted"}
            found.reactions.append(name)
        else:
            if name not in found.reactions:
                return {"ok": False, "error": "no_reaction"}
            found.reactions.remove(name)
        return {"ok": True}

    def _live(self, channel: str) -> list[Message]:
        return [m for m in self.messages if m.channel == channel and not m.deleted]

    def _page(self, messages: list[Message], p: dict[str, Any]) -> dict[str, Any]:
        with_metadata = str(p.get("include_all_metadata", "")).lower() == "true"
        limit = self.page_size or int(p.get("limit") or 100)
        start = int(p.get("cursor") or 0)
        more = start + limit < len(messages)
        return {
            "ok": True,
            "messages": [m.api(with_metadata) for m in messages[start : start + limit]],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _ts(self) -> str:
        self._n += 1
        return f"{int(self.clock())}.{self._n:06d}"
