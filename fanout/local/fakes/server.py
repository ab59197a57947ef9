"""A tiny HTTP server on loopback that hands each request to an app object (no external dependency)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

# Set by the local runtime's HTTP transport on every provider call, so a fake knows which emulated
# Lambda container made it (a real provider ignores it).
CONTAINER_HEADER = "x-fanout-container"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        """Query string, form body and JSON body merged (Slack accepts all three)."""
        values = {k: v[-1] for k, v in self.query.items() if v}
        content_type = self.headers.get("content-type", "")
        if "application/json" in content_type:
            data = self.json()
            if isinstance(data, dict):
                values.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()})
        elif self.body:
            values.update({k: v[-1] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()})
        return values

    @property
    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        return token.strip() or None if scheme.lower() in {"bearer", "token"} else None

    @property
    def url(self) -> str:
        """As the caller addressed it (host, path and query; http, the scheme a stand-in serves)."""
        query = f"?{urlencode(self.query, doseq=True)}" if self.query else ""
        return f"http://{self.headers.get('host', '127.0.0.1')}{self.path}{query}"

    @property
    def container(self) -> str | None:
        return self.headers.get(CONTAINER_HEADER)


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-serialised, except bytes, sent as they are (set the content-type header)
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering (a request taken, its answer lost)
    timeout: bool = False  # with drop, under MockTransport: the client sees a read timeout, not a close
    # with drop, under MockTransport: the client sees a refused connection (httpx.ConnectError); a
    # server cannot refuse a connection it already accepted, so over HTTP this is a plain drop
    refused: bool = False

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()


class App(Protocol):
    def handle(self, request: Request) -> Response: ...


class HttpFake:
    """Serve `app` on 127.0.0.1 (a free port unless given) in a daemon thread."""

    def __init__(self, app: App, *, port: int = 0) -> None:
        self.app = app
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_class(app))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HttpFake:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _handler_class(app: App) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            try:
                response = app.handle(request)
            except Exception as exc:  # a bug in a fake must show, not hang the client
                response = Response(500, {"message": f"fake server error: {exc!r}"})
            if response.drop:
                self.close_connection = True
                self.connection.close()
                return
            payload = response.payload()
            self.send_response(response.status)
            headers = {"content-type": "application/json; charset=utf-8", **response.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return  # the call log is the record; stderr stays quiet

    return Handler
