"""Provider outages seen by one container: a circuit per key (a Slack workspace, a GitHub token).

Exponential backoff per message protects a failing provider, but it also decides how long the backlog
waits after the provider is back: a message that failed late in a long outage sleeps on for up to its
whole backoff ceiling. Here the first server-side failure on a key (5xx, no answer) opens the key's
circuit. While it is open, the key's other messages wait without calling; when it closes for a probe,
the next message through is that probe. A failed probe keeps the circuit open for longer, an answer of
any kind closes it. The circuit remembers which message opened it: a failure only *continues* an
outage when some other message has failed in it too, since one message failing alone cannot be told
from a message the provider cannot take. The probe interval grows with the outage's age (a quarter of
it, at least 1 s, at most `cap_s`), so the provider sees a few calls per container however long it is
down, and the backlog starts moving at most a quarter of the outage's length after it ends.

Pure state and arithmetic. Whether a failure continues an outage a sibling container already saw is
kept in the ledger table (shared_outages.py); key_guards.py decides what a failure costs.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_PROBE_S = 1.0
GROWTH = 0.25  # probe interval as a share of the outage's age so far
# A circuit nobody probed for this long after its horizon has no backlog behind it: the next failure on
# the key starts a new outage instead of continuing a stale one.
STALE_S = 60.0


@dataclass
class _Circuit:
    """One provider key's open outage, as this container saw it."""

    since: float  # the outage's first failure seen here
    until: float  # the next probe's earliest time
    opener: str  # the event whose failure opened it
    others: bool = False  # another event has failed in it since


class ProviderOutages:
    def __init__(
        self,
        *,
        cap_s: float,
        min_probe_s: float = MIN_PROBE_S,
        growth: float = GROWTH,
        stale_s: float = STALE_S,
    ) -> None:
        self._circuits: dict[str, _Circuit] = {}
        self._stale_s = stale_s
        self._cap_s = max(cap_s, min_probe_s)
        self._min_probe_s = min_probe_s
        self._growth = growth

    def closed_until(self, key: str | None, now: float) -> float | None:
        """When the next call on `key` may go out (a probe), or None when the circuit lets it through."""
        circuit = self._current(key, now)
        if circuit is None or circuit.until <= now:
            return None
        return circuit.until

    def is_open(self, key: str | None, now: float) -> bool:
        """An outage on `key` is in progress here."""
        return self._current(key, now) is not None

    def others_failing(self, key: str, event_id: str, now: float) -> bool:
        """An outage on `key` is in progress here, and a message other than `event_id` has failed in it."""
        circuit = self._current(key, now)
        return circuit is not None and (circuit.opener != event_id or circuit.others)

    def failed(self, key: str, now: float, *, event_id: str, not_before: float | None = None) -> float:
        """A server-side failure of `event_id` on `key`: the circuit opens (or stays open); returns the
        next probe time. `not_before`: the provider's own Retry-After, in seconds, if it gave one."""
        circuit = self._current(key, now)
        if circuit is None:
            circuit = self._circuits[key] = _Circuit(since=now, until=now, opener=event_id)
        elif event_id != circuit.opener:
            circuit.others = True
        interval = min(self._cap_s, max(self._min_probe_s, (now - circuit.since) * self._growth))
        if not_before is not None:
            interval = max(interval, not_before)
        circuit.until = max(circuit.until, now + interval)
        return circuit.until

    def answered(self, key: str | None) -> None:
        """The provider answered a call on `key` (delivered, refused, rate-limited): the outage is over."""
        if key is not None:
            self._circuits.pop(key, None)

    def _current(self, key: str | None, now: float) -> _Circuit | None:
        if key is None:
            return None
        circuit = self._circuits.get(key)
        if circuit is not None and now - circuit.until > self._stale_s:
            del self._circuits[key]
            return None
        return circuit
