from __future__ import annotations

import pytest

from consumers.runtime.humanize import duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (-3, "0s"), (45, "45s"), (59.9, "59s"), (60, "1m 0s"), (252, "4m 12s"), (3725, "1h 2m")],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text
