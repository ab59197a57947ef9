"""The settable clock the consumer tests inject (the runtime and the channels take a clock and a sleep)."""

from __future__ import annotations


class FakeClock:
    """Epoch seconds that only move when told to; `sleep` advances it and records the wait."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
