#!/usr/bin/env python3
"""The CDK app: `npx aws-cdk@2 synth` / `deploy`. Standalone by default; `-c fanout:eventsStreamArn=...
-c fanout:taskTableName=...` attaches to an existing platform. Tuning lives in cdk.json's context."""

from __future__ import annotations

import os
import sys

from aws_cdk import App, Environment

from fanout.registry import InvalidChannelSettings
from infra.nag import add_checks
from infra.settings import CTX_NAME_PREFIX, cdk_json_context, check_name_prefix
from infra.stack import FanoutStack

STACK_NAME = "Fanout"


def main() -> None:
    # Without the CDK CLI (python app.py), cdk.json's context still applies; the CLI's context wins.
    app = App(context=cdk_json_context())
    prefix = app.node.try_get_context(CTX_NAME_PREFIX)
    if prefix is not None:  # checked before it names the stack too, so the message is ours, not jsii's
        check_name_prefix(str(prefix))
    FanoutStack(
        app,
        app.node.try_get_context("fanout:stackName") or STACK_NAME,
        env=Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
        ),
        description="fanout: task events -> per-channel FIFO queues -> Slack and GitHub consumers",
    )
    add_checks(app)
    app.synth()


if __name__ == "__main__":
    try:
        main()
    except InvalidChannelSettings as exc:  # a tuning mistake: say what to fix, not a traceback
        sys.exit(f"fanout: cannot synthesize: {exc}")
