"""Writes of one token are at least a second apart; other tokens and idle time do not wait."""

from __future__ import annotations

import itertools

from consumers.github.pacer import Pacer
from tests.clock import FakeClock


def test_back_to_back_writes_are_spaced_by_the_interval() -> None:
    clock = FakeClock()
    pacer = Pacer(clock, clock.sleep)
    starts = []
    for _ in range(3):
        pacer.wait("tok")
        starts.append(clock.now)
        clock.advance(0.25)  # the request itself
    assert clock.sleeps == [0.75, 0.75]
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [1.0, 1.0]


def test_the_first_write_and_idle_tokens_never_wait() -> None:
    clock = FakeClock()
    pacer = Pacer(clock, clock.sleep)
    assert pacer.wait("a") == 0
    assert pacer.wait("b") == 0  # another token has its own pace
    clock.advance(5)
    assert pacer.wait("a") == 0
    assert clock.sleeps == []


def test_the_wait_never_exceeds_the_interval_even_if_the_clock_goes_back() -> None:
    clock = FakeClock()
    pacer = Pacer(clock, clock.sleep)
    pacer.wait("a")
    clock.advance(-30)
    assert pacer.wait("a") == 1.0
