"""Shared fixtures: a real moto server over HTTP, and boto3 clients pointed at it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"

# No test may reach AWS: fake credentials for every boto3 client made anywhere in the test run.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "FanoutTest")
os.environ.setdefault("POWERTOOLS_DEV", "false")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server per test worker, on a free loopback port; tests isolate by unique names."""
    from fanout.local.endpoint import prepare_moto

    prepare_moto()  # as the local runtime runs moto: its own event source mappings never invoke
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_client(moto_endpoint: str) -> Callable[[str], Any]:
    """Factory: `aws_client("sqs")` gives a boto3 client talking HTTP to the moto server."""

    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_endpoint, region_name=REGION)

    return make


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """Factory for resource names no other test uses on the shared server."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make
