"""The AWS-compatible endpoint: moto's server in-process on a free loopback port, or a given URL."""

from __future__ import annotations

import logging
import os
from types import TracebackType
from typing import Any

REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "fanout-local", "AWS_SECRET_ACCESS_KEY": "fanout-local"}


def use_local_aws_environment() -> None:
    """Region and (fake, unless already set) credentials for every boto3 client of this process.

    Every client the local runtime builds has an explicit endpoint, so nothing here can reach AWS.
    """
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["AWS_REGION"] = REGION
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)


class AwsEndpoint:
    """`with AwsEndpoint(url) as endpoint:` uses `url`, or starts moto's server when url is None."""

    def __init__(self, url: str | None = None) -> None:
        self._given = url.rstrip("/") if url else None
        self._server: object | None = None
        self.url = self._given or ""

    @property
    def in_process(self) -> bool:
        return self._given is None

    def start(self) -> AwsEndpoint:
        use_local_aws_environment()
        if self._given is None:
            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per AWS call
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            self._server = server
            self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()  # type: ignore[attr-defined]

    def __enter__(self) -> AwsEndpoint:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def aws_client(endpoint_url: str, service: str) -> Any:
    """A boto3 client for the local endpoint (the runtime's own clients, not a container's)."""
    import boto3

    return boto3.client(service, endpoint_url=endpoint_url, region_name=REGION)  # type: ignore[call-overload]
