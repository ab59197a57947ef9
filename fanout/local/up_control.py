"""What a run attached to `fanout local up` asks it: a small JSON API on 127.0.0.1, its own port.

`fanout local up` runs the functions; a `fanout local run --aws-endpoint URL` against it writes its input
into the endpoint and asks `up` (never the other way round):
- `GET  info`          who it is (pid, endpoint, stack), its channels and the stack's resource names;
- `POST secrets`       read the endpoint's secrets now and teach the stand-ins the tokens (before events);
- `POST slack-seeds`   messages that exist in Slack before the run (a scenario's @mention);
- `POST faults`        a scenario's faults join up's stand-ins' schedule (fanout/local/up_faults.py);
- `POST tally`         each given event id's counts per channel, as up's containers did the work;
- `GET  idle?since=T`  stream read past epoch time T, nothing in flight, every channel queue empty.
No token or secret value is ever served: only counts, names and URLs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

PREFIX = "/fanout-local-up/v1/"
CLIENT_TIMEOUT_S = 10.0


@dataclass
class ControlHooks:
    """What the server answers with (up.py wires these to its runtime)."""

    info: Callable[[], Mapping[str, Any]]
    learn_secrets: Callable[[], int]
    seed_slack: Callable[[Iterable[Mapping[str, str]]], int]
    add_faults: Callable[[list[Mapping[str, Any]]], int]
    tally: Callable[[list[str]], Mapping[str, Any]]
    idle: Callable[[float], Mapping[str, Any]]
    lock: threading.Lock = field(default_factory=threading.Lock)


class ControlServer:
    """`ControlServer(hooks).start()` serves on 127.0.0.1 (port 0: any free port) until `stop()`."""

    def __init__(self, hooks: ControlHooks, port: int = 0) -> None:
        self.hooks = hooks
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(hooks))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}{PREFIX}"

    def start(self) -> ControlServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="up-control", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _handler_for(hooks: ControlHooks) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(
            self, format: str, *args: Any
        ) -> None:  # one line per request would drown up's output
            return

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            route = parts.path.removeprefix(PREFIX)
            if route == "info":
                self._answer(200, dict(hooks.info()))
            elif route == "idle":
                try:
                    since = float(parse_qs(parts.query)["since"][0])
                except (KeyError, ValueError):
                    self._answer(400, {"error": "idle needs ?since=<epoch seconds>"})
                    return
                self._answer(200, dict(hooks.idle(since)))
            else:
                self._answer(404, {"error": f"no route {parts.path}"})

        def do_POST(self) -> None:
            route = urlsplit(self.path).path.removeprefix(PREFIX)
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("a JSON object is expected")
            except ValueError as exc:
                self._answer(400, {"error": f"bad request body: {exc}"})
                return
            if route == "secrets":
                with hooks.lock:  # two runs teaching at once would read the secrets twice for nothing
                    self._answer(200, {"learned": hooks.learn_secrets()})
            elif route == "slack-seeds":
                self._answer(200, {"seeded": hooks.seed_slack(list(body.get("seeds") or []))})
            elif route == "faults":
                try:
                    self._answer(200, {"joined": hooks.add_faults(list(body.get("faults") or []))})
                except (KeyError, TypeError, ValueError) as exc:
                    self._answer(400, {"error": f"bad fault: {exc!r}"})
            elif route == "tally":
                keys = [str(k) for k in body.get("keys") or []]
                self._answer(200, {"channels": dict(hooks.tally(keys))})
            else:
                self._answer(404, {"error": f"no route {self.path}"})

        def _answer(self, status: int, payload: Mapping[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


class UpClient:
    """The attached run's side: `UpClient(control_url)`; every call raises httpx.HTTPError on failure."""

    def __init__(self, control_url: str, *, timeout_s: float = CLIENT_TIMEOUT_S) -> None:
        self.control_url = control_url.rstrip("/") + "/"
        self._http = httpx.Client(timeout=timeout_s)

    def _get(self, route: str, **params: Any) -> dict[str, Any]:
        response = self._http.get(self.control_url + route, params=params)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def _post(self, route: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = self._http.post(self.control_url + route, json=dict(body))
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def info(self) -> dict[str, Any]:
        return self._get("info")

    def learn_secrets(self) -> int:
        return int(self._post("secrets", {}).get("learned", 0))

    def seed_slack(self, seeds: Iterable[Mapping[str, str]]) -> int:
        return int(self._post("slack-seeds", {"seeds": [dict(s) for s in seeds]}).get("seeded", 0))

    def add_faults(self, faults: Iterable[Mapping[str, Any]]) -> int:
        return int(self._post("faults", {"faults": [dict(f) for f in faults]}).get("joined", 0))

    def tally(self, keys: Iterable[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """Per channel, per key: the counts (fanout/local/tally.py `entries`)."""
        channels: dict[str, dict[str, dict[str, Any]]] = self._post("tally", {"keys": list(keys)})["channels"]
        return channels

    def idle(self, since: float) -> dict[str, Any]:
        return self._get("idle", since=repr(since))

    def close(self) -> None:
        self._http.close()
