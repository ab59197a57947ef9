"""Rate-limit memory of one container: after a provider limited a key (a Slack workspace, a GitHub
token), every other message for that key waits for the same horizon without calling the provider."""

from __future__ import annotations


class RateLimitMemory:
    def __init__(self) -> None:
        self._horizons: dict[str, float] = {}

    def note(self, key: str, until: float) -> None:
        """Remember that `key` is limited until `until` (epoch seconds); a later horizon wins."""
        self._horizons[key] = max(until, self._horizons.get(key, until))

    def horizon(self, key: str | None, now: float) -> float | None:
        """When `key` may be called again, or None when it is not limited now."""
        if key is None:
            return None
        until = self._horizons.get(key)
        if until is None:
            return None
        if until <= now:
            del self._horizons[key]
            return None
        return until
