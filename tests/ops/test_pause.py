"""Pause and resume against botocore's Stubber (moto cannot run the consumer's event source mapping)."""

from __future__ import annotations

import pytest

from fanout.ops.discovery import ChannelTarget
from fanout.ops.errors import UsageError
from fanout.ops.pause import require_deployed, set_consumer_enabled

ESM = "0f8fad5b-d9cb-469f-a165-70867728950e"
TARGET = ChannelTarget(channel="slack", queue_url="u", dlq_url="d", esm_id=ESM)


@pytest.mark.parametrize(
    ("enabled", "before", "after"), [(False, "Enabled", "Disabling"), (True, "Disabled", "Enabling")]
)
def test_toggles_the_event_source_mapping(stubs, enabled: bool, before: str, after: str) -> None:
    lam = stubs("lambda")
    lam.add_response("get_event_source_mapping", {"UUID": ESM, "State": before}, {"UUID": ESM})
    lam.add_response(
        "update_event_source_mapping", {"UUID": ESM, "State": after}, {"UUID": ESM, "Enabled": enabled}
    )

    result = set_consumer_enabled(stubs.clients["lambda"], None, TARGET, enabled=enabled)  # type: ignore[arg-type]

    assert (result.uuid, result.before, result.after, result.changed) == (ESM, before, after, True)
    stubs.verify()


def test_a_mapping_already_in_that_state_is_left_alone(stubs) -> None:
    stubs("lambda").add_response(
        "get_event_source_mapping", {"UUID": ESM, "State": "Disabled"}, {"UUID": ESM}
    )

    result = set_consumer_enabled(stubs.clients["lambda"], None, TARGET, enabled=False)  # type: ignore[arg-type]

    assert not result.changed
    assert result.after == "Disabled"
    stubs.verify()  # and no update call was made (the Stubber would have refused it)


def test_a_local_run_cannot_be_paused() -> None:
    with pytest.raises(UsageError, match="channel pause needs --stack"):
        require_deployed(deployed=False, verb="pause")
    require_deployed(deployed=True, verb="pause")
