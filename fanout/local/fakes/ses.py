"""A stand-in for Amazon SES (API v2) that answers with faults: SendEmail and GetAccount over HTTP.

moto answers SES inside the AWS endpoint and records what it sends, but it cannot throttle, pause, or
lose an answer after sending. This stand-in can, on the same FaultSchedule as the other stand-ins: it
speaks SES v2's REST-JSON wire format (errors as `x-amzn-ErrorType`), so the consumer's real boto3
client talks to it when the channel's API base URL points here. It also enforces a maximum send rate
(GetAccount reports it), answering TooManyRequestsException past it, as SES does.

Serve it with `HttpFake(SesFake(...))` (or `serve()`): the email channel's API base URL is the server's.
`sent` is what went out, including the sends whose answer was then lost (`answer_lost`): what a
recipient would have in their inbox.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fanout.local.fakes.faults import SES_KINDS, FaultKind, FaultSchedule
from fanout.local.fakes.server import HttpFake, Request, Response

SEND_PATH = "/v2/email/outbound-emails"
ACCOUNT_PATH = "/v2/email/account"
MAX_24_HOUR_SEND = 50_000.0
# What SES says for each refusal: (HTTP status, error type, message).
REFUSALS = {
    FaultKind.SES_THROTTLE: (429, "TooManyRequestsException", "Maximum sending rate exceeded."),
    FaultKind.SES_QUOTA: (400, "LimitExceededException", "Daily message quota exceeded."),
    FaultKind.SES_PAUSED: (400, "SendingPausedException", "Sending is paused for this account."),
}
_DROP = object()  # the handler closes the connection without answering


@dataclass(frozen=True)
class SentEmail:
    message_id: str
    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    tags: dict[str, str]
    at: float
    answer_lost: bool = False  # sent, then a 5xx or a dropped connection instead of the answer

    @property
    def event_id(self) -> str | None:
        return self.tags.get("fanout_event_id")


@dataclass(frozen=True)
class SesCall:
    t: float
    api: str  # "SendEmail" | "GetAccount" | "unknown"
    status: int  # 0: the connection was dropped
    error: str | None = None
    fault: str | None = None


class SesFake:
    """Thread-safe state and the answer to each request; `serve()` puts it on loopback."""

    def __init__(
        self,
        schedule: FaultSchedule | None = None,
        *,
        max_send_rate: float = 14.0,
        verified: frozenset[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock  # what the send rate is measured against (a test's clock, or real time)
        self.schedule = schedule or FaultSchedule()
        self.max_send_rate = max_send_rate
        self.verified = verified  # identities (addresses or domains) allowed to send; None: any
        self.sent: list[SentEmail] = []
        self.calls: list[SesCall] = []
        self._recent: deque[float] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- what a test or the local report reads -----------------------------------------------------

    def sent_for(self, event_id: str) -> list[SentEmail]:
        with self._lock:
            return [m for m in self.sent if m.event_id == event_id]

    # -- answering -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        status, headers, body = self.answer(request.method, request.path, request.body)
        if body is _DROP:
            return Response(drop=True)
        return Response(status, body, headers)

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], Any]:
        """(status, headers, JSON body), or the status 0 with `_DROP` as the body to drop the connection."""
        now = self.clock()
        if method == "GET" and path == ACCOUNT_PATH:
            return self._record(now, "GetAccount", 200, self._account())
        if method != "POST" or path != SEND_PATH:
            return self._record(now, "unknown", 404, _error("NotFoundException", f"no route {method} {path}"))
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return self._record(now, "SendEmail", 400, _error("BadRequestException", "body is not JSON"))
        fault = self.schedule.first(SES_KINDS, now, scopes=[None], method="SendEmail")
        if fault is not None and fault.kind in REFUSALS:
            status, code, message = REFUSALS[fault.kind]
            return self._record(now, "SendEmail", status, _error(code, message), fault=fault.kind.value)
        with self._lock:
            while self._recent and self._recent[0] <= now - 1.0:
                self._recent.popleft()
            over_rate = len(self._recent) >= self.max_send_rate
            if not over_rate:
                self._recent.append(now)
        if over_rate:
            status, code, message = REFUSALS[FaultKind.SES_THROTTLE]
            return self._record(now, "SendEmail", status, _error(code, message), fault="max_send_rate")
        problem = self._refusal(request)
        if problem is not None:
            return self._record(now, "SendEmail", 400, problem)
        lost = fault is not None  # the two after-send faults
        message_id = self._keep(request, now, answer_lost=lost)
        if fault is not None and fault.kind is FaultKind.SES_5XX_AFTER_SEND:
            return self._record(
                now, "SendEmail", 500, _error("InternalFailure", "internal"), fault=fault.kind.value
            )
        if fault is not None:
            return self._record(now, "SendEmail", 0, _DROP, fault=fault.kind.value)
        return self._record(now, "SendEmail", 200, {"MessageId": message_id})

    def _account(self) -> dict[str, Any]:
        with self._lock:
            sent = float(len(self.sent))
        return {
            "SendQuota": {
                "Max24HourSend": MAX_24_HOUR_SEND,
                "MaxSendRate": self.max_send_rate,
                "SentLast24Hours": sent,
            },
            "SendingEnabled": True,
            "ProductionAccessEnabled": False,
            "EnforcementStatus": "HEALTHY",
        }

    def _refusal(self, request: dict[str, Any]) -> dict[str, Any] | None:
        sender = str(request.get("FromEmailAddress") or "")
        if self.verified is not None and not ({sender, sender.rpartition("@")[2]} & self.verified):
            return _error("MessageRejected", f"Email address is not verified: {sender}")
        simple = (request.get("Content") or {}).get("Simple")
        to = (request.get("Destination") or {}).get("ToAddresses") or []
        if not sender or not to or not isinstance(simple, dict):
            return _error(
                "BadRequestException", "FromEmailAddress, Destination and Content.Simple are required"
            )
        return None

    def _keep(self, request: dict[str, Any], now: float, *, answer_lost: bool) -> str:
        simple = request["Content"]["Simple"]
        body = simple.get("Body") or {}
        tags = {t.get("Name", ""): t.get("Value", "") for t in request.get("EmailTags") or []}
        with self._lock:
            message_id = f"local-ses-{next(self._ids):06d}"
            self.sent.append(
                SentEmail(
                    message_id=message_id,
                    sender=request["FromEmailAddress"],
                    to=tuple(request["Destination"]["ToAddresses"]),
                    subject=(simple.get("Subject") or {}).get("Data", ""),
                    text=(body.get("Text") or {}).get("Data", ""),
                    html=(body.get("Html") or {}).get("Data", ""),
                    tags=tags,
                    at=now,
                    answer_lost=answer_lost,
                )
            )
        return message_id

    def _record(
        self, now: float, api: str, status: int, body: Any, *, fault: str | None = None
    ) -> tuple[int, dict[str, str], Any]:
        error = body.get("__type") if isinstance(body, dict) else None
        with self._lock:
            self.calls.append(SesCall(now, api, status, error, fault))
        headers = {"x-amzn-ErrorType": str(error)} if error else {}
        return status, headers, body

    def serve(self) -> HttpFake:
        """On loopback (a free port); the server's `url` is the SES endpoint to use, `app` this fake."""
        return HttpFake(self).start()


def _error(code: str, message: str) -> dict[str, Any]:
    return {"__type": code, "message": message}
