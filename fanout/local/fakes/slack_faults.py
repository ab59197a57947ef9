"""Scripted single-call faults for the Slack stand-in: unit tests say how the next call(s) of one Web API
method go wrong, whatever the run's fault schedule says.

A fault answers with a status, Slack's `error`, headers or an exact body, or loses the answer on the
way (`lost`). With `applied`, the call takes effect first and only its answer is wrong or lost: the
uncertain outcome a client must reconcile.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from fanout.local.fakes.server import Response

# What a proxy in front of Slack answers on a 5xx without Slack's JSON (a client must not need a body).
PROXY_ERROR_PAGE = b"<html><body>Bad gateway</body></html>"
# A body that claims gzip encoding but is not: the client cannot decode the answer it got.
UNDECODABLE_BODY = b"\x00 this is not gzip"

Lost = Literal["dropped", "timeout", "refused", "undecodable"]


@dataclass(frozen=True)
class CallFault:
    """One scripted answer (see the module docstring).

    `lost`: "dropped" closes the connection unanswered, "timeout" lets the read time out, "refused" means
    the request never got through (in process: httpx.ConnectError), "undecodable" answers a body the
    client cannot decode (httpx.DecodingError). `body`: answer exactly this JSON. `error`: Slack's
    `{"ok": false, "error": ...}`. A 5xx without either answers a proxy's HTML page.
    """

    status: int = 200
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    applied: bool = False
    body: Any = None
    lost: Lost | None = None

    def response(self) -> Response:
        if self.lost == "undecodable":
            return Response(self.status, UNDECODABLE_BODY, {"content-encoding": "gzip", **self.headers})
        if self.lost is not None:
            return Response(drop=True, timeout=self.lost == "timeout", refused=self.lost == "refused")
        if self.body is not None:
            return Response(self.status, self.body, dict(self.headers))
        if self.error is not None:
            return Response(self.status, {"ok": False, "error": self.error}, dict(self.headers))
        if self.status >= 500:
            return Response(self.status, PROXY_ERROR_PAGE, {"content-type": "text/html", **self.headers})
        return Response(self.status, {}, dict(self.headers))

    @property
    def logged_error(self) -> str | None:
        """What the call log records as the call's error."""
        if self.lost is not None:
            return f"lost:{self.lost}"
        if isinstance(self.body, dict):
            error = self.body.get("error")
            return str(error) if error is not None else None
        return self.error


class ScriptedFaults:
    """Per-method queues of CallFaults; each call of a method takes the first one queued for it."""

    def __init__(self) -> None:
        self._queues: dict[str, list[CallFault]] = {}
        self._lock = threading.Lock()

    def add(self, method: str, *faults: CallFault) -> None:
        with self._lock:
            self._queues.setdefault(method, []).extend(faults)

    def take(self, method: str) -> CallFault | None:
        with self._lock:
            queue = self._queues.get(method)
            return queue.pop(0) if queue else None

    def clear(self) -> None:
        """Forget every fault not used yet."""
        with self._lock:
            self._queues.clear()

    def pending(self) -> dict[str, int]:
        with self._lock:
            return {method: len(queue) for method, queue in self._queues.items() if queue}
