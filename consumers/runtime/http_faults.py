"""Which httpx errors are the provider's side failing (a server-side fault for the outage circuit,
outages.py): a timeout waiting for it, a refused or dropped connection, a broken answer, a failing proxy.
Not: our own connection pool running dry, a redirect loop, a URL or protocol we cannot use, a body we
could not decode. Those are ours or one request's, and must not hold a whole workspace or token back."""

from __future__ import annotations

import httpx


def provider_side(error: BaseException) -> bool:
    if isinstance(error, httpx.PoolTimeout):
        return False
    return isinstance(
        error, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError
    )
