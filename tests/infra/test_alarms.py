"""Alarms lead to their runbook: explicit names with the stack's name prefix, descriptions naming the
runbook section and the first command to run, one set per channel of the registry, sections that exist in
docs/operations.md; the dashboard is named with the prefix too."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from fanout import registry
from infra.observability import (
    ALARM_KINDS,
    CHANNEL_METRIC,
    DLQ_NOT_EMPTY,
    DLQ_SEND_FAILED,
    OLDEST_MESSAGE_AGE,
    ROUTER_ITERATOR_AGE,
    ROUTER_ON_FAILURE,
    RUNBOOK,
)

from .conftest import EMAIL_SENDER, NAME_PREFIX, STACK_NAME, Synthesized, SynthFactory

pytestmark = pytest.mark.cdk
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def synthesized(synth: SynthFactory) -> Synthesized:
    return synth({"fanout:email:from": EMAIL_SENDER}, nag=False)  # every registry channel deployed


def _text(value: Any) -> str:
    """A description as CloudFormation will resolve it, with each reference shown as `<ref>`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_text(part) for part in parts)
    return "<ref>"


def _alarms(s: Synthesized) -> dict[str, str]:
    return {
        a["Properties"]["AlarmName"]: _text(a["Properties"]["AlarmDescription"])
        for a in s.of_type("AWS::CloudWatch::Alarm").values()
    }


def test_every_alarm_is_named_with_the_prefix_for_each_channel_of_the_registry(
    synthesized: Synthesized,
) -> None:
    channels = list(synthesized.stack.notifications.pipelines)  # built from the registry's channels
    assert channels
    per_channel = (DLQ_NOT_EMPTY, DLQ_SEND_FAILED, OLDEST_MESSAGE_AGE)
    expected = {kind.name(NAME_PREFIX, c) for c in channels for kind in per_channel}
    expected |= {
        CHANNEL_METRIC.name(NAME_PREFIX, c, metric)
        for c in channels
        for metric in registry.get(c).alarm_metrics
    }
    expected |= {ROUTER_ITERATOR_AGE.name(NAME_PREFIX), ROUTER_ON_FAILURE.name(NAME_PREFIX)}
    assert set(_alarms(synthesized)) == expected
    assert f"{NAME_PREFIX}-slack-dlq-not-empty" in expected  # the name the runbook uses


def test_descriptions_name_the_runbook_section_and_the_first_command(synthesized: Synthesized) -> None:
    alarms = _alarms(synthesized)
    for channel in synthesized.stack.notifications.pipelines:
        dlq = alarms[DLQ_NOT_EMPTY.name(NAME_PREFIX, channel)]
        assert f"Runbook: {RUNBOOK}#alarm-channel-dlq-not-empty (Alarm: channel DLQ not empty)" in dlq
        assert dlq.endswith(f"First: fanout dlq peek --channel {channel} --stack {STACK_NAME}")
        refused = alarms[DLQ_SEND_FAILED.name(NAME_PREFIX, channel)]
        assert f"{RUNBOOK}#alarm-channel-dlq-send-failed" in refused
        assert refused.endswith(
            "First: aws logs tail /aws/lambda/<ref> --since 30m --filter-pattern dlq_send_failed"
        )
        age = alarms[OLDEST_MESSAGE_AGE.name(NAME_PREFIX, channel)]
        assert f"{RUNBOOK}#alarm-channel-oldest-message-age" in age
        assert age.endswith(f"First: fanout status --channel {channel} --stack {STACK_NAME}")
    iterator = alarms[ROUTER_ITERATOR_AGE.name(NAME_PREFIX)]
    assert f"{RUNBOOK}#alarm-router-iterator-age" in iterator
    assert iterator.endswith("First: aws logs tail /aws/lambda/<ref> --since 30m")
    failure = alarms[ROUTER_ON_FAILURE.name(NAME_PREFIX)]
    assert f"{RUNBOOK}#alarm-router-on-failure-queue-not-empty" in failure
    assert "First: aws sqs receive-message --queue-url <ref>" in failure


def test_a_channels_own_metrics_alarm_with_their_runbook(synthesized: Synthesized) -> None:
    alarms = _alarms(synthesized)
    declared = [
        (channel, metric)
        for channel in synthesized.stack.notifications.pipelines
        for metric in registry.get(channel).alarm_metrics
    ]
    for channel, metric in declared:
        description = alarms[CHANNEL_METRIC.name(NAME_PREFIX, channel, metric)]
        assert f"({CHANNEL_METRIC.section})" in description
        assert description.endswith(f"First: fanout status --channel {channel} --stack {STACK_NAME}")


def test_each_runbook_section_exists_with_its_first_command() -> None:
    text = (ROOT / RUNBOOK).read_text()
    sections = {m.group(1): m.start() for m in re.finditer(r"^### (.+)$", text, re.M)}
    firsts = {
        DLQ_NOT_EMPTY: "fanout dlq peek --channel",
        DLQ_SEND_FAILED: "--filter-pattern dlq_send_failed",
        OLDEST_MESSAGE_AGE: "fanout status --channel",
        CHANNEL_METRIC: "fanout status --channel",
        ROUTER_ITERATOR_AGE: "aws logs tail /aws/lambda/",
        ROUTER_ON_FAILURE: "aws sqs receive-message --queue-url",
    }
    for kind in ALARM_KINDS:
        assert kind.section in sections, kind.section
        start = sections[kind.section]
        following = [p for p in sections.values() if p > start]
        body = text[start : min(following, default=len(text))]
        assert firsts[kind] in body, kind.section


def test_the_dashboard_is_named_with_the_prefix(synthesized: Synthesized) -> None:
    [dashboard] = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == NAME_PREFIX
