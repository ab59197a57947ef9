"""The I/O a consumer uses, built once per container and injected everywhere else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import boto3
import httpx
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
else:  # the stubs are a dev dependency only
    DynamoDBClient = SecretsManagerClient = SQSClient = Any

# A provider call must end well inside the function timeout; a timeout is an uncertain outcome anyway.
# Deployed functions take theirs from the settings (httpConnectTimeoutS, httpReadTimeoutS).
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
# boto3's own retries are the standard mode's few quick ones; throttling beyond that becomes a Retry.
AWS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


class AwsClientFactory(Protocol):
    """A client of another AWS service built like the runtime's own (endpoint, credentials, region), for
    the services only one channel uses (SES, Cognito). `config` None: AWS_CONFIG; `endpoint_url`: send
    this client's calls elsewhere (a stand-in)."""

    def __call__(
        self, service: str, config: Config | None = None, *, endpoint_url: str | None = None
    ) -> Any: ...


def _plain_aws_client(service: str, config: Config | None = None, *, endpoint_url: str | None = None) -> Any:
    return boto3.client(service, endpoint_url=endpoint_url, config=config or AWS_CONFIG)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Clients:
    """The AWS and HTTP clients a consumer uses, built once per container and injected."""

    sqs: SQSClient
    dynamodb: DynamoDBClient
    secrets: SecretsManagerClient
    http: httpx.Client
    aws: AwsClientFactory = _plain_aws_client


def default_clients(
    *,
    endpoint_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
    http_timeout: httpx.Timeout = HTTP_TIMEOUT,
) -> Clients:
    """Clients for Lambda (endpoint from the environment) or for a local endpoint."""

    def aws(service: str, config: Config | None = None, *, endpoint_url: str | None = endpoint_url) -> Any:
        return boto3.client(service, endpoint_url=endpoint_url, config=config or AWS_CONFIG)  # type: ignore[call-overload]

    return Clients(
        sqs=aws("sqs"),
        dynamodb=aws("dynamodb"),
        secrets=aws("secretsmanager"),
        http=httpx.Client(timeout=http_timeout, transport=transport),
        aws=aws,
    )


ClientsFactory = Callable[[], Clients]


def http_timeout(connect_s: float, read_s: float) -> httpx.Timeout:
    return httpx.Timeout(read_s, connect=connect_s)
