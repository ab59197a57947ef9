"""The machine's load average, recorded with every benchmark run (figures on a shared machine need it)."""

from __future__ import annotations

import os


def load_average() -> tuple[float, float, float]:
    """1, 5 and 15 minute load averages (os.getloadavg), rounded to two decimals."""
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(five if fifteen is None else fifteen, 2)


def describe(load: tuple[float, float, float]) -> str:
    return "/".join(f"{value:.2f}" for value in load)
