"""The ops CLI finds an embedded construct's resources: a platform stack that embeds FanoutNotifications
has none of the standalone stack's outputs, so `--stack` recognises the construct's queues by the tags it
puts on them. The template is the construct's own (synthesized in a host stack), its queues created
through CloudFormation in the moto server, the CLI run over HTTP."""

from __future__ import annotations

import json
import os

import pytest

from fanout import registry, resource_tags

pytestmark = pytest.mark.cdk

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # as the Makefile


def _embedded_template(stack_name: str) -> tuple[dict, set[str]]:
    """The host stack's template and the channels the construct deploys (its defaults: a channel with a
    required option, such as email's sender, stays off)."""
    from aws_cdk import App, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk.assertions import Template

    from infra.notifications import FanoutNotifications

    app = App(context={"aws:cdk:disable-asset-staging": True})
    host = Stack(app, stack_name)  # a platform's stack: no FanoutStack, so none of its outputs
    construct = FanoutNotifications(
        host, "Notifications", code=lambda_.Code.from_inline("def handler(e, c): pass")
    )
    template: dict = Template.from_stack(host).to_json()
    return template, set(construct.pipelines)


def test_status_and_peek_find_an_embedded_constructs_queues_by_their_tags(
    aws_client, unique_name, ops_cli, dead_letter
) -> None:
    name = unique_name("platform")
    template, deployed = _embedded_template(name)
    assert {"slack", "github"} <= deployed
    queues = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::SQS::Queue"}
    tagged = {  # the construct's tags, as synthesized (the router's on-failure queue has none)
        (tags[resource_tags.TAG_CHANNEL], tags[resource_tags.TAG_RESOURCE])
        for queue in queues.values()
        if (tags := {t["Key"]: t["Value"] for t in queue["Properties"].get("Tags", [])})
    }
    assert tagged == {(c, r) for c in deployed for r in (resource_tags.QUEUE, resource_tags.DLQ)}
    functions = [v for v in template["Resources"].values() if v["Type"] == "AWS::Lambda::Function"]
    consumers = [
        {t["Key"]: t["Value"] for t in f["Properties"].get("Tags", [])}.get(resource_tags.TAG_RESOURCE)
        for f in functions
    ]
    assert consumers.count(resource_tags.CONSUMER) == len(deployed)
    # Only the queues go to moto: the rest of the platform stack is not what this test is about.
    cfn = aws_client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": queues}))
    assert "Outputs" not in cfn.describe_stacks(StackName=name)["Stacks"][0]
    sqs = aws_client("sqs")
    dlq = sqs.get_queue_url(QueueName=registry.dlq_name(name.lower(), "slack"))["QueueUrl"]
    dead_letter(dlq, task_id="task-embedded")
    cli = ops_cli()

    status = cli("status", "--stack", name, "--json")
    peek = cli("dlq", "peek", "--channel", "slack", "--stack", name, "--json")
    empty = cli("dlq", "peek", "--channel", "github", "--stack", name, "--json")

    assert status.exit_code == 0, status.output
    channels = json.loads(status.stdout)["channels"]
    assert set(channels) == deployed  # not named: the channels the construct deploys
    assert channels["slack"]["dlq_depth"] == 1
    assert peek.exit_code == 0, peek.output
    assert [m["task_id"] for m in json.loads(peek.stdout)] == ["task-embedded"]
    assert (empty.exit_code, json.loads(empty.stdout)) == (0, [])


def test_a_stack_without_fanout_says_so(aws_client, unique_name, ops_cli) -> None:
    name = unique_name("other")
    aws_client("cloudformation").create_stack(
        StackName=name,
        TemplateBody=json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {}}}}),
    )
    result = ops_cli()("status", "--stack", name)
    assert result.exit_code == 1
    assert f"stack '{name}' has neither fanout's outputs nor queues tagged fanout:channel=" in result.stderr
