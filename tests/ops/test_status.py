from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fanout.ops import discovery
from fanout.ops.clients import AwsSession
from fanout.ops.status import collect_status

NOW = datetime.now(UTC)


def _mapping(uuid: str, state: str = "Enabled") -> dict:
    return {"UUID": uuid, "State": state, "BatchSize": 10, "ScalingConfig": {"MaximumConcurrency": 5}}


def _queue_message(sqs, url: str, task: str, n: int) -> None:
    sqs.send_message(
        QueueUrl=url, MessageBody="{}", MessageGroupId=task, MessageDeduplicationId=f"{task}-{n}"
    )


def test_local_run_counts_and_a_sampled_age(moto_endpoint, aws_client, local_run, dead_letter) -> None:
    sqs, run = aws_client("sqs"), local_run()
    for n, task in enumerate(("t1", "t2", "t3")):
        _queue_message(sqs, run.queue_urls["slack"], task, n)
    sqs.receive_message(QueueUrl=run.queue_urls["slack"], MaxNumberOfMessages=1, VisibilityTimeout=60)
    for task in ("t1", "t2"):
        dead_letter(run.dlq_urls["slack"], task_id=task)
    session = AwsSession(endpoint_url=moto_endpoint)
    target = discovery.from_prefix(session.sqs, run.prefix, ["slack", "github"])

    slack, github = collect_status(session, target, now=datetime.now(UTC) + timedelta(minutes=5), sample=True)

    assert (slack.queue_depth, slack.in_flight, slack.dlq_depth) == (2, 1, 2)
    assert slack.age_source == "sample"
    assert slack.oldest_age_s is not None
    assert 299 <= slack.oldest_age_s <= 330
    assert slack.event_source is None
    row = slack.as_json()
    assert row["event_source_state"] is None
    assert row["batch_size"] is None
    assert row["max_concurrency"] is None
    assert (github.queue_depth, github.dlq_depth, github.oldest_age_s, github.age_source) == (
        0,
        0,
        0.0,
        "empty",
    )
    assert (
        sqs.get_queue_attributes(  # the sample gave its messages back
            QueueUrl=run.queue_urls["slack"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "2"
    )


def test_without_a_sample_the_age_is_unknown_and_the_queue_untouched(
    moto_endpoint, aws_client, local_run
) -> None:
    sqs, run = aws_client("sqs"), local_run()
    _queue_message(sqs, run.queue_urls["github"], "t1", 1)
    session = AwsSession(endpoint_url=moto_endpoint)
    target = discovery.from_prefix(session.sqs, run.prefix, ["github"])

    (github,) = collect_status(session, target, now=NOW)

    assert (github.queue_depth, github.oldest_age_s, github.age_source) == (1, None, None)
    (message,) = sqs.receive_message(QueueUrl=run.queue_urls["github"], AttributeNames=["All"])["Messages"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"  # status never received it


def test_deployed_stack_shows_cloudwatch_age_and_the_event_source(
    moto_endpoint, aws_client, deployed_stack, stubs
) -> None:
    stack = deployed_stack()
    sqs = aws_client("sqs")
    _queue_message(sqs, stack.queue_urls["slack"], "t1", 1)
    stubs("cloudwatch").add_response(
        "get_metric_statistics",
        {
            "Datapoints": [
                {"Timestamp": NOW - timedelta(minutes=2), "Maximum": 30.0},
                {"Timestamp": NOW - timedelta(minutes=1), "Maximum": 95.0},
            ]
        },
    )
    stubs("lambda").add_response(
        "get_event_source_mapping",
        _mapping(stack.esm_ids["slack"], "Disabled"),
        {"UUID": stack.esm_ids["slack"]},
    )
    session = AwsSession(endpoint_url=moto_endpoint, clients=stubs.clients)
    target = discovery.from_stack(session.cloudformation, stack.name, ["slack"])

    (slack,) = collect_status(session, target, now=NOW)

    assert (slack.queue_depth, slack.oldest_age_s, slack.age_source) == (1, 95.0, "cloudwatch")
    assert slack.event_source is not None
    assert (slack.event_source.state, slack.event_source.batch_size, slack.event_source.max_concurrency) == (
        "Disabled",
        10,
        5,
    )
    stubs.verify()


def test_deployed_stack_without_metrics_falls_back_to_a_sample(
    moto_endpoint, aws_client, deployed_stack, stubs
) -> None:
    stack = deployed_stack(channels=("github",))
    _queue_message(aws_client("sqs"), stack.queue_urls["github"], "t1", 1)
    stubs("cloudwatch").add_client_error("get_metric_statistics", "AccessDenied", "no metrics for you")
    stubs("lambda").add_client_error("get_event_source_mapping", "ResourceNotFoundException", "gone")
    session = AwsSession(endpoint_url=moto_endpoint, clients=stubs.clients)
    target = discovery.from_stack(session.cloudformation, stack.name, ["github"])

    (github,) = collect_status(session, target, now=NOW + timedelta(seconds=30), sample=True)

    assert github.age_source == "sample"
    assert github.oldest_age_s is not None
    assert github.event_source is not None
    assert github.event_source.state == "missing"
    stubs.verify()


def test_an_unreadable_event_source_is_a_note_not_the_end_of_the_status(
    moto_endpoint, aws_client, deployed_stack, stubs
) -> None:
    stack = deployed_stack()
    _queue_message(aws_client("sqs"), stack.queue_urls["slack"], "t1", 1)
    stubs("cloudwatch").add_response("get_metric_statistics", {"Datapoints": []})
    stubs("lambda").add_client_error(
        "get_event_source_mapping", service_error_code="AccessDeniedException", http_status_code=403
    )
    session = AwsSession(endpoint_url=moto_endpoint, clients=stubs.clients)
    target = discovery.from_stack(session.cloudformation, stack.name, ["slack"])

    (slack,) = collect_status(session, target, now=NOW)

    assert slack.queue_depth == 1
    assert slack.event_source is None
    assert slack.note == "event source not readable: GetEventSourceMapping: AccessDeniedException"
