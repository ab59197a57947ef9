"""Rate-limit memory of one container: after a provider limited a key (a Slack workspace, a GitHub
token), every other message for that key waits for the same horizon without calling the provider.

With a shared store (shared_horizons.py), each window this container is told of is published for its
siblings, and the shared horizon is read before every call while a key is *hot* here. A key turns hot
for `HOT_S` seconds on any sign of trouble on it: this container was limited on it, the provider failed
a call on it (`watch`), or a message for it was received before (`redelivered`): a message comes back
after a wait, typically a rate limit or an outage a sibling met on its key, and a window a sibling was
given may outlast the limit, so the provider can answer this container's first call into it and teach
it nothing. Every call after that, fresh message or not, reads the window, so no second call lands in
it. Only a key with no trouble seen costs no read: a container learns of a window it was not told of
through its first call into it, which is the one call per container per window the provider sees.
"""

from __future__ import annotations

from typing import Protocol

HOT_S = 120.0


class HorizonStore(Protocol):
    def publish(self, key: str, until: float) -> None: ...

    def read(self, key: str) -> float | None: ...


class RateLimitMemory:
    def __init__(self, shared: HorizonStore | None = None, *, hot_s: float = HOT_S) -> None:
        self._horizons: dict[str, float] = {}
        self._hot_until: dict[str, float] = {}
        self._shared = shared
        self._hot_s = hot_s

    def note(self, key: str, until: float) -> None:
        """Remember that `key` is limited until `until` (epoch seconds); a later horizon wins."""
        self._remember(key, until)
        if self._shared is not None:
            self._shared.publish(key, until)

    def watch(self, key: str, now: float) -> None:
        """Trouble on `key` that is not a window of ours (a failed call, a message coming back): read
        the siblings' windows before each call on it for the next `hot_s` seconds."""
        self._heat(key, now + self._hot_s)

    def horizon(self, key: str | None, now: float, *, redelivered: bool = False) -> float | None:
        """When `key` may be called again, or None when it is not limited now. `redelivered`: the
        message asking was received before, which turns the key hot (`watch`)."""
        if key is None:
            return None
        if redelivered:
            self.watch(key, now)
        until = self._horizons.get(key)
        if until is not None and until <= now:
            del self._horizons[key]
            until = None
        if until is None and self._shared is not None and self._is_hot(key, now):
            shared = self._shared.read(key)
            if shared is not None and shared > now:
                self._remember(key, shared)
                until = shared
        return until

    def _remember(self, key: str, until: float) -> None:
        self._horizons[key] = max(until, self._horizons.get(key, until))
        self._heat(key, until + self._hot_s)

    def _heat(self, key: str, hot_until: float) -> None:
        self._hot_until[key] = max(hot_until, self._hot_until.get(key, 0.0))

    def _is_hot(self, key: str, now: float) -> bool:
        hot_until = self._hot_until.get(key)
        if hot_until is None:
            return False
        if hot_until <= now:
            del self._hot_until[key]
            return False
        return True
