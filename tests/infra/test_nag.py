"""cdk-nag really checks: a non-compliant resource fails, and the acknowledged findings stay narrow."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match

from fanout import registry
from infra.nag import add_checks
from infra.stack import FanoutStack

from .conftest import DISABLE_ASSET_STAGING, STACK_NAME

pytestmark = pytest.mark.cdk


def nag_rules_failing(stack: Stack) -> set[str]:
    found = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    return {str(m.entry.data).split(":")[0].split("[")[0] for m in found}


def test_an_unencrypted_queue_without_ssl_fails_the_checks(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "NonCompliant")
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.UNENCRYPTED, enforce_ssl=False)
    add_checks(app, verbose=False)
    app.synth()
    assert nag_rules_failing(stack) >= {"AwsSolutions-SQS2", "AwsSolutions-SQS3", "AwsSolutions-SQS4"}


def test_a_new_wildcard_on_the_slack_consumer_is_not_covered_by_its_suppression(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path), context={"fanout:github:enabled": "false", DISABLE_ASSET_STAGING: True})
    stack = FanoutStack(app, STACK_NAME)
    slack = stack.notifications.pipelines[registry.SLACK.name]
    slack.role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::any-bucket/*"])
    )
    add_checks(app, verbose=False)
    app.synth()
    assert nag_rules_failing(stack) == {"AwsSolutions-IAM5"}
