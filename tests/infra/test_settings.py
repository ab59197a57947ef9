"""CDK context -> validated per-channel settings (no synth: pure parsing and the registry's validation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fanout import registry
from fanout.registry import InvalidChannelSettings
from infra.settings import (
    CTX_EVENTS_STREAM_ARN,
    CTX_GITHUB_TOKEN_SECRET_PATTERNS,
    CTX_TASK_TABLE_NAME,
    ChannelConfig,
    FanoutProps,
    cdk_json_context,
)

from .conftest import EVENTS_STREAM_ARN, TASK_TABLE_NAME

pytestmark = pytest.mark.cdk

PropsFactory = Callable[..., FanoutProps]


@pytest.fixture
def props_from() -> PropsFactory:
    """Factory: props from cdk.json's context plus the given `-c` style overrides."""

    def make(**overrides: Any) -> FanoutProps:
        return FanoutProps.from_context({**cdk_json_context(), **overrides})

    return make


def test_cdk_json_holds_every_channels_settings_and_mirrors_the_registry() -> None:
    context = {**cdk_json_context(), "fanout:email:from": "fanout@example.com"}  # email needs its sender
    props = FanoutProps.from_context(context)
    assert [c.name for c in props.channels] == list(registry.CHANNELS)
    for config in props.channels:
        keys = {k.split(":")[2] for k in context if k.startswith(f"fanout:{config.name}:")}
        assert {
            "batchSize",
            "maxConcurrency",
            "reservedConcurrency",
            "memoryMb",
            "timeoutS",
            "maxAttempts",
            "maxAgeS",
        } <= keys
        # The shipped cdk.json starts from the registry's defaults; a drift here is a silent retune.
        assert config.settings == config.spec.settings


def test_empty_context_deploys_every_registry_channel_with_its_defaults() -> None:
    props = FanoutProps.from_context({})
    assert {c.name: c.settings for c in props.channels} == {
        n: s.settings for n, s in registry.CHANNELS.items() if not s.required_options
    }
    assert props.channel("email") is None  # off until its sender is given
    assert props.attached is False


def test_a_string_override_from_the_command_line_changes_one_setting(props_from: PropsFactory) -> None:
    props = props_from(**{"fanout:slack:maxConcurrency": "4"})
    slack, github = props.channel("slack"), props.channel("github")
    assert slack is not None
    assert github is not None
    assert slack.settings.max_concurrency == 4
    assert slack.settings.batch_size == registry.SLACK.settings.batch_size
    assert github.settings == registry.GITHUB.settings


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"fanout:slack:maxConcurrency": "1"}, "maxConcurrency 1 must be 2..1000"),
        ({"fanout:github:batchSize": "11"}, "batchSize 11 must be 1..10 for a FIFO queue"),
        ({"fanout:github:visibilityTimeoutS": "300"}, r"visibilityTimeoutS 300 is below 6x timeoutS \(360\)"),
        ({"fanout:slack:batchSize": "ten"}, "batchSize='ten' is not a int"),
        ({"fanout:slack:maxConcurency": "4"}, "unknown setting 'maxConcurency'"),
        ({"fanout:teams:batchSize": "4"}, "unknown channel 'teams'"),
        ({"fanout:slack:ageAlarmS": "999999"}, "ageAlarmS 999999 must be 60..maxAgeS"),
        ({"fanout:slack:enabled": "maybe"}, "is not a boolean"),
        (
            {"fanout:slack:timeoutS": "10", "fanout:slack:visibilityTimeoutS": "60"},
            r"channel slack: timeoutS 10 is below 25: the per-record margin",
        ),
        ({"fanout:slack:maxReceiveCount": "15"}, r"channel slack: maxReceiveCount 15 must be 786\.\.1000"),
        (
            {"fanout:github:ledgerRetentionS": "86400"},
            "ledgerRetentionS 86400 must exceed the queues' retention",
        ),
        ({"fanout:github:enabled": "false", "fanout:slack:enabled": "false"}, "no channel enabled"),
        ({CTX_EVENTS_STREAM_ARN: EVENTS_STREAM_ARN}, "needs both"),
        (
            {CTX_EVENTS_STREAM_ARN: "arn:aws:dynamodb:us-east-1:1:table/T", CTX_TASK_TABLE_NAME: "T"},
            "not a DynamoDB stream ARN",
        ),
    ],
)
def test_invalid_context_is_refused_with_a_message_naming_the_problem(
    props_from: PropsFactory, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidChannelSettings, match=message):
        props_from(**overrides)


def test_channel_errors_name_the_context_keys_to_fix(props_from: PropsFactory) -> None:
    with pytest.raises(InvalidChannelSettings) as caught:
        props_from(**{"fanout:slack:maxConcurrency": "1"})
    assert "fanout:slack:*" in str(caught.value)
    assert "channel slack" in str(caught.value)


def test_a_disabled_channel_is_not_deployed(props_from: PropsFactory) -> None:
    props = props_from(**{"fanout:slack:enabled": "false"})
    assert [c.name for c in props.channels] == ["github"]
    assert props.channel("slack") is None


def test_attach_mode_needs_the_stream_and_the_task_table(props_from: PropsFactory) -> None:
    props = props_from(**{CTX_EVENTS_STREAM_ARN: EVENTS_STREAM_ARN, CTX_TASK_TABLE_NAME: TASK_TABLE_NAME})
    assert props.attached is True
    assert (props.events_stream_arn, props.task_table_name) == (EVENTS_STREAM_ARN, TASK_TABLE_NAME)


@pytest.mark.parametrize(
    "raw",
    ["arn:a/*, arn:b/*", '["arn:a/*", "arn:b/*"]', ["arn:a/*", "arn:b/*"]],
    ids=["comma-separated", "json-string", "json-list"],
)
def test_github_secret_patterns_accept_a_list_in_any_context_form(props_from: PropsFactory, raw: Any) -> None:
    props = props_from(**{CTX_GITHUB_TOKEN_SECRET_PATTERNS: raw})
    assert props.github_token_secret_arn_patterns == ("arn:a/*", "arn:b/*")


def test_age_alarm_defaults_to_half_the_max_age_and_is_overridable(props_from: PropsFactory) -> None:
    slack = props_from().channel("slack")
    assert slack is not None
    assert slack.age_alarm_s == registry.SLACK.settings.max_age_s // 2
    tuned = props_from(**{"fanout:slack:ageAlarmS": "600"}).channel("slack")
    assert tuned is not None
    assert tuned.age_alarm_s == 600


def test_channel_config_validates_settings_built_in_code() -> None:
    bad = registry.SLACK.settings.with_overrides({"timeoutS": 60})  # visibility 180 < 6 x 60
    with pytest.raises(InvalidChannelSettings, match="visibilityTimeoutS 180 is below 6x"):
        ChannelConfig.create(registry.SLACK, bad)
