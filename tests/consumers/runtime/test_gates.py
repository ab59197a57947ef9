"""The subscription gate shared by every channel: overrides first, then renderability."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from consumers.runtime.gates import subscription_gate
from consumers.runtime.outcomes import Skipped
from fanout import registry
from tests.consumers.runtime.conftest import make_event


@pytest.fixture
def gate() -> Any:
    stream = io.StringIO()
    # A fresh service per test: the first Logger of a service owns its handler and stream.
    logger = Logger(service=f"gates-test-{uuid.uuid4().hex[:8]}", stream=stream)

    def run(
        task: dict[str, Any], event_type: str, renderable: frozenset[str] | None = None
    ) -> Skipped | None:
        spec = registry.SLACK
        return subscription_gate(
            make_event(event_type=event_type),
            task,
            channel=spec,
            renderable=spec.renderable if renderable is None else renderable,
            logger=logger,
        )

    run.log_lines = lambda: [json.loads(line) for line in stream.getvalue().splitlines()]  # type: ignore[attr-defined]
    return run


def test_a_default_subscription_passes(gate: Any) -> None:
    assert gate({}, "task_created") is None


def test_a_disabled_channel_is_skipped_with_its_reason(gate: Any) -> None:
    outcome = gate({"notifications": {"slack": {"enabled": False}}}, "task_created")
    assert isinstance(outcome, Skipped)
    assert outcome.reason not in ("not_subscribed", "not_renderable")


def test_an_event_left_out_of_the_override_is_not_subscribed(gate: Any) -> None:
    outcome = gate({"notifications": {"slack": {"events": ["task_completed"]}}}, "task_created")
    assert outcome == Skipped("not_subscribed")


def test_a_subscribed_event_the_channel_cannot_render_is_skipped(gate: Any) -> None:
    assert gate({}, "task_created", renderable=frozenset({"task_completed"})) == Skipped("not_renderable")


def test_a_suspicious_override_is_logged_with_the_event_and_falls_back(gate: Any) -> None:
    assert gate({"notifications": "everything"}, "task_created") is None
    (line,) = [line for line in gate.log_lines() if line.get("event") == "fanout.slack.override_warning"]
    assert line["event_type"] == "task_created"
    assert "not a map" in line["warning"]
