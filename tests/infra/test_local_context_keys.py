"""The context keys the local runtime uses, as any user may: name prefix (checked), the GitHub token
secret by name, and the operator role holding exactly what the operations CLI needs."""

from __future__ import annotations

from typing import Any

import pytest

from fanout.registry import InvalidChannelSettings
from infra.notifications import (
    OPERATE_DLQ_ACTIONS,
    OPERATE_FUNCTION_ACTIONS,
    OPERATE_MAPPING_ACTIONS,
    OPERATE_METRIC_ACTIONS,
    OPERATE_QUEUE_ACTIONS,
    OPERATE_STACK_ACTIONS,
)
from infra.settings import FanoutProps, cdk_json_context, check_name_prefix

from .conftest import Synthesized, SynthFactory, actions_of, statements

pytestmark = pytest.mark.cdk


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("fanout_local", "letters, digits and hyphens"),
        ("-fanout", "starting with a letter"),
        ("fanout.local", "letters, digits and hyphens"),
        ("f" * 41, "at most 40"),
        ("", "letters, digits and hyphens"),
    ],
)
def test_a_name_prefix_that_would_not_name_every_resource_is_refused(prefix: str, message: str) -> None:
    with pytest.raises(InvalidChannelSettings, match=message):
        check_name_prefix(prefix)


def test_a_valid_prefix_names_every_fixed_name_and_the_props_carry_it() -> None:
    props = FanoutProps.from_context({**cdk_json_context(), "fanout:namePrefix": "fanout-staging2"})
    assert props.name_prefix == "fanout-staging2"
    with pytest.raises(InvalidChannelSettings, match="fanout:namePrefix"):
        FanoutProps.from_context({**cdk_json_context(), "fanout:namePrefix": "bad prefix"})


def test_github_token_secret_by_arn_or_by_name_not_both() -> None:
    with pytest.raises(InvalidChannelSettings, match="not both"):
        FanoutProps.from_context(
            {
                **cdk_json_context(),
                "fanout:githubTokenSecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:x",
                "fanout:githubTokenSecretName": "x",
            }
        )


@pytest.fixture(scope="module")
def local_like(synth: SynthFactory) -> Synthesized:
    return synth(
        {
            "fanout:namePrefix": "stage-two",
            "fanout:githubTokenSecretName": "bgagent/github/default",
            "fanout:operatorRole": "true",
        }
    )


def role_statements(s: Synthesized, role_logical_prefix: str) -> list[dict[str, Any]]:
    roles = [k for k in s.of_type("AWS::IAM::Role") if k.startswith(role_logical_prefix)]
    assert len(roles) == 1
    policies = {
        k: v
        for k, v in s.of_type("AWS::IAM::Policy").items()
        if {"Ref": roles[0]} in v["Properties"]["Roles"]
    }
    return statements(policies)


def test_the_operator_role_holds_exactly_the_operator_actions(local_like: Synthesized) -> None:
    granted = {a for s in role_statements(local_like, "OperatorRole") for a in actions_of(s)}
    expected = {
        *OPERATE_QUEUE_ACTIONS,
        *OPERATE_DLQ_ACTIONS,
        *OPERATE_MAPPING_ACTIONS,
        *OPERATE_STACK_ACTIONS,
        *OPERATE_FUNCTION_ACTIONS,
        *OPERATE_METRIC_ACTIONS,
    }
    assert granted == expected
    for statement in role_statements(local_like, "OperatorRole"):
        if statement["Resource"] == "*":
            assert actions_of(statement) == list(OPERATE_METRIC_ACTIONS)  # the one unscopable action
    outputs = local_like.template.to_json()["Outputs"]
    assert "OperatorRoleArn" in outputs
    assert local_like.nag_errors() == []


def test_the_github_consumer_reads_the_named_secret_with_its_suffix(local_like: Synthesized) -> None:
    text = str(
        [
            s
            for s in role_statements(local_like, "FanoutGithubChannelConsumerRole")
            if "secretsmanager" in str(s)
        ]
    )
    assert "secret:bgagent/github/default-??????" in text


def test_queues_are_named_by_the_prefix(local_like: Synthesized) -> None:
    names = {q["Properties"].get("QueueName") for q in local_like.of_type("AWS::SQS::Queue").values()}
    assert {"stage-two-slack.fifo", "stage-two-slack-dlq.fifo", "stage-two-github.fifo"} <= names
