"""Synthesize the fanout stack without AWS credentials, into a temporary outdir, with cdk-nag on."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # as the Makefile

from aws_cdk import App, Environment
from aws_cdk.assertions import Annotations, Match, Template

from infra.nag import add_checks
from infra.settings import cdk_json_context
from infra.stack import FanoutStack

STACK_NAME = "FanoutTest"
NAME_PREFIX = "fanout-test"
GITHUB_TOKEN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bgagent/github/default-AbCdEf"
GITHUB_REPO_PATTERN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bgagent/github/repos/*"
EVENTS_STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/PlatformTaskEvents/stream/2026-01-01T00:00:00.000"
)
TASK_TABLE_NAME = "PlatformTasks"
EMAIL_SENDER = "fanout@notify.example.com"
DISABLE_ASSET_STAGING = "aws:cdk:disable-asset-staging"


@dataclass(frozen=True)
class Synthesized:
    stack: FanoutStack
    template: Template
    outdir: Path

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template.to_json()["Resources"]
        return resources

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}

    def nag_errors(self) -> list[str]:
        found = Annotations.from_stack(self.stack).find_error(
            "*", Match.string_like_regexp("AwsSolutions-.*")
        )
        return [f"{m.id}: {str(m.entry.data)[:160]}" for m in found]


SynthFactory = Callable[..., Synthesized]


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SynthFactory:
    """Factory: `synth({"fanout:slack:maxConcurrency": "4"})` synthesizes cdk.json's context plus overrides.

    Environment-agnostic unless `env` is given (as `cdk synth` without credentials resolves only the region).
    The asset is referenced in place unless `stage_assets` (what `cdk synth` does: copy it into the outdir).
    """

    def make(
        context: Mapping[str, Any] | None = None,
        *,
        nag: bool = True,
        env: Environment | None = None,
        stage_assets: bool = False,
    ) -> Synthesized:
        outdir: Path = tmp_path_factory.mktemp("cdk.out")
        base = {**cdk_json_context(), "fanout:namePrefix": NAME_PREFIX}
        if (
            not stage_assets
        ):  # copying the ~50 MB asset into every outdir costs seconds and checks nothing new
            base[DISABLE_ASSET_STAGING] = True
        app = App(outdir=str(outdir), context={**base, **(context or {})})
        stack = FanoutStack(app, STACK_NAME, env=env)
        if nag:
            add_checks(app, verbose=False)
        app.synth()
        return Synthesized(stack=stack, template=Template.from_stack(stack), outdir=outdir)

    return make


def statements(policy_resources: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [s for p in policy_resources.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def actions_of(statement: Mapping[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)
