"""What a stand-in provider received: every call, with its time, caller, answer and fault."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    t: float  # epoch seconds when the request arrived
    provider: str  # "slack" | "github"
    http_method: str
    path: str
    api: str  # Slack method ("chat.postMessage") or GitHub route ("POST /repos/{repo}/issues/{n}/comments")
    scope: str | None  # Slack team id, or the GitHub token
    container: str | None  # the emulated Lambda container that made the call (None for outside callers)
    status: int
    error: str | None = None  # Slack's error code, or GitHub's message, when the call failed
    target: str | None = None  # Slack channel id, or "owner/repo#n"
    fault: str | None = None  # the injected fault kind, when one answered this call
    inside_retry_after: bool = False  # landed inside a Retry-After window announced for its scope
    inside_own_retry_after: bool = False  # ... announced to this very container
    url: str | None = None  # as the caller addressed it (host and query), to check where a client went
    headers: Mapping[str, str] = field(default_factory=dict)  # the request's, lower-case names
    params: Mapping[str, Any] = field(default_factory=dict)  # Slack: query and body as sent (JSON typed)

    @property
    def ok(self) -> bool:
        return self.status < 400 and self.error is None


class CallLog:
    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def add(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def calls(self, predicate: Callable[[Call], bool] | None = None) -> list[Call]:
        with self._lock:
            snapshot = list(self._calls)
        return snapshot if predicate is None else [c for c in snapshot if predicate(c)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)


@dataclass(frozen=True)
class AnnouncedWindow:
    """One Retry-After (or reset) window: announced for a scope, to the container whose call got it."""

    scope: str
    announced_at: float
    until: float
    container: str | None
    api: str | None = None  # the one API method the window limits (None: every call in the scope)


@dataclass
class RetryAfterWindows:
    """Retry-After (or rate-limit reset) windows a fake announced, per scope."""

    _windows: dict[str, list[AnnouncedWindow]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def announce(
        self, scope: str, container: str | None, now: float, seconds: float, api: str | None = None
    ) -> None:
        with self._lock:
            window = AnnouncedWindow(scope, now, now + seconds, container, api)
            self._windows.setdefault(scope, []).append(window)

    def all(self) -> list[AnnouncedWindow]:
        """Every window announced so far, in the order announced per scope."""
        with self._lock:
            return [w for windows in self._windows.values() for w in windows]

    def check(
        self, scope: str | None, container: str | None, now: float, api: str | None = None
    ) -> tuple[bool, bool]:
        """(inside any announced window that limits this call, inside one announced to this container)."""
        if scope is None:
            return False, False
        with self._lock:
            live = [
                w
                for w in self._windows.get(scope, [])
                if w.announced_at <= now < w.until and (w.api is None or w.api == api)
            ]
        return bool(live), any(w.container == container and container is not None for w in live)
