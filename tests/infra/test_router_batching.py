"""`fanout:router:batchingWindowS`: the stream mapping's batching window, validated at synth."""

from __future__ import annotations

from typing import Any

import pytest

from fanout.registry import InvalidChannelSettings
from infra.settings import CTX_ROUTER_BATCHING_WINDOW_S, FanoutProps, cdk_json_context

from .conftest import SynthFactory

pytestmark = pytest.mark.cdk


def stream_mapping(properties: dict[str, Any]) -> bool:
    return "StartingPosition" in properties  # the SQS mappings have none


def test_the_window_reaches_the_stream_mapping_and_only_it(synth: SynthFactory) -> None:
    synthesized = synth({CTX_ROUTER_BATCHING_WINDOW_S: "5"}, nag=False)
    mappings = [m["Properties"] for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()]
    [stream] = [m for m in mappings if stream_mapping(m)]
    assert stream["MaximumBatchingWindowInSeconds"] == 5
    assert all("MaximumBatchingWindowInSeconds" not in m for m in mappings if not stream_mapping(m))


def test_without_the_setting_the_router_is_invoked_as_records_arrive() -> None:
    assert FanoutProps.from_context(cdk_json_context()).router_batching_window_s == 0


@pytest.mark.parametrize(
    ("raw", "problem"),
    [("301", "0..300"), ("-1", "0..300"), ("1.5", "is not an integer"), ("soon", "is not an integer")],
)
def test_a_window_lambda_would_refuse_fails_the_synth_naming_the_key(raw: str, problem: str) -> None:
    with pytest.raises(InvalidChannelSettings, match=problem) as raised:
        FanoutProps.from_context({**cdk_json_context(), CTX_ROUTER_BATCHING_WINDOW_S: raw})
    assert CTX_ROUTER_BATCHING_WINDOW_S in str(raised.value)


def test_props_built_in_code_are_checked_too() -> None:
    with pytest.raises(InvalidChannelSettings, match="batchingWindowS"):
        FanoutProps(router_batching_window_s=600)
