from __future__ import annotations

import json
from typing import Any

import pytest

from consumers.runtime.outcomes import UNKNOWN_PREFIX
from consumers.runtime.stats import DeliveryStats
from consumers.runtime.telemetry import DEFAULT_NAMESPACE, Telemetry, latency_ms

from .conftest import CHANNEL, make_event


def test_each_outcome_logs_its_stable_key_with_the_event_fields(log_lines: Any) -> None:
    telemetry = Telemetry(CHANNEL, DeliveryStats())
    event = make_event(event_type="task_failed")

    telemetry.retry(event, "http_429", 30, attempts=2, limited=True)
    telemetry.rate_limited(event, "slack:T1", 12)

    retry, limited = log_lines()[-2:]
    assert retry["event"] == f"fanout.{CHANNEL}.retry"
    assert (retry["task_id"], retry["event_id"], retry["event_type"]) == (
        event.task_id,
        event.event_id,
        "task_failed",
    )
    assert (retry["reason"], retry["delay_s"], retry["attempts"]) == ("http_429", 30, 2)
    assert limited["event"] == f"fanout.{CHANNEL}.rate_limited"
    assert limited["delay_s"] == 12
    assert telemetry.stats.retries == 1
    assert telemetry.stats.rate_limited == 1


def test_metrics_are_emf_with_the_channel_dimension(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    telemetry = Telemetry(CHANNEL, DeliveryStats())
    event = make_event()

    telemetry.delivered(event, now=2_000_000_000.0)
    telemetry.skipped(event, "muted")
    telemetry.flush()
    telemetry.flush()  # nothing new: no second line, no warning

    (line,) = [json.loads(raw) for raw in capsys.readouterr().out.splitlines() if '"_aws"' in raw]
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == DEFAULT_NAMESPACE
    assert ["channel"] in directive["Dimensions"]
    assert line["channel"] == CHANNEL
    assert line["Delivered"] == [1.0]
    assert line["Skipped"] == [1.0]
    assert len(line["DeliveryLatency"]) == 1
    assert line["DeliveryLatency"][0] > 0


def test_metrics_stay_quiet_when_disabled(capsys: pytest.CaptureFixture[str]) -> None:
    telemetry = Telemetry(CHANNEL, DeliveryStats())
    telemetry.terminal(make_event(), "terminal:x")
    telemetry.flush()

    assert '"_aws"' not in capsys.readouterr().out


def test_latency_needs_a_zoned_timestamp() -> None:
    event = make_event()
    assert latency_ms(event, now=event_time(event) + 1.5) == pytest.approx(1500.0)
    naive = make_event()
    object.__setattr__(naive, "timestamp", "2026-11-26T10:00:00")
    assert latency_ms(naive, now=2e9) is None
    object.__setattr__(naive, "timestamp", "yesterday")
    assert latency_ms(naive, now=2e9) is None


def event_time(event: Any) -> float:
    from datetime import datetime

    return datetime.fromisoformat(event.timestamp).timestamp()


def test_an_answer_the_channel_does_not_know_is_counted_apart(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    telemetry = Telemetry(CHANNEL, DeliveryStats())
    telemetry.retry(make_event(), f"{UNKNOWN_PREFIX}brand_new_code", 4, attempts=1, limited=False)
    telemetry.retry(make_event(), "http_503", 4, attempts=1, limited=False)
    telemetry.flush()

    (line,) = [json.loads(raw) for raw in capsys.readouterr().out.splitlines() if '"_aws"' in raw]
    assert line["Retried"] == [1.0, 1.0]
    assert line["UnknownError"] == [1.0]
