"""The Slack bot token secret prefix is a deployment setting (fanout:slackSecretPrefix): the consumer
reads `<prefix><team_id>`, may read exactly those secrets, cdk-nag accepts that one wildcard, and a
prefix that would deploy but misbehave is refused at synth."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.runtime.settings import DEFAULT_SLACK_SECRET_PREFIX, ENV_SLACK_SECRET_PREFIX
from fanout.registry import InvalidChannelSettings
from infra.settings import CTX_SLACK_SECRET_PREFIX, FanoutProps, cdk_json_context

from .conftest import Synthesized, SynthFactory, actions_of, statements

pytestmark = pytest.mark.cdk
PREFIX = "chat/slack-bots/"


@pytest.fixture(scope="module")
def synthesized(synth: SynthFactory) -> Synthesized:
    return synth({CTX_SLACK_SECRET_PREFIX: PREFIX})


def _slack_consumer(s: Synthesized) -> dict[str, Any]:
    [fn] = [f for f in s.of_type("AWS::Lambda::Function").values() if "slack" in f["Properties"]["Handler"]]
    return fn


def _joined(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return value["Fn::Join"][0].join(_joined(p) for p in value["Fn::Join"][1])
    return "<ref>"


def test_the_consumer_reads_and_may_read_the_configured_prefix(synthesized: Synthesized) -> None:
    fn = _slack_consumer(synthesized)
    assert fn["Properties"]["Environment"]["Variables"][ENV_SLACK_SECRET_PREFIX] == PREFIX
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = {
        k: v
        for k, v in synthesized.of_type("AWS::IAM::Policy").items()
        if {"Ref": role} in v["Properties"]["Roles"]
    }
    reads = [s for s in statements(policies) if "secretsmanager:GetSecretValue" in actions_of(s)]
    resources = [
        _joined(r)
        for s in reads
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]
    assert resources
    assert all(r.endswith(f":secret:{PREFIX}*") for r in resources), resources
    assert synthesized.nag_errors() == []  # the acknowledged wildcard follows the prefix


def test_the_default_prefix_is_the_platforms() -> None:
    assert FanoutProps.from_context(cdk_json_context()).slack_secret_prefix == DEFAULT_SLACK_SECRET_PREFIX


@pytest.mark.parametrize("bad", ["bgagent/*", "bgagent slack/", "x" * 257])
def test_a_prefix_that_would_misbehave_is_refused_at_synth(bad: str) -> None:
    with pytest.raises(InvalidChannelSettings, match=CTX_SLACK_SECRET_PREFIX):
        FanoutProps.from_context({**cdk_json_context(), CTX_SLACK_SECRET_PREFIX: bad})
