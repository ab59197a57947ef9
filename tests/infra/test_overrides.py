"""Context changes the template: a `-c` override, a disabled channel, invalid values failing synth."""

from __future__ import annotations

import json

import pytest

from fanout import registry
from fanout.registry import InvalidChannelSettings
from fanout.router import settings as router_settings
from infra import router

from .conftest import NAME_PREFIX, Synthesized, SynthFactory

pytestmark = pytest.mark.cdk


def concurrency_by_queue(s: Synthesized) -> dict[str, int]:
    names = {k: v["Properties"].get("QueueName") for k, v in s.of_type("AWS::SQS::Queue").items()}
    return {
        names[m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]]: m["Properties"]["ScalingConfig"][
            "MaximumConcurrency"
        ]
        for m in s.of_type("AWS::Lambda::EventSourceMapping").values()
        if "ScalingConfig" in m["Properties"]
    }


def test_a_context_override_changes_only_that_channels_mapping(synth: SynthFactory) -> None:
    tuned = synth({"fanout:slack:maxConcurrency": "4", "fanout:slack:reservedConcurrency": "6"}, nag=False)
    slack_queue = registry.queue_name(NAME_PREFIX, "slack")
    github_queue = registry.queue_name(NAME_PREFIX, "github")
    assert registry.SLACK.settings.max_concurrency != 4
    assert concurrency_by_queue(tuned) == {
        slack_queue: 4,
        github_queue: registry.GITHUB.settings.max_concurrency,
    }
    reserved = {
        fn["Properties"]["Handler"]: fn["Properties"].get("ReservedConcurrentExecutions")
        for fn in tuned.of_type("AWS::Lambda::Function").values()
    }
    assert reserved[registry.SLACK.handler] == 6
    assert reserved[registry.GITHUB.handler] is None


def test_a_disabled_channel_has_no_queue_no_route_and_no_secret_access(synth: SynthFactory) -> None:
    s = synth({"fanout:slack:enabled": "false"})
    names = {v["Properties"].get("QueueName") for v in s.of_type("AWS::SQS::Queue").values()}
    assert registry.queue_name(NAME_PREFIX, "slack") not in names
    assert registry.queue_name(NAME_PREFIX, "github") in names
    assert "bgagent/slack" not in json.dumps(s.resources)
    handlers = {fn["Properties"]["Handler"] for fn in s.of_type("AWS::Lambda::Function").values()}
    assert handlers == {router.HANDLER, registry.GITHUB.handler}
    [router_fn] = [
        f for f in s.of_type("AWS::Lambda::Function").values() if f["Properties"]["Handler"] == router.HANDLER
    ]
    assert set(router_fn["Properties"]["Environment"]["Variables"]) >= {
        router_settings.queue_url_env("github")
    }
    assert router_settings.queue_url_env("slack") not in router_fn["Properties"]["Environment"]["Variables"]
    outputs = s.template.to_json()["Outputs"]
    assert registry.output_key("slack", registry.OUTPUT_QUEUE_URL) not in outputs
    assert s.nag_errors() == []


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"fanout:slack:maxConcurrency": "1"}, "maxConcurrency 1 must be 2..1000"),
        ({"fanout:github:batchSize": "11"}, "batchSize 11 must be 1..10"),
        ({"fanout:slack:timeoutS": "60"}, r"visibilityTimeoutS 180 is below 6x timeoutS \(360\)"),
    ],
    ids=["max-concurrency-1", "batch-size-11", "visibility-below-6x-timeout"],
)
def test_invalid_settings_fail_synth_with_a_clear_message(
    synth: SynthFactory, context: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidChannelSettings, match=message) as caught:
        synth(context, nag=False)
    assert "CDK context fanout:" in str(caught.value)
