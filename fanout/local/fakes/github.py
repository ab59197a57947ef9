"""A stand-in for GitHub's REST API: issue comments and /user, with rate limits and outages on schedule.

Serve it with `HttpFake(GitHubFake(...))` (the consumer's base URL is the server's URL), or in process with
`mock_transport(GitHubFake(...))` for unit tests. Unit tests also script single calls with `fail(...)`,
inject a clock, set `extra_headers` on every answer and `user_forbidden` (an App installation token).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from fanout.local.fakes.calllog import Call, CallLog, RetryAfterWindows
from fanout.local.fakes.faults import FaultKind, FaultSchedule
from fanout.local.fakes.server import Request, Response

DEFAULT_LOGIN = "fanout-local[bot]"
PER_PAGE_DEFAULT = 30
PER_PAGE_MAX = 100
NO_RETRY_AFTER_WAIT_S = 60  # what a client must wait on a secondary limit without retry-after
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)

ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/user$"), "GET /user"),
    (
        "POST",
        re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<n>\d+)/comments$"),
        "POST /repos/{repo}/issues/{n}/comments",
    ),
    (
        "GET",
        re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<n>\d+)/comments$"),
        "GET /repos/{repo}/issues/{n}/comments",
    ),
    (
        "PATCH",
        re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$"),
        "PATCH /repos/{repo}/issues/comments/{id}",
    ),
    (
        "GET",
        re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$"),
        "GET /repos/{repo}/issues/comments/{id}",
    ),
    (
        "DELETE",
        re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$"),
        "DELETE /repos/{repo}/issues/comments/{id}",
    ),
]


@dataclass
class Comment:
    id: int
    repo: str
    issue: int
    body: str
    login: str
    created_at: float
    updated_at: float
    edits: int = 0
    deleted: bool = False
    user_type: str = "Bot"  # "User" for a human's comment

    def as_api(self, base: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "node_id": f"IC_local{self.id}",
            "body": self.body,
            "user": {"login": self.login, "id": 1, "type": self.user_type},
            "html_url": f"https://github.local/{self.repo}/issues/{self.issue}#issuecomment-{self.id}",
            "issue_url": f"{base}/repos/{self.repo}/issues/{self.issue}",
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@dataclass
class CallFault:
    """Answer the next `times` calls of `route` with `status` (and headers, message), or lose the answer
    (`lost`: the connection drops or the read times out). With `apply`, the call takes effect first:
    what is lost is only the answer, the case a client must reconcile."""

    route: str
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "fault"
    apply: bool = False
    lost: Literal["dropped", "timeout"] | None = None
    times: int = 1


class GitHubFake:
    """Keeps every comment (and its edits count); answers like GitHub; injects the schedule's faults."""

    def __init__(
        self,
        schedule: FaultSchedule | None = None,
        *,
        tokens: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        first_comment_id: int = 1001,
        base_url: str | None = None,
    ) -> None:
        self.schedule = schedule or FaultSchedule()
        self.clock = clock
        self.base_url = base_url  # what links in answers point at; default: http:// + the request's host
        self.log = CallLog()
        self.windows = RetryAfterWindows()
        self.user_forbidden = False  # GET /user answers 403, as for a GitHub App installation token
        self.extra_headers: dict[str, str] = {}  # added to every answer (e.g. a low rate-limit budget)
        self.call_faults: list[CallFault] = []
        self._tokens: dict[str, str] = dict(tokens or {})  # token -> login
        self._comments: dict[int, Comment] = {}
        self._next_id = first_comment_id
        self._lock = threading.Lock()

    def register_token(self, token: str, login: str = DEFAULT_LOGIN) -> None:
        with self._lock:
            self._tokens[token] = login

    def fail(self, route: str, **options: Any) -> None:
        """Script the next call(s) of one route (see CallFault), whatever the schedule says."""
        with self._lock:
            self.call_faults.append(CallFault(route, **options))

    def add_comment(self, repo: str, issue: int, body: str, login: str, *, user_type: str = "Bot") -> Comment:
        """Seed a comment, as if someone (a human with user_type "User") had written it."""
        now = self.clock()
        with self._lock:
            comment = Comment(self._next_id, repo, issue, body, login, now, now, user_type=user_type)
            self._next_id += 1
            self._comments[comment.id] = comment
        return comment

    def comment(self, comment_id: int) -> Comment:
        """One comment by id, deleted or not."""
        with self._lock:
            return self._comments[comment_id]

    def delete_comment(self, comment_id: int) -> None:
        """As a maintainer deleting it in the UI."""
        with self._lock:
            self._comments[comment_id].deleted = True

    def routes(self) -> list[str]:
        """The route of every call so far, in order."""
        return [call.api for call in self.log.calls()]

    def comments(self, *, repo: str | None = None, issue: int | None = None) -> list[Comment]:
        with self._lock:
            found = [
                c
                for c in self._comments.values()
                if not c.deleted and (repo is None or c.repo == repo) and (issue is None or c.issue == issue)
            ]
        return sorted(found, key=lambda c: c.id)

    def handle(self, request: Request) -> Response:
        now = self.clock()
        path = request.path.removeprefix("/api/v3")
        route, match = _route(request.method, path)
        token = request.bearer
        login = self._tokens.get(token) if token else None
        groups = match.groupdict() if match else {}
        target = f"{groups['repo']}#{groups['n']}" if "n" in groups else groups.get("repo")
        inside, inside_own = self.windows.check(token, request.container, now)
        fault_name: str | None = None

        def answer(
            status: int, body: Any, headers: dict[str, str] | None = None, *, budget: bool = True
        ) -> Response:
            error = body.get("message") if status >= 400 and isinstance(body, dict) else None
            self.log.add(
                Call(
                    t=now,
                    provider="github",
                    http_method=request.method,
                    path=request.path,
                    api=route,
                    scope=token,
                    container=request.container,
                    status=status,
                    error=error,
                    target=target,
                    fault=fault_name,
                    inside_retry_after=inside,
                    inside_own_retry_after=inside_own,
                    url=request.url,
                    headers=dict(request.headers),
                )
            )
            rate = _rate_headers(now) if budget else {}
            return Response(status, body, {**rate, **self.extra_headers, **(headers or {})})

        if login is None or token is None:
            return answer(401, {"message": "Bad credentials"})
        fault = self.schedule.first(
            frozenset({FaultKind.GITHUB_5XX, FaultKind.GITHUB_SECONDARY, FaultKind.GITHUB_PRIMARY}),
            now,
            scopes=[token],
            method=route,
        )
        if fault is not None:
            fault_name = fault.kind.value
            if fault.kind is FaultKind.GITHUB_5XX:
                return answer(502, {"message": "Server Error"})
            if fault.kind is FaultKind.GITHUB_PRIMARY:
                reset = math.ceil(now + max(1.0, fault.retry_after_s))
                self.windows.announce(token, request.container, now, reset - now)
                headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
                return answer(403, {"message": f"API rate limit exceeded for {login}."}, headers)
            wait = math.ceil(fault.retry_after_s) if fault.retry_after_s > 0 else 0
            self.windows.announce(token, request.container, now, wait or NO_RETRY_AFTER_WAIT_S)
            return answer(403, {"message": SECONDARY_MESSAGE}, {"retry-after": str(wait)} if wait else {})
        base = self.base_url or f"http://{request.headers.get('host', '127.0.0.1')}"
        with self._lock:
            scripted = next((f for f in self.call_faults if f.route == route and f.times > 0), None)
            if scripted is not None:
                scripted.times -= 1
                fault_name = "scripted"
                if scripted.apply and match is not None:
                    self._dispatch(route, groups, request, login, now, base)
        if scripted is not None:
            # a scripted answer carries exactly the headers scripted (no default rate-limit budget)
            response = answer(scripted.status, {"message": scripted.message}, scripted.headers, budget=False)
            if scripted.lost is not None:
                response.drop, response.timeout = True, scripted.lost == "timeout"
            return response
        if match is None:
            return answer(404, {"message": "Not Found"})
        with self._lock:
            status, body, headers = self._dispatch(route, groups, request, login, now, base)
        return answer(status, body, headers)

    def _dispatch(
        self, route: str, groups: dict[str, str], request: Request, login: str, now: float, base: str
    ) -> tuple[int, Any, dict[str, str]]:
        if route == "GET /user":
            if self.user_forbidden:
                return 403, {"message": "Resource not accessible by integration"}, {}
            return 200, {"login": login, "id": 1, "type": "Bot"}, {}
        repo = groups["repo"]
        if route.startswith("POST"):
            data = request.json()
            if not isinstance(data, dict) or not isinstance(data.get("body"), str) or not data["body"]:
                return 422, {"message": "Validation Failed", "errors": [{"field": "body"}]}, {}
            comment = Comment(self._next_id, repo, int(groups["n"]), data["body"], login, now, now)
            self._next_id += 1
            self._comments[comment.id] = comment
            return (
                201,
                comment.as_api(base),
                {"location": f"{base}/repos/{repo}/issues/comments/{comment.id}"},
            )
        if route.startswith("GET /repos/{repo}/issues/{n}"):
            return self._list(repo, int(groups["n"]), request, base)
        found = self._comments.get(int(groups["id"]))
        if found is None or found.deleted or found.repo != repo:
            return 404, {"message": "Not Found"}, {}
        if route.startswith("PATCH"):
            if found.login != login:
                return 403, {"message": "Must have admin rights to Repository."}, {}
            data = request.json()
            if not isinstance(data, dict) or not isinstance(data.get("body"), str) or not data["body"]:
                return 422, {"message": "Validation Failed", "errors": [{"field": "body"}]}, {}
            found.body = data["body"]
            found.updated_at = now
            found.edits += 1
            return 200, found.as_api(base), {}
        if route.startswith("DELETE"):
            found.deleted = True
            return 204, None, {}
        return 200, found.as_api(base), {}

    def _list(self, repo: str, issue: int, request: Request, base: str) -> tuple[int, Any, dict[str, str]]:
        per_page = min(PER_PAGE_MAX, max(1, _int(request.query, "per_page", PER_PAGE_DEFAULT)))
        page = max(1, _int(request.query, "page", 1))
        comments = sorted(
            (c for c in self._comments.values() if c.repo == repo and c.issue == issue and not c.deleted),
            key=lambda c: c.id,
        )
        last = max(1, math.ceil(len(comments) / per_page))
        chunk = comments[(page - 1) * per_page : page * per_page]
        links = []
        url = f"{base}{request.path}?per_page={per_page}"
        if page < last:
            links.append(f'<{url}&page={page + 1}>; rel="next"')
            links.append(f'<{url}&page={last}>; rel="last"')
        if page > 1:
            links.append(f'<{url}&page=1>; rel="first"')
            links.append(f'<{url}&page={page - 1}>; rel="prev"')
        return 200, [c.as_api(base) for c in chunk], ({"link": ", ".join(links)} if links else {})


def _route(method: str, path: str) -> tuple[str, re.Match[str] | None]:
    for route_method, pattern, name in ROUTES:
        if route_method == method and (match := pattern.match(path)):
            return name, match
    return f"{method} {path}", None


def _int(query: Any, name: str, default: int) -> int:
    try:
        return int(query.get(name, [default])[-1])
    except (TypeError, ValueError):
        return default


def _rate_headers(now: float) -> dict[str, str]:
    return {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4999",
        "x-ratelimit-reset": str(int(now) + 3600),
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
