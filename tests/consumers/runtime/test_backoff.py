from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.runtime.backoff import (
    MIN_DELAY_S,
    VISIBILITY_MARGIN_S,
    backoff_delay,
    clamp_delay,
    retry_delay,
    visibility_allowance,
)
from fanout.registry import SQS_MAX_VISIBILITY_S

NOW = 1_800_000_000.0


def fixed(value: float):  # type: ignore[no-untyped-def]
    return lambda: value


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (9, 512.0), (10, 900.0), (50, 900.0)]
)
def test_the_top_of_the_jitter_range_doubles_per_attempt_up_to_the_cap(attempt: int, ceiling: float) -> None:
    assert backoff_delay(attempt, base_s=2, cap_s=900, random=fixed(0.999999)) == pytest.approx(
        ceiling, rel=1e-5
    )


def test_full_jitter_can_go_down_to_the_one_second_floor() -> None:
    assert backoff_delay(8, base_s=2, cap_s=900, random=fixed(0.0)) == MIN_DELAY_S
    assert backoff_delay(8, base_s=2, cap_s=900, random=fixed(0.5)) == 128.0


def test_attempt_numbers_below_one_count_as_the_first() -> None:
    assert backoff_delay(0, base_s=3, cap_s=900, random=fixed(0.999999)) == pytest.approx(3.0, rel=1e-5)


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    assert backoff_delay(10_000, base_s=2, cap_s=900, random=fixed(0.5)) == 450.0


@given(attempt=st.integers(-5, 10_000), draw=st.floats(0, 1, exclude_max=True))
def test_backoff_is_always_between_the_floor_and_the_cap(attempt: int, draw: float) -> None:
    delay = backoff_delay(attempt, base_s=2, cap_s=900, random=lambda: draw)
    assert MIN_DELAY_S <= delay <= 900


def test_retry_after_wins_over_backoff_and_is_rounded_up() -> None:
    delay = retry_delay(
        30.2, attempt=9, base_s=2, cap_s=900, now=NOW, first_received_at=NOW, random=fixed(0.9)
    )
    assert delay == 31


def test_a_zero_retry_after_still_waits_one_second() -> None:
    assert (
        retry_delay(0, attempt=1, base_s=2, cap_s=900, now=NOW, first_received_at=NOW, random=fixed(0.9)) == 1
    )


def test_without_retry_after_the_backoff_is_used() -> None:
    delay = retry_delay(
        None, attempt=4, base_s=2, cap_s=900, now=NOW, first_received_at=NOW, random=fixed(0.5)
    )
    assert delay == 8


def test_a_delay_is_clamped_to_what_the_twelve_hours_since_first_receipt_allow() -> None:
    first = NOW - (SQS_MAX_VISIBILITY_S - 600)  # ten minutes of the allowance left
    assert visibility_allowance(now=NOW, first_received_at=first) == 600 - VISIBILITY_MARGIN_S
    assert clamp_delay(3600, now=NOW, first_received_at=first) == 600 - VISIBILITY_MARGIN_S
    assert (
        retry_delay(3600, attempt=1, base_s=2, cap_s=900, now=NOW, first_received_at=first, random=fixed(0))
        == 540
    )


def test_past_the_allowance_the_one_second_floor_wins() -> None:
    assert clamp_delay(120, now=NOW, first_received_at=NOW - SQS_MAX_VISIBILITY_S) == MIN_DELAY_S


def test_an_infinite_delay_is_bounded_by_sqs() -> None:
    assert (
        clamp_delay(float("inf"), now=NOW, first_received_at=NOW)
        == SQS_MAX_VISIBILITY_S - VISIBILITY_MARGIN_S
    )
