"""What a channel needs beyond its pipeline comes from its registry entry's `infra_hook`: the shared
constructs never ask which channel they wire (a new channel is one registry entry plus its packages)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Annotations, Match, Template

from fanout import registry
from infra.github import NO_SECRET_WARNING
from infra.stack import FanoutStack

from .conftest import DISABLE_ASSET_STAGING, STACK_NAME

pytestmark = pytest.mark.cdk

INFRA = Path(__file__).resolve().parents[2] / "infra"
CHANNEL_MODULES = {f"{name}.py" for name in registry.CHANNELS}  # each channel's own hook module
SPEC_NAMES = {"SLACK", "GITHUB", "EMAIL"}


def test_every_channel_that_reads_or_grants_more_than_its_pipeline_has_a_hook_module() -> None:
    for spec in registry.CHANNELS.values():
        assert spec.infra_hook is not None
        module = spec.infra_hook.rsplit(".", 1)[0]
        assert module == f"infra.{spec.name}"


@pytest.mark.parametrize("path", sorted(p.name for p in INFRA.glob("*.py") if p.name not in CHANNEL_MODULES))
def test_shared_infra_never_names_a_channel(path: str) -> None:
    tree = ast.parse((INFRA / path).read_text())
    named = [
        f"line {node.lineno}: registry.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in SPEC_NAMES
    ]
    literals = [
        f"line {side.lineno}: {side.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        for side in (node.left, *node.comparators)
        if isinstance(side, ast.Constant) and side.value in registry.CHANNELS
    ]
    assert named + literals == []


def test_github_without_any_token_secret_warns_and_grants_no_secret(tmp_path: Path) -> None:
    app = App(
        outdir=str(tmp_path),
        context={
            "fanout:githubTokenSecretName": "",
            "fanout:githubTokenSecretArn": "",
            DISABLE_ASSET_STAGING: True,
        },
    )
    stack = FanoutStack(app, STACK_NAME)
    github = stack.notifications.pipelines[registry.GITHUB.name]
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp(".*may read no token.*")
    )
    assert [str(w.entry.data) for w in warnings] == [f"{NO_SECRET_WARNING} [ack: fanout:githubTokenSecret]"]
    template = Template.from_stack(stack)
    role_id = stack.get_logical_id(github.role.node.default_child)  # type: ignore[arg-type]
    policies = template.find_resources("AWS::IAM::Policy")
    actions = [
        action
        for policy in policies.values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    ]
    assert actions
    assert "secretsmanager:GetSecretValue" not in actions
    env = template.find_resources("AWS::Lambda::Function")
    github_env = [
        f["Properties"]["Environment"]["Variables"]
        for f in env.values()
        if f["Properties"]["Environment"]["Variables"].get("FANOUT_CHANNEL") == registry.GITHUB.name
    ]
    assert len(github_env) == 1
    assert "FANOUT_GITHUB_TOKEN_SECRET" not in github_env[0]
