"""What the Slack stand-in keeps: the messages of every channel, their threads, reactions and deletes,
and the Web API methods that read and change them (answered as Slack answers them).

The store is not thread-safe by itself: `SlackFake` holds its lock around every call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

BOT_USER = "UFANOUTBOT"
BOT_ID = "BFANOUTBOT"
SEED_USER = "ULOCALUSER"
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


Method = Callable[[dict[str, str], str, float], dict[str, Any]]


class MessageStore:
    """Every message by (channel, ts). `page_size`, when set, caps every page of history and replies
    whatever `limit` the caller asked for (to make a client page through a short thread)."""

    def __init__(self) -> None:
        self.page_size: int | None = None
        self._messages: dict[tuple[str, str], SlackMessage] = {}
        self._ts_counter = 0
        self.methods: dict[str, Method] = {
            "chat.postMessage": self._post,
            "chat.delete": self._delete,
            "reactions.add": self._react_add,
            "reactions.remove": self._react_remove,
            "conversations.replies": self._replies,
            "conversations.history": self._history,
        }

    # -- set-up and inspection -------------------------------------------------------------------
    def next_ts(self, now: float) -> str:
        """Slack's message id: the second it was posted, and a counter that keeps ids unique and ordered."""
        self._ts_counter += 1
        return f"{int(now)}.{self._ts_counter:06d}"

    def seed(self, message: SlackMessage) -> None:
        self._messages[(message.channel, message.ts)] = message

    def all(self) -> list[SlackMessage]:
        return list(self._messages.values())

    def get(self, channel: str, ts: str) -> SlackMessage | None:
        return self._messages.get((channel, ts))

    # -- the API methods: (form params, team, now) -> Slack's JSON answer --------------------------
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
        ts = self.next_ts(now)
        message = SlackMessage(
            channel=channel,
            ts=ts,
            team=team,
            text=text,
            blocks=blocks,
            thread_ts=params.get("thread_ts") or None,
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
        thread.sort(key=ts_order)
        return self._page(thread, params, REPLIES_DEFAULT_LIMIT)

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
        top.sort(key=ts_order, reverse=True)  # history is newest first
        return self._page(top, params, HISTORY_DEFAULT_LIMIT)

    def _page(
        self, messages: list[SlackMessage], params: dict[str, str], default_limit: int
    ) -> dict[str, Any]:
        with_metadata = params.get("include_all_metadata", "").lower() in {"1", "true"}
        limit = self.page_size or max(1, int(params.get("limit") or default_limit))
        start = int(params.get("cursor") or 0)
        chunk = messages[start : start + limit]
        more = start + limit < len(messages)
        return {
            "ok": True,
            "messages": [m.as_api(with_metadata=with_metadata) for m in chunk],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }


def ts_order(message: SlackMessage) -> Decimal:
    """Order by ts as the number it is, not as a string ("999.1" comes before "1000.1")."""
    return Decimal(message.ts)


def _loads(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value
