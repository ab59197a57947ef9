from __future__ import annotations

import pytest

from fanout import registry
from fanout.overrides import resolve

SLACK = registry.SLACK
GITHUB = registry.GITHUB


def test_absent_overrides_give_the_defaults() -> None:
    assert resolve(None, SLACK).events == SLACK.default_subscriptions
    assert resolve({}, SLACK).events == SLACK.default_subscriptions
    assert resolve({"github": {"enabled": False}}, SLACK).events == SLACK.default_subscriptions


def test_enabled_false_mutes() -> None:
    sub = resolve({"slack": {"enabled": False}}, SLACK)
    assert sub.muted_reason == "channel_muted"
    assert not sub.wants("task_completed")


def test_default_expands_and_extra_entries_add() -> None:
    sub = resolve({"github": {"events": ["default", "task_timed_out"]}}, GITHUB)
    assert sub.events == GITHUB.default_subscriptions


def test_list_without_default_replaces() -> None:
    sub = resolve({"slack": {"events": ["task_completed", "task_failed"]}}, SLACK)
    assert sub.events == {"task_completed", "task_failed"}
    assert not sub.wants("task_created")
    assert sub.warning is None


def test_empty_list_mutes_with_a_warning() -> None:
    sub = resolve({"slack": {"events": []}}, SLACK)
    assert sub.muted_reason == "channel_muted"
    assert sub.warning is not None
    assert "empty" in sub.warning


def test_unrenderable_entries_are_dropped_with_a_warning() -> None:
    sub = resolve({"slack": {"events": ["default", "pr_created"]}}, SLACK)
    assert "pr_created" not in sub.events
    assert sub.events == SLACK.default_subscriptions
    assert sub.warning is not None
    assert "pr_created" in sub.warning


@pytest.mark.parametrize(
    "notifications",
    ["yes", {"slack": "off"}, {"slack": {"events": "task_failed"}}, {"slack": {"events": [1, 2]}}],
)
def test_unreadable_overrides_fall_back_to_defaults_with_a_warning(notifications) -> None:
    sub = resolve(notifications, SLACK)
    assert sub.events == SLACK.default_subscriptions
    assert sub.muted_reason is None
    assert sub.warning
