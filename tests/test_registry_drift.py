"""The registry and the consumers must agree: a channel never subscribes to a type it cannot render.

The earlier design subscribed Slack to types its dispatcher silently dropped and reported them as
dispatched; this test is what stops that drift. Convention: `consumers.<channel>.render.RENDERERS`.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping

import pytest

from fanout import registry


def renderers_of(spec: registry.ChannelSpec) -> Mapping[str, object]:
    module = importlib.import_module(f"consumers.{spec.name}.render")
    renderers: Mapping[str, object] = module.RENDERERS
    return renderers


def drift(spec: registry.ChannelSpec, renderers: Mapping[str, object]) -> list[str]:
    problems = [
        f"default {t} is not in renderable" for t in sorted(spec.default_subscriptions - spec.renderable)
    ]
    problems += [f"{t} has no renderer" for t in sorted(spec.renderable - renderers.keys())]
    return problems


@pytest.mark.parametrize("spec", list(registry.CHANNELS.values()), ids=lambda s: s.name)
def test_every_subscribed_and_renderable_type_has_a_renderer(spec: registry.ChannelSpec) -> None:
    assert drift(spec, renderers_of(spec)) == []


def test_drift_is_caught() -> None:
    drifted = dataclasses.replace(
        registry.SLACK,
        renderable=registry.SLACK.renderable | {"pr_created"},
        default_subscriptions=registry.SLACK.default_subscriptions | {"pr_created", "approval_requested"},
    )
    assert drift(drifted, renderers_of(registry.SLACK)) == [
        "default approval_requested is not in renderable",
        "pr_created has no renderer",
    ]
