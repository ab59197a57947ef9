from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from bench.moto_process import moto_server


def test_moto_runs_in_its_own_process_and_stops_with_the_block() -> None:
    with moto_server() as url:
        sqs = boto3.client(
            "sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        created = sqs.create_queue(QueueName="bench-probe")["QueueUrl"]
        assert created.endswith("/bench-probe")
        assert sqs.list_queues()["QueueUrls"] == [created]
    with pytest.raises(EndpointConnectionError):  # nothing listens any more
        sqs.list_queues()
