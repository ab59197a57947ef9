"""The outage circuit's arithmetic: when a key's next probe may go out, and when an outage is over."""

from __future__ import annotations

import pytest

from consumers.runtime.outages import STALE_S, ProviderOutages


@pytest.fixture
def outages() -> ProviderOutages:
    return ProviderOutages(cap_s=60.0)


def test_a_key_never_failed_is_let_through(outages: ProviderOutages) -> None:
    assert outages.closed_until("slack:T1", 100.0) is None
    assert not outages.is_open("slack:T1", 100.0)
    assert outages.closed_until(None, 100.0) is None


def test_a_failure_holds_the_key_for_one_probe_interval_then_lets_one_probe_through(
    outages: ProviderOutages,
) -> None:
    assert outages.failed("slack:T1", 100.0, event_id="e1") == 101.0
    assert outages.closed_until("slack:T1", 100.5) == 101.0
    assert outages.closed_until("slack:T2", 100.5) is None  # keys are apart
    assert outages.closed_until("slack:T1", 101.0) is None  # the probe's turn
    assert outages.is_open("slack:T1", 101.0)  # ... and the outage goes on until an answer


def test_the_probe_interval_is_a_quarter_of_the_outage_so_far_within_its_bounds(
    outages: ProviderOutages,
) -> None:
    outages.failed("k", 0.0, event_id="e1")
    assert outages.failed("k", 2.0, event_id="e1") == 3.0  # a quarter of 2 s is below the 1 s floor
    assert outages.failed("k", 40.0, event_id="e1") == 50.0
    assert outages.failed("k", 100.0, event_id="e1") == 125.0
    assert outages.failed("k", 170.0, event_id="e1") == 212.5
    assert outages.failed("k", 260.0, event_id="e1") == 320.0  # capped at 60 s


def test_a_later_failure_never_brings_the_probe_forward(outages: ProviderOutages) -> None:
    outages.failed("k", 0.0, event_id="e1")
    assert outages.failed("k", 40.0, event_id="e1") == 50.0
    assert outages.failed("k", 41.0, event_id="e1") == 51.25
    assert outages.failed("k", 41.0, event_id="e1", not_before=2.0) == 51.25


def test_the_providers_own_retry_after_is_a_floor(outages: ProviderOutages) -> None:
    assert outages.failed("k", 10.0, event_id="e1", not_before=7.5) == 17.5


def test_an_answer_ends_the_outage(outages: ProviderOutages) -> None:
    outages.failed("k", 0.0, event_id="e1")
    outages.failed("k", 40.0, event_id="e1")
    outages.answered("k")
    assert not outages.is_open("k", 41.0)
    assert outages.failed("k", 41.0, event_id="e1") == 42.0  # a new outage starts from the floor again
    outages.answered(None)  # nothing to end


def test_an_outage_nobody_probed_for_long_is_forgotten(outages: ProviderOutages) -> None:
    outages.failed("k", 0.0, event_id="e1")
    outages.failed("k", 40.0, event_id="e1")  # next probe at 50
    assert outages.is_open("k", 50.0 + STALE_S)
    assert not outages.is_open("k", 50.0 + STALE_S + 1)
    assert outages.failed("k", 200.0, event_id="e1") == 201.0


def test_the_cap_never_goes_below_the_floor() -> None:
    outages = ProviderOutages(cap_s=0.2)
    assert outages.failed("k", 0.0, event_id="e1") == 1.0


def test_a_failure_continues_an_outage_only_when_another_message_failed_in_it(
    outages: ProviderOutages,
) -> None:
    assert not outages.others_failing("k", "e1", 0.0)  # no outage
    outages.failed("k", 0.0, event_id="e1")
    assert not outages.others_failing("k", "e1", 1.0)  # e1 alone: it may be e1, not the provider
    assert outages.others_failing("k", "e2", 1.0)
    outages.failed("k", 1.0, event_id="e2")
    assert outages.others_failing("k", "e1", 2.0)  # now two messages fail: an outage
    outages.answered("k")
    assert not outages.others_failing("k", "e2", 3.0)
