"""Serve a stand-in provider in process, through httpx.MockTransport, for unit tests.

The same app object the local runtime serves over HTTP with `HttpFake`; only the wire is skipped.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx

from fanout.local.fakes.server import App, Request


def mock_transport(app: App) -> httpx.MockTransport:
    """An httpx transport that hands each request to `app.handle` and turns its Response back."""

    def handle(request: httpx.Request) -> httpx.Response:
        answer = app.handle(
            Request(
                method=request.method,
                path=request.url.path,
                query=parse_qs(request.url.query.decode("ascii")),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=request.read(),
            )
        )
        if answer.drop:
            if answer.refused:
                raise httpx.ConnectError("stand-in: connection refused", request=request)
            if answer.timeout:
                raise httpx.ReadTimeout("stand-in: the answer never came", request=request)
            raise httpx.RemoteProtocolError("stand-in: connection closed unanswered", request=request)
        headers = {"content-type": "application/json; charset=utf-8", **answer.headers}
        return httpx.Response(answer.status, content=answer.payload(), headers=headers)

    return httpx.MockTransport(handle)
