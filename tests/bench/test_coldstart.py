"""bench/coldstart.py and bench/router_window.py: what is measured, and how a verdict is reached."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bench import coldstart
from bench.router_window import MAX_BATCH, invocations
from fanout import registry


def test_every_registered_channel_is_measured_with_the_router(monkeypatch: pytest.MonkeyPatch) -> None:
    email = replace(registry.SLACK, name="email", handler="consumers.email.handler.handler")
    monkeypatch.setattr(registry, "CHANNELS", {**registry.CHANNELS, "email": email})
    subjects = {s.name: s.target for s in coldstart.subjects()}
    assert subjects == {
        "router": coldstart.ROUTER,
        **{name: spec.handler for name, spec in registry.CHANNELS.items()},
    }
    assert subjects["email"] == "consumers.email.handler.handler"


def test_each_handler_gets_its_deployed_environment_and_the_local_endpoint() -> None:
    envs = coldstart.lambda_environment("http://127.0.0.1:9")
    for name in registry.CHANNELS:
        assert envs[name]["FANOUT_CHANNEL"] == name
        assert envs[name]["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
    assert all(key.endswith("_QUEUE_URL") for key in envs[""] if key.startswith("FANOUT_"))


def test_a_channel_with_a_required_option_gets_a_value_for_it() -> None:
    """A consumer refuses to start without its required options (email's sender): the benchmark gives
    each one, so the handler is measured instead of failing in the asset."""
    required = {
        name: spec.required_options for name, spec in registry.CHANNELS.items() if spec.required_options
    }
    assert required  # email has one: the test covers a real channel
    envs = coldstart.lambda_environment("http://127.0.0.1:9")
    for name, options in required.items():
        for option in options:
            assert envs[name][option.env]


def test_the_first_invocation_events_are_what_each_handler_reads() -> None:
    router = json.loads(coldstart.first_event(coldstart.subjects()[0]))
    assert router["Records"][0]["dynamodb"]["NewImage"]["event_type"] == {"S": "task_created"}
    consumer = json.loads(coldstart.first_event(coldstart.subjects()[1]))
    assert consumer["Records"][0]["attributes"]["MessageGroupId"] == "task-coldstart"
    assert coldstart.first_event(coldstart.Subject("ref", "", ("sqs",))).endswith("reference.fifo")


def test_the_verdict_is_the_ratio_of_the_cpu_medians() -> None:
    def figures(name: str, cpu: list[float], wall: list[float]) -> coldstart.Figures:
        f = coldstart.Figures(name)
        for c, w in zip(cpu, wall, strict=True):
            f.add((w / 1000, 2 * w / 1000, c / 1000, 2 * c / 1000, 400))
        return f

    reference = figures(coldstart.REFERENCE, [100, 110, 200], [300, 310, 900])
    table = {coldstart.REFERENCE: reference}
    for subject in coldstart.subjects():
        cpu = [118, 121, 130] if subject.name == "router" else [125, 130, 131]
        table[subject.name] = figures(subject.name, cpu, [300, 300, 300])
        table[coldstart.reference_name(subject.clients)] = reference
    rows = {r["handler"]: r for r in coldstart.rows(table)}
    assert rows["router"]["import_ratio"] == 1.1  # 121 / 110: medians, so the 200 ms outlier is ignored
    assert rows["router"]["verdict"] == "PASS"
    assert rows["slack"]["import_ratio"] == 1.18
    assert rows["github"]["verdict"] == "PASS"
    assert rows["router"]["import_wall_ratio"] == 0.97


def test_without_a_window_the_poller_batches_what_arrived_within_a_quarter_second() -> None:
    assert invocations([0.1, 0.2, 0.3, 1.0], 0) == [(0.25, [0, 1]), (0.5, [2]), (1.25, [3])]


def test_a_window_gathers_from_the_first_record_until_it_ends_or_the_batch_is_full() -> None:
    assert invocations([0.0, 0.5, 0.9, 1.5], 1) == [(1.0, [0, 1, 2]), (2.5, [3])]
    burst = [0.001 * i for i in range(MAX_BATCH + 1)]
    groups = invocations(burst, 5)
    assert [len(batch) for _, batch in groups] == [MAX_BATCH, 1]
    assert groups[0][0] == burst[MAX_BATCH - 1]  # a full batch goes at once
