from __future__ import annotations

import threading
import time

from fanout.local.emulator.sqs import ChannelPoller, QueueSource


def make_queue(aws_client, unique_name, *, visibility: int = 30) -> tuple[str, str]:
    sqs = aws_client("sqs")
    url = sqs.create_queue(
        QueueName=f"{unique_name('q')}.fifo",
        Attributes={"FifoQueue": "true", "VisibilityTimeout": str(visibility)},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def send(aws_client, url: str, body: str, group: str) -> None:
    aws_client("sqs").send_message(
        QueueUrl=url,
        MessageBody=body,
        MessageGroupId=group,
        MessageDeduplicationId=body,
        MessageAttributes={"reason": {"DataType": "String", "StringValue": "why"}},
    )


def counts(aws_client, url: str) -> tuple[int, int]:
    attributes = aws_client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def source(url: str, arn: str, batch_size: int = 10) -> QueueSource:
    return QueueSource("slack", url, arn, batch_size=batch_size, timeout_s=30, function_name="fl-slack")


def test_partial_batch_response_deletes_successes_and_leaves_failures_in_flight(aws_client, unique_name):
    url, arn = make_queue(aws_client, unique_name)
    for n in range(3):
        send(aws_client, url, f"m{n}", group=f"g{n}")
    seen: list[dict] = []

    def handler(event, context):
        seen.extend(event["Records"])
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "m1"]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    poller = ChannelPoller(source(url, arn), [handler], [aws_client("sqs")])
    messages = aws_client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    failed = poller.invoke(handler, aws_client("sqs"), messages)

    assert len(failed) == 1
    assert counts(aws_client, url) == (0, 1)
    assert poller.stats.deleted == 2
    assert poller.stats.failures == 1
    record = seen[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["attributes"]["MessageGroupId"] == "g0"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp", "MessageDeduplicationId"} <= set(
        record["attributes"]
    )
    assert record["messageAttributes"]["reason"] == {
        "stringValue": "why",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["receiptHandle"]
    assert record["md5OfBody"]


def test_unknown_item_identifier_fails_the_whole_batch(aws_client, unique_name):
    url, arn = make_queue(aws_client, unique_name)
    send(aws_client, url, "a", "g1")
    send(aws_client, url, "b", "g2")

    def handler(event, context):
        return {"batchItemFailures": [{"itemIdentifier": "not-a-message"}]}

    poller = ChannelPoller(source(url, arn), [handler], [aws_client("sqs")])
    messages = aws_client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
    )["Messages"]
    assert len(poller.invoke(handler, aws_client("sqs"), messages)) == 2
    assert counts(aws_client, url) == (0, 2)


def test_workers_respect_batch_size_and_maximum_concurrency(aws_client, unique_name):
    url, arn = make_queue(aws_client, unique_name)
    for n in range(12):
        send(aws_client, url, f"m{n}", group=f"g{n}")
    sizes: list[int] = []
    lock = threading.Lock()

    def handler(event, context):
        with lock:
            sizes.append(len(event["Records"]))
        time.sleep(0.2)
        return {"batchItemFailures": []}

    poller = ChannelPoller(
        source(url, arn, batch_size=3), [handler, handler], [aws_client("sqs"), aws_client("sqs")]
    )
    stop = threading.Event()
    poller.start(stop)
    deadline = time.monotonic() + 20
    while poller.stats.deleted < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    poller.join()

    assert poller.stats.deleted == 12
    assert max(sizes) <= 3
    assert poller.stats.max_in_flight == 2


def test_without_partial_batch_responses_a_returned_failure_list_is_ignored_as_lambda_does(
    aws_client, unique_name
):
    url, arn = make_queue(aws_client, unique_name)
    for n in range(2):
        send(aws_client, url, f"m{n}", group=f"g{n}")

    def handler(event, context):
        return {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}

    plain = QueueSource(
        "slack", url, arn, batch_size=10, timeout_s=30, function_name="fl-slack", report_item_failures=False
    )
    poller = ChannelPoller(plain, [handler], [aws_client("sqs")])
    messages = aws_client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
    )["Messages"]

    assert poller.invoke(handler, aws_client("sqs"), messages) == set()
    assert counts(aws_client, url) == (0, 0)  # the whole batch counted as a success and was deleted


def test_a_paused_mapping_receives_nothing_until_resumed(aws_client, unique_name):
    url, arn = make_queue(aws_client, unique_name)
    send(aws_client, url, "m0", group="g0")
    seen: list[str] = []

    def handler(event, context):
        seen.extend(r["body"] for r in event["Records"])
        return {"batchItemFailures": []}

    poller = ChannelPoller(source(url, arn), [handler], [aws_client("sqs")])
    poller.paused = True
    stop = threading.Event()
    poller.start(stop)
    try:
        time.sleep(1.0)
        assert seen == []
        assert counts(aws_client, url) == (1, 0)  # waiting in the queue, not even received
        poller.paused = False
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen == ["m0"]
    finally:
        stop.set()
        poller.join()
