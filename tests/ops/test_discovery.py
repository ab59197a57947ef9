from __future__ import annotations

import pytest

from fanout import registry
from fanout.ops import discovery
from fanout.ops.errors import OpsError, UsageError

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:stack-slack.fifo"
MINE = "0f8fad5b-d9cb-469f-a165-70867728950e"
OTHER = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def test_a_stack_is_found_by_its_outputs(aws_client, deployed_stack) -> None:
    stack = deployed_stack()

    target = discovery.from_stack(aws_client("cloudformation"), stack.name, ["slack", "github"])

    assert target.deployed
    assert target.name == stack.name
    slack = target.channel("slack")
    # moto's Ref gives the AWS-style URL of the queue, as CloudFormation does
    assert slack.queue_url.endswith("/" + registry.queue_name(stack.name, "slack"))
    assert slack.dlq_url.endswith("/" + registry.dlq_name(stack.name, "slack"))
    assert slack.queue_arn is not None
    assert slack.queue_arn.endswith(registry.queue_name(stack.name, "slack"))
    assert slack.dlq_arn is not None
    assert slack.dlq_arn.endswith(registry.dlq_name(stack.name, "slack"))
    assert slack.consumer_name == f"{stack.name}-slack-consumer"
    assert slack.esm_id == stack.esm_ids["slack"]
    assert target.channel("github").queue_url.endswith("/" + registry.queue_name(stack.name, "github"))


def test_a_missing_stack_is_a_clear_error(aws_client, unique_name) -> None:
    with pytest.raises(OpsError, match=r"stack 'gone-.*' not found"):
        discovery.from_stack(aws_client("cloudformation"), unique_name("gone"), ["slack"])


def test_a_stack_without_the_channel_outputs_is_a_clear_error(aws_client, deployed_stack) -> None:
    stack = deployed_stack(channels=("slack",))
    with pytest.raises(OpsError, match="has no output GithubQueueUrl"):
        discovery.from_stack(aws_client("cloudformation"), stack.name, ["github"])


def test_a_local_run_is_found_by_queue_names(aws_client, local_run) -> None:
    run = local_run()

    target = discovery.from_prefix(aws_client("sqs"), run.prefix, ["github"])

    assert not target.deployed
    github = target.channel("github")
    assert (github.queue_url, github.dlq_url) == (run.queue_urls["github"], run.dlq_urls["github"])
    with_arns = discovery.with_arns(aws_client("sqs"), github)
    assert with_arns.dlq_arn is not None
    assert with_arns.dlq_arn.endswith(registry.dlq_name(run.prefix, "github"))


def test_a_missing_queue_is_a_clear_error(aws_client, unique_name) -> None:
    with pytest.raises(OpsError, match=r"queue nothing-.*-slack.fifo not found"):
        discovery.from_prefix(aws_client("sqs"), unique_name("nothing"), ["slack"])


def test_selector_and_channel_checks() -> None:
    with pytest.raises(UsageError, match="exactly one of --stack"):
        discovery.check_selector(None, None)
    with pytest.raises(UsageError, match="exactly one of --stack"):
        discovery.check_selector("s", "p")
    with pytest.raises(UsageError, match="unknown channel 'teams'; channels: slack, github"):
        discovery.check_channels(["teams"])
    assert discovery.check_channels(None) == list(registry.CHANNELS)


def test_the_event_source_mapping_is_listed_when_the_stack_does_not_name_it(stubs) -> None:
    target = discovery.ChannelTarget(
        channel="slack", queue_url="u", dlq_url="d", queue_arn=QUEUE_ARN, consumer_name="consumer"
    )
    stubs("lambda").add_response(
        "list_event_source_mappings",
        {
            "EventSourceMappings": [
                {"UUID": OTHER, "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:other.fifo"},
                {"UUID": MINE, "EventSourceArn": QUEUE_ARN},
            ]
        },
        {"FunctionName": "consumer"},
    )

    assert (
        discovery.event_source_mapping_id(stubs.clients["lambda"], stubs.clients.get("sqs"), target) == MINE
    )
    stubs.verify()


def test_no_way_to_find_the_mapping_is_a_clear_error(stubs) -> None:
    target = discovery.ChannelTarget(channel="slack", queue_url="u", dlq_url="d", queue_arn=QUEUE_ARN)
    with pytest.raises(OpsError, match="names neither the slack event source mapping nor its consumer"):
        discovery.event_source_mapping_id(stubs.client("lambda"), None, target)


def test_all_channels_means_the_ones_the_stack_deploys(aws_client, deployed_stack) -> None:
    # A channel that needs an option (email: its sender) is off by default: a stack without it must
    # still answer `fanout status` with no --channel, listing what it has.
    stack = deployed_stack(channels=("slack", "github"))
    chosen = discovery.check_channels(None)
    target = discovery.from_stack(aws_client("cloudformation"), stack.name, chosen, skip_absent=True)
    assert list(target.channels) == ["slack", "github"]
    with pytest.raises(OpsError, match="has no output EmailQueueUrl"):
        discovery.from_stack(aws_client("cloudformation"), stack.name, ["email"])


def test_all_channels_of_a_local_run_are_the_queues_it_has(aws_client, unique_name) -> None:
    sqs, prefix = aws_client("sqs"), unique_name("partial")
    for name in (registry.queue_name(prefix, "github"), registry.dlq_name(prefix, "github")):
        sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})
    target = discovery.from_prefix(sqs, prefix, discovery.check_channels(None), skip_absent=True)
    assert list(target.channels) == ["github"]
    with pytest.raises(OpsError, match=r"queue empty-.*-slack.fifo not found"):
        discovery.from_prefix(sqs, unique_name("empty"), discovery.check_channels(None), skip_absent=True)
