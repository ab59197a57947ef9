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


class DictStore:
    """A shared store in a dict, with its calls counted."""

    def __init__(self) -> None:
        self.horizons: dict[str, float] = {}
        self.reads = 0

    def publish(self, key: str, until: float) -> None:
        self.horizons[key] = max(until, self.horizons.get(key, until))

    def read(self, key: str) -> float | None:
        self.reads += 1
        return self.horizons.get(key)


def test_each_window_is_published_for_the_siblings() -> None:
    store = DictStore()
    RateLimitMemory(store).note("k", 130.0)
    assert store.horizons == {"k": 130.0}


def test_a_hot_key_reads_the_shared_horizon_and_a_cold_one_does_not() -> None:
    store = DictStore()
    mine, sibling = RateLimitMemory(store, hot_s=60), RateLimitMemory(store, hot_s=60)
    mine.note("k", 101.0)
    sibling.note("k", 140.0)
    assert mine.horizon("k", 105.0) == 140.0  # own window over, the sibling's read and remembered
    reads = store.reads
    assert mine.horizon("k", 110.0) == 140.0  # remembered: no second read
    assert store.reads == reads
    assert RateLimitMemory(store).horizon("k", 110.0) is None  # never limited: cold, reads nothing
    assert store.reads == reads


def test_a_key_cools_down_after_its_last_horizon() -> None:
    store = DictStore()
    memory = RateLimitMemory(store, hot_s=60)
    memory.note("k", 100.0)
    assert memory.horizon("k", 150.0) is None  # hot: read, and the stored window is over
    reads = store.reads
    assert memory.horizon("k", 161.0) is None  # cold again
    assert store.reads == reads


def test_a_redelivered_message_reads_the_shared_horizon_even_on_a_cold_key() -> None:
    store = DictStore()
    RateLimitMemory(store).note("k", 140.0)  # a sibling's window
    memory = RateLimitMemory(store)  # never limited on "k" here: cold
    assert memory.horizon("k", 110.0) is None  # a first delivery reads nothing
    assert store.reads == 0
    assert memory.horizon("k", 110.0, redelivered=True) == 140.0
    assert store.reads == 1
    assert memory.horizon("k", 120.0) == 140.0  # remembered for the container's other messages
    assert memory.horizon("k", 141.0, redelivered=True) is None  # the window is over


def test_after_a_redelivered_message_every_call_on_the_key_reads_the_shared_horizon() -> None:
    store = DictStore()
    memory = RateLimitMemory(store, hot_s=60)
    assert memory.horizon("k", 100.0, redelivered=True) is None  # found clear
    assert memory.horizon("k", 100.1, redelivered=True) is None  # the batch's next returning message
    assert store.reads == 2  # read again: a window may have been announced in between
    RateLimitMemory(store).note("k", 101.5)  # a sibling is limited a moment later
    # A fresh message of this container's next delivery: the window the provider may not enforce on
    # this container's first call is still seen, so no second call lands in it.
    assert memory.horizon("k", 100.3) == 101.5
    assert store.reads == 3
    assert memory.horizon("k", 162.0) is None  # 60 s after the sibling's window ended: cold, no read
    assert store.reads == 3


def test_a_watched_key_reads_the_shared_horizon_before_each_call_until_it_cools() -> None:
    store = DictStore()
    memory = RateLimitMemory(store, hot_s=60)
    memory.watch("k", 100.0)  # the provider failed a call on "k" here
    assert memory.horizon("k", 101.0) is None
    RateLimitMemory(store).note("k", 130.0)
    assert memory.horizon("k", 102.0) == 130.0
    assert memory.horizon("other", 102.0) is None  # other keys stay cold
    assert store.reads == 2
    assert memory.horizon("k", 191.0) is None  # 60 s past the sibling's window: cold again
    assert store.reads == 2


def test_a_watched_key_with_no_window_cools_down_after_hot_s() -> None:
    store = DictStore()
    memory = RateLimitMemory(store, hot_s=60)
    memory.watch("k", 100.0)
    assert memory.horizon("k", 159.0) is None
    assert store.reads == 1
    assert memory.horizon("k", 161.0) is None  # 60 s after the trouble: cold, no read
    assert store.reads == 1


def test_the_memory_alone_is_asked_without_reading_the_shared_store() -> None:
    store = DictStore()
    memory = RateLimitMemory(store, hot_s=60)
    memory.watch("k", 100.0)
    RateLimitMemory(store).note("k", 130.0)
    assert memory.known_horizon("k", 101.0) is None  # a sibling's window is not in this memory
    assert store.reads == 0
    assert memory.shared_horizon("k", 101.0) == 130.0
    assert memory.known_horizon("k", 102.0) == 130.0  # remembered once read
    assert store.reads == 1
