from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from bench.moto_process import PIDS, cpu_seconds, moto_server
from bench.recording import AwsCallLog


def test_moto_runs_in_its_own_process_and_stops_with_the_block() -> None:
    with moto_server() as url:
        sqs = boto3.client(
            "sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        calls = AwsCallLog()
        calls.watch("slack", sqs)
        before = cpu_seconds(PIDS[url])
        created = sqs.create_queue(QueueName="bench-probe")["QueueUrl"]
        assert created.endswith("/bench-probe")
        assert sqs.list_queues()["QueueUrls"] == [created]
        after = cpu_seconds(PIDS[url])
        # Its CPU time is readable while it runs (the isolation benchmark records it): starting took some.
        assert before is not None
        assert after is not None
        assert after >= before > 0
        # Every call the client made is timed, with its channel and operation.
        assert [(c.channel, c.operation) for c in calls.items()] == [
            ("slack", "sqs.CreateQueue"),
            ("slack", "sqs.ListQueues"),
        ]
        assert all(c.duration_s > 0 for c in calls.items())
    assert url not in PIDS
    with pytest.raises(EndpointConnectionError):  # nothing listens any more
        sqs.list_queues()
