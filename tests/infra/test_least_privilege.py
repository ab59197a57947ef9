"""Least privilege inside the shared tables, and queues sized for their DLQs, on Template.from_stack.

Scoping is derived from the registry: every registry channel (whatever it is called, and however many
there are) is checked, and the keys the runtime really writes are checked against the same patterns."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest

from consumers.runtime.ledger import Ledger
from consumers.runtime.shared_horizons import SharedHorizons
from consumers.runtime.shared_outages import SharedOutages
from fanout import registry

from .conftest import EMAIL_SENDER, NAME_PREFIX, Synthesized, SynthFactory, actions_of
from .test_stack import policy_of

pytestmark = pytest.mark.cdk
CHANNELS = list(registry.CHANNELS.values())


@pytest.fixture(scope="module")
def synthesized(synth: SynthFactory) -> Synthesized:
    return synth({"fanout:email:from": EMAIL_SENDER})  # every registry channel deployed


def table_id(s: Synthesized, key: str) -> str:
    return next(
        k
        for k, v in s.of_type("AWS::DynamoDB::Table").items()
        if [k["AttributeName"] for k in v["Properties"]["KeySchema"]] == [key]
    )


def on_table(policy: list[dict[str, Any]], table: str) -> list[dict[str, Any]]:
    def targets(st: dict[str, Any]) -> list[Any]:
        return st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]

    return [
        st
        for st in policy
        if any(isinstance(r, dict) and r.get("Fn::GetAtt", [""])[0] == table for r in targets(st))
    ]


@pytest.mark.parametrize("spec", CHANNELS, ids=lambda s: s.name)
def test_each_consumer_reaches_only_its_own_channels_ledger_rows(
    synthesized: Synthesized, spec: registry.ChannelSpec
) -> None:
    ledger = on_table(
        policy_of(synthesized, spec.handler), table_id(synthesized, registry.LEDGER_PARTITION_KEY)
    )
    assert ledger, "no ledger grant"
    for statement in ledger:
        assert statement["Condition"] == {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(registry.ledger_key_patterns(spec.name))}
        }
    others = [o for o in CHANNELS if o.name != spec.name]
    for pattern in registry.ledger_key_patterns(spec.name):
        for other in others:
            for key in (f"{other.name}#e1", f"ratelimit#{other.name}#k", f"outage#{other.name}#k"):
                assert not fnmatchcase(key, pattern), (key, pattern)


@pytest.mark.parametrize("spec", CHANNELS, ids=lambda s: s.name)
def test_the_keys_the_runtime_writes_fall_inside_its_channels_patterns(spec: registry.ChannelSpec) -> None:
    patterns = registry.ledger_key_patterns(spec.name)
    keys = [
        Ledger(None, table="t", channel=spec.name, claim_ttl_s=60).key("01JEVENT"),  # type: ignore[arg-type]
        SharedHorizons(None, table="t", channel=spec.name, on_error=print).item_key("slack:T1"),  # type: ignore[arg-type]
        SharedOutages(None, table="t", channel=spec.name, on_error=print).item_key("github:ab"),  # type: ignore[arg-type]
    ]
    for key in keys:
        assert any(fnmatchcase(key, p) for p in patterns), (key, patterns)
    assert {SharedHorizons.PREFIX, SharedOutages.PREFIX} == {f"{k}#" for k in registry.LEDGER_ITEM_KINDS}


@pytest.mark.parametrize("spec", CHANNELS, ids=lambda s: s.name)
def test_each_consumer_updates_only_the_task_attributes_its_channel_writes(
    synthesized: Synthesized, spec: registry.ChannelSpec
) -> None:
    task = on_table(policy_of(synthesized, spec.handler), table_id(synthesized, registry.TASK_TABLE_KEY))
    reads = [st for st in task if actions_of(st) == ["dynamodb:GetItem"]]
    updates = [st for st in task if "dynamodb:UpdateItem" in actions_of(st)]
    assert reads
    if not spec.task_attributes:  # a channel that keeps no bookkeeping on the task may only read it
        assert updates == []
        return
    [update] = updates
    assert actions_of(update) == ["dynamodb:UpdateItem"]
    assert update["Condition"]["ForAllValues:StringEquals"] == {
        "dynamodb:Attributes": sorted({registry.TASK_TABLE_KEY, *spec.task_attributes})
    }
    assert update["Condition"]["StringEqualsIfExists"] == {"dynamodb:ReturnValues": "NONE"}


def test_a_channel_name_that_would_widen_the_patterns_is_refused() -> None:
    from dataclasses import replace

    with pytest.raises(registry.InvalidChannelSettings, match="ledger item kind"):
        replace(registry.SLACK, name="outage").validate()


def test_the_written_task_attributes_are_the_ones_the_registry_names() -> None:
    from consumers.github.tasks import COMMENT_ID
    from consumers.slack.tasks import META

    assert {META} == registry.SLACK.task_attributes
    assert {COMMENT_ID} == registry.GITHUB.task_attributes


def test_every_queue_and_dlq_takes_sqs_largest_message(synthesized: Synthesized) -> None:
    sizes = {
        v["Properties"]["QueueName"]: v["Properties"].get("MaximumMessageSize")
        for v in synthesized.of_type("AWS::SQS::Queue").values()
        if v["Properties"].get("QueueName", "").startswith(NAME_PREFIX)
    }
    for spec in CHANNELS:
        assert sizes[registry.queue_name(NAME_PREFIX, spec.name)] == registry.SQS_MAX_MESSAGE_BYTES
        assert sizes[registry.dlq_name(NAME_PREFIX, spec.name)] == registry.SQS_MAX_MESSAGE_BYTES


def test_every_queue_in_the_stack_sets_its_maximum_message_size(synthesized: Synthesized) -> None:
    """Named or not (the router's on-failure queue has no fixed name): none is left at an implicit size."""
    queues = synthesized.of_type("AWS::SQS::Queue")
    assert len(queues) == 2 * len(CHANNELS) + 1  # channel queues, their DLQs, the router's on-failure queue
    sizes = {k: v["Properties"].get("MaximumMessageSize") for k, v in queues.items()}
    assert sizes == dict.fromkeys(queues, registry.SQS_MAX_MESSAGE_BYTES)
