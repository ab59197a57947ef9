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
    assert [c.name for c in registry.channels_for("task_failed")] == ["slack", "github"]
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
