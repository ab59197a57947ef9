"""The one place boto3 clients are built, from --endpoint-url and --region."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from fanout.ops.errors import OpsError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
else:  # the stubs are a dev dependency only
    CloudFormationClient = LambdaClient = SQSClient = Any

# A local endpoint (moto's server) needs no real region or credentials, but boto3 insists on both.
LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIALS = {"aws_access_key_id": "fanout-local", "aws_secret_access_key": "fanout-local"}
AWS_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30)


class AwsSession:
    """Lazily built, cached clients for one endpoint and region.

    `clients` pre-seeds services (tests pass Stubber-wrapped or fault-injecting clients here).
    """

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        clients: Mapping[str, Any] | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self._region = region
        self._clients: dict[str, Any] = dict(clients or {})

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._build(service)
        return self._clients[service]

    @property
    def sqs(self) -> SQSClient:
        return self.client("sqs")  # type: ignore[no-any-return]

    @property
    def cloudformation(self) -> CloudFormationClient:
        return self.client("cloudformation")  # type: ignore[no-any-return]

    @property
    def lambda_(self) -> LambdaClient:
        return self.client("lambda")  # type: ignore[no-any-return]

    @property
    def cloudwatch(self) -> Any:
        return self.client("cloudwatch")

    def _build(self, service: str) -> Any:
        session = boto3.Session(region_name=self._region)
        region = session.region_name or (LOCAL_REGION if self.is_local else None)
        if region is None:
            raise OpsError("no AWS region: pass --region or set AWS_REGION")
        extra: dict[str, str] = {}
        if self.is_local and session.get_credentials() is None:
            extra = LOCAL_CREDENTIALS  # moto accepts any; a real endpoint rejects them with a clear error
        return session.client(
            service,  # type: ignore[call-overload]
            region_name=region,
            endpoint_url=self.endpoint_url,
            config=AWS_CONFIG,
            **extra,
        )
