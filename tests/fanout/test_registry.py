from __future__ import annotations

import pytest

from fanout import event_types, registry
from fanout.registry import InvalidChannelSettings


def test_defaults_match_the_channel_spec() -> None:
    assert registry.SLACK.default_subscriptions == {
        "task_created", "session_started", "task_completed", "task_failed",
        "task_cancelled", "task_timed_out", "task_stranded", "agent_error",
    }  # fmt: skip
    assert registry.GITHUB.default_subscriptions == {
        "pr_created", "task_completed", "task_failed", "task_cancelled", "task_timed_out", "task_stranded",
    }  # fmt: skip


@pytest.mark.parametrize("spec", list(registry.CHANNELS.values()), ids=lambda s: s.name)
def test_every_default_subscription_is_renderable(spec: registry.ChannelSpec) -> None:
    assert spec.default_subscriptions <= spec.renderable


@pytest.mark.parametrize("spec", list(registry.CHANNELS.values()), ids=lambda s: s.name)
def test_shipped_settings_are_valid(spec: registry.ChannelSpec) -> None:
    assert spec.validate() == spec.settings


def test_no_channel_renders_a_bare_milestone() -> None:
    assert registry.channels_for(event_types.AGENT_MILESTONE) == []
    assert [c.name for c in registry.channels_for("pr_created")] == ["github"]
    assert [c.name for c in registry.channels_for("task_failed")] == ["slack", "github", "email"]
    assert [c.name for c in registry.channels_for("task_failed", ["github"])] == ["github"]


def test_overrides_accept_camel_case_strings() -> None:
    changed = registry.SLACK.settings.with_overrides({"maxConcurrency": "4", "backoffBaseS": "0.5"})
    assert changed.max_concurrency == 4
    assert changed.backoff_base_s == 0.5
    assert registry.SLACK.settings.max_concurrency == 5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"maxConcurrency": 1}, "maxConcurrency 1 must be 2..1000"),
        ({"maxConcurrency": 1001}, "maxConcurrency 1001 must be 2..1000"),
        ({"batchSize": 11}, "batchSize 11 must be 1..10"),
        ({"visibilityTimeoutS": 100}, "below 6x timeoutS (180)"),
        ({"reservedConcurrency": 3}, "reservedConcurrency 3 is below maxConcurrency 5"),
        ({"maxAttempts": 0}, "maxAttempts 0 must be at least 1"),
    ],
)
def test_invalid_settings_fail_with_a_clear_message(overrides, message) -> None:
    settings = registry.SLACK.settings.with_overrides(overrides)
    with pytest.raises(
        InvalidChannelSettings, match="channel slack: .*" + message.replace("(", r"\(").replace(")", r"\)")
    ):
        registry.SLACK.validate(settings)


@pytest.mark.parametrize(
    ("overrides", "message"), [({"nope": 1}, "unknown setting"), ({"batchSize": "ten"}, "not a int")]
)
def test_unusable_override_values_are_rejected(overrides, message) -> None:
    with pytest.raises(InvalidChannelSettings, match=message):
        registry.SLACK.settings.with_overrides(overrides)


def test_names() -> None:
    assert registry.queue_name("fanout-local", "slack") == "fanout-local-slack.fifo"
    assert registry.dlq_name("fanout-local", "github") == "fanout-local-github-dlq.fifo"
    assert registry.output_key("github", registry.OUTPUT_DLQ_URL) == "GithubDlqUrl"
    with pytest.raises(KeyError, match="unknown channel 'teams'"):
        registry.get("teams")


def test_override_messages_name_settings_as_operators_write_them() -> None:
    with pytest.raises(
        InvalidChannelSettings, match=r"unknown setting 'maxConcurency'; known: .*maxConcurrency"
    ):
        registry.SLACK.settings.with_overrides({"maxConcurency": 4})
    with pytest.raises(InvalidChannelSettings, match="maxConcurrency='abc' is not a int"):
        registry.SLACK.settings.with_overrides({"maxConcurrency": "abc"})


def test_a_timeout_at_the_record_margin_is_refused_naming_the_rule() -> None:
    settings = registry.SLACK.settings.with_overrides({"timeoutS": "10", "visibilityTimeoutS": "60"})
    with pytest.raises(InvalidChannelSettings) as caught:
        registry.SLACK.validate(settings)
    text = str(caught.value)
    assert text.startswith("channel slack: timeoutS 10 is below 25")
    assert "httpConnectTimeoutS + httpReadTimeoutS" in text
    assert "batchSize 10" in text
    # the margin follows the HTTP timeouts and the batch size
    shorter = registry.SLACK.settings.with_overrides({"timeoutS": "10", "visibilityTimeoutS": "60",
        "httpReadTimeoutS": "3", "httpConnectTimeoutS": "1", "batchSize": "4"})  # fmt: skip
    assert registry.SLACK.validate(shorter) == shorter


def test_max_receive_count_is_derived_from_the_age_budget_and_the_wait_floor() -> None:
    slack = registry.SLACK.settings
    # 50 short waits + 7200 s / 10 s + a 60 s claim / 10 s + 10 after the budget
    assert (slack.wait_floor_s, slack.min_receive_count) == (10, 786)
    assert (registry.GITHUB.settings.wait_floor_s, registry.GITHUB.settings.min_receive_count) == (30, 784)
    with pytest.raises(
        InvalidChannelSettings, match=r"maxReceiveCount 15 must be 786\.\.1000: below 786 SQS"
    ):
        registry.SLACK.validate(slack.with_overrides({"maxReceiveCount": "15"}))
    # a longer floor needs fewer receives; a floor too short for the budget cannot fit SQS's ceiling
    assert slack.with_overrides({"minWaitS": "60", "maxReceiveCount": "200"}).min_receive_count == 181
    registry.SLACK.validate(slack.with_overrides({"minWaitS": "60", "maxReceiveCount": "200"}))
    with pytest.raises(InvalidChannelSettings, match="raise minWaitS or lower maxAgeS"):
        registry.SLACK.validate(slack.with_overrides({"minWaitS": "5"}))
    # every age budget SQS allows fits the ceiling with the derived floor
    for hours in (1, 2, 6, 12):
        derived = slack.with_overrides({"maxAgeS": str(hours * 3600)})
        assert derived.min_receive_count <= registry.SQS_MAX_RECEIVE_COUNT


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ledgerRetentionS": "1209600"}, "ledgerRetentionS 1209600 must exceed the queues' retention"),
        ({"hotWindowS": "0"}, "hotWindowS 0 must be 1"),
        ({"outageStaleS": "0"}, "outageStaleS 0 must be 1"),
        ({"httpReadTimeoutS": "0"}, "httpConnectTimeoutS and httpReadTimeoutS must be positive"),
    ],
)
def test_tunable_constants_are_checked_against_each_other(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidChannelSettings, match="channel slack: .*" + message):
        registry.SLACK.validate(registry.SLACK.settings.with_overrides(overrides))
