from __future__ import annotations

from consumers.runtime.rate_limits import RateLimitMemory


def test_a_key_is_limited_until_its_horizon() -> None:
    memory = RateLimitMemory()
    memory.note("slack:T1", 130.0)
    assert memory.horizon("slack:T1", 100.0) == 130.0
    assert memory.horizon("slack:T2", 100.0) is None
    assert memory.horizon(None, 100.0) is None
    assert memory.horizon("slack:T1", 130.0) is None


def test_a_later_horizon_wins_and_an_earlier_one_does_not_shorten_it() -> None:
    memory = RateLimitMemory()
    memory.note("k", 150.0)
    memory.note("k", 120.0)
    assert memory.horizon("k", 100.0) == 150.0
    memory.note("k", 200.0)
    assert memory.horizon("k", 100.0) == 200.0
