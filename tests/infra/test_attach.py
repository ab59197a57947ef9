"""Attached to an existing platform: no platform tables created; the router reads the given stream."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Environment

from fanout import registry
from infra import stack

from .conftest import EVENTS_STREAM_ARN, TASK_TABLE_NAME, Synthesized, SynthFactory

pytestmark = pytest.mark.cdk


@pytest.fixture(scope="module")
def attached(synth: SynthFactory) -> Synthesized:
    # A concrete environment here (the standalone module is environment-agnostic): nag's findings then name
    # literal ARNs, and the acknowledged ones must still match.
    return synth(
        {"fanout:eventsStreamArn": EVENTS_STREAM_ARN, "fanout:taskTableName": TASK_TABLE_NAME},
        env=Environment(account="123456789012", region="us-east-1"),
    )


def test_attach_mode_creates_no_platform_table(attached: Synthesized) -> None:
    tables = attached.of_type("AWS::DynamoDB::Table")
    assert [t["Properties"]["KeySchema"][0]["AttributeName"] for t in tables.values()] == [
        registry.LEDGER_PARTITION_KEY
    ]
    assert attached.stack.notifications.tables_created is False


def test_the_router_is_the_only_reader_of_the_given_stream(attached: Synthesized) -> None:
    mappings = [
        m["Properties"]
        for m in attached.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == EVENTS_STREAM_ARN
    ]
    assert len(mappings) == 1
    assert mappings[0]["StartingPosition"] == "LATEST"
    stream_reads = [
        st
        for p in attached.of_type("AWS::IAM::Policy").values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if "dynamodb:GetRecords" in st["Action"]
    ]
    assert [st["Resource"] for st in stream_reads] == [EVENTS_STREAM_ARN]


def test_consumers_are_granted_the_named_task_table(attached: Synthesized) -> None:
    task_grants = [
        json.dumps(st["Resource"])
        for p in attached.of_type("AWS::IAM::Policy").values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if st["Action"]
        == "dynamodb:UpdateItem"  # per channel, scoped to its attributes (test_least_privilege)
    ]
    writers = [name for name in attached.stack.notifications.pipelines if registry.get(name).writes_task]
    assert len(task_grants) == len(writers)  # one per deployed channel that writes to the task
    assert all(f":table/{TASK_TABLE_NAME}" in grant for grant in task_grants)


def test_outputs_name_the_platform_tables(attached: Synthesized) -> None:
    outputs = attached.template.to_json()["Outputs"]
    assert outputs[stack.TASK_TABLE_NAME]["Value"] == TASK_TABLE_NAME
    assert outputs[stack.EVENTS_TABLE_NAME]["Value"] == "PlatformTaskEvents"


def test_cdk_nag_passes_in_attach_mode(attached: Synthesized) -> None:
    assert attached.nag_errors() == []
