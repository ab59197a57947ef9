"""Rate-limit memory of one container: after a provider limited a key (a Slack workspace, a GitHub
token), every other message for that key waits for the same horizon without calling the provider.

With a shared store (shared_horizons.py), each window this container is told of is published for its
siblings, and while a key is *hot* here the shared window is read before each message's calls on it.
A key turns hot on any sign of trouble on it, for `HOT_S` seconds after the trouble (after the window
ends, for a rate limit): this container was limited on it, the provider failed a call on it on its
side (`watch`), or a message for it was received before (`redelivered`: it came back from a wait of
any kind, most often a rate limit or an outage a sibling met on the key). A window a sibling was given
may outlast the limit, so the provider can answer this container's first call into it and teach it
nothing; reading it before the next message keeps that message's calls out. Only a key with no trouble
seen costs no read: a container learns of a window it was not told of through its first call into it,
which is the one call per container per window the provider sees.
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
        """Trouble on `key` that is not a window of ours (a server-side failure, a message coming back):
        read the siblings' windows before each message's calls on it for the next `hot_s` seconds."""
        self._heat(key, now + self._hot_s)

    def horizon(self, key: str | None, now: float, *, redelivered: bool = False) -> float | None:
        """When `key` may be called again, or None when it is not limited now: this container's own
        memory first, then the shared window while the key is hot. `redelivered`: the message asking
        was received before, which turns the key hot (`watch`)."""
        local = self.known_horizon(key, now)
        if local is not None or key is None:
            return local
        return self.shared_horizon(key, now, redelivered=redelivered)

    def known_horizon(self, key: str | None, now: float) -> float | None:
        """The horizon this container remembers for `key`, without asking the shared store."""
        if key is None:
            return None
        until = self._horizons.get(key)
        if until is not None and until <= now:
            del self._horizons[key]
            return None
        return until

    def wants_shared(self, key: str, now: float, *, redelivered: bool = False) -> bool:
        """Whether a call on `key` now must first make sure no sibling's window is open (the key is hot
        here); the consumer checks it inside the ledger claim's transaction instead of reading it."""
        if redelivered:
            self.watch(key, now)
        return self._shared is not None and self._is_hot(key, now)

    def adopt(self, key: str, until: float) -> None:
        """A sibling's window found open (the claim's check failed on it): remember it as our own."""
        self._remember(key, until)

    def shared_horizon(self, key: str, now: float, *, redelivered: bool = False) -> float | None:
        """A sibling's window on `key`, read from the shared store while the key is hot here (the read
        is left to the moment a call would go out: a message held back anyway costs none)."""
        if redelivered:
            self.watch(key, now)
        if self._shared is None or not self._is_hot(key, now):
            return None
        shared = self._shared.read(key)
        if shared is None or shared <= now:
            return None
        self._remember(key, shared)
        return shared

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
