"""Secrets Manager clients the token tests of every channel use: the real client with its reads counted,
and one whose every read is throttled."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


class CountingSecrets:
    """The real client (`client`); `reads` counts get_secret_value calls, to see what a cache saved."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.reads = 0

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self.client.get_secret_value(**kwargs)


class ThrottledSecrets:
    """Every read answers ThrottlingException."""

    def get_secret_value(self, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "GetSecretValue")
