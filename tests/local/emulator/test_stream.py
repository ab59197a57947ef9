from __future__ import annotations

import json
import time

from fanout.dynamo import to_item
from fanout.local.emulator.stream import StreamPoller


def make_events_table(aws_client, unique_name) -> tuple[str, str]:
    ddb = aws_client("dynamodb")
    name = unique_name("events")
    table = ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "task_id", "KeyType": "HASH"},
            {"AttributeName": "event_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "task_id", "AttributeType": "S"},
            {"AttributeName": "event_id", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]
    return name, table["LatestStreamArn"]


class Router:
    """Records every batch; fails the record with `fail_event` the first `fail_times` times it sees it."""

    def __init__(self, fail_event: str | None = None, fail_times: int = 1) -> None:
        self.batches: list[list[str]] = []
        self.shapes: list[dict] = []
        self._fail_event = fail_event
        self._fail_left = fail_times

    def __call__(self, event, context):
        records = event["Records"]
        self.batches.append([r["dynamodb"]["NewImage"]["event_id"]["S"] for r in records])
        self.shapes.extend(records)
        assert context.get_remaining_time_in_millis() > 0
        for record in records:
            if record["dynamodb"]["NewImage"]["event_id"]["S"] == self._fail_event and self._fail_left:
                self._fail_left -= 1
                return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
        return {"batchItemFailures": []}


def write(aws_client, table: str, *event_ids: str) -> None:
    for event_id in event_ids:
        aws_client("dynamodb").put_item(TableName=table, Item=to_item({"task_id": "t", "event_id": event_id}))


def drain(poller: StreamPoller) -> None:
    since = time.time()
    while not poller.caught_up_since(since):
        poller.poll_once()


def test_replays_from_the_failed_record_only(aws_client, unique_name):
    table, arn = make_events_table(aws_client, unique_name)
    router = Router(fail_event="e2")
    poller = StreamPoller(aws_client("dynamodbstreams"), arn, router)
    poller.prime()
    write(aws_client, table, "e1", "e2", "e3")

    drain(poller)

    assert router.batches == [["e1", "e2", "e3"], ["e2", "e3"]]
    assert poller.stats.replays == 1
    assert poller.stats.records == 3


def test_records_before_priming_are_not_replayed_and_records_are_lambda_shaped(aws_client, unique_name):
    table, arn = make_events_table(aws_client, unique_name)
    write(aws_client, table, "old")
    router = Router()
    poller = StreamPoller(aws_client("dynamodbstreams"), arn, router)
    poller.prime()
    write(aws_client, table, "new")

    drain(poller)

    assert router.batches == [["new"]]
    [record] = router.shapes
    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == arn
    assert record["dynamodb"]["Keys"] == {"task_id": {"S": "t"}, "event_id": {"S": "new"}}
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert record["dynamodb"]["SequenceNumber"]


def test_a_raising_router_retries_the_whole_batch(aws_client, unique_name):
    table, arn = make_events_table(aws_client, unique_name)
    calls: list[int] = []

    def router(event, context):
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("boom")
        return {"batchItemFailures": []}

    poller = StreamPoller(aws_client("dynamodbstreams"), arn, router)
    poller.prime()
    write(aws_client, table, "e1", "e2")
    drain(poller)

    assert calls == [2, 2]
    assert "boom" in poller.stats.errors[0]


def test_a_batch_that_exhausts_its_retries_goes_to_the_on_failure_queue_in_lambdas_shape(
    aws_client, unique_name
):
    from fanout.local.deployed import DeployedMapping
    from fanout.local.emulator.stream import OnFailure

    table, arn = make_events_table(aws_client, unique_name)
    sqs = aws_client("sqs")
    queue = sqs.create_queue(QueueName=unique_name("on-failure"))["QueueUrl"]
    mapping = DeployedMapping.from_api(
        {"UUID": "u", "BatchSize": 100, "MaximumRetryAttempts": 1, "BisectBatchOnFunctionError": False}
    )
    router = Router(fail_event="e2", fail_times=100)  # e2 never succeeds
    poller = StreamPoller(
        aws_client("dynamodbstreams"),
        arn,
        router,
        mapping=mapping,
        on_failure=OnFailure(sqs=sqs, queue_url=queue, function_arn="arn:aws:lambda:us-east-1:1:function:r"),
    )
    poller.prime()
    write(aws_client, table, "e1", "e2", "e3")
    drain(poller)

    # first try, then the one retry the mapping allows, then given up: e2 and what followed it
    assert router.batches == [["e1", "e2", "e3"], ["e2", "e3"]]
    [message] = sqs.receive_message(QueueUrl=queue)["Messages"]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["functionArn"].endswith(":function:r")
    info = record["DDBStreamBatchInfo"]
    assert info["batchSize"] == 2
    assert info["streamArn"] == arn
    assert int(info["startSequenceNumber"]) < int(info["endSequenceNumber"])
    assert set(info) >= {"shardId", "approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"}
    write(aws_client, table, "e4")
    drain(poller)
    assert router.batches[-1] == ["e4"]  # the shard moved past the given-up batch
