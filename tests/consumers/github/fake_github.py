"""A stateful stand-in for GitHub's issue-comment API behind httpx.MockTransport, with per-call faults."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/user$"), "GET user"),
    ("POST", re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<n>\d+)/comments$"), "POST comments"),
    ("GET", re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<n>\d+)/comments$"), "GET comments"),
    ("PATCH", re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$"), "PATCH comment"),
    ("DELETE", re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$"), "DELETE comment"),
]


@dataclass
class Comment:
    id: int
    repo: str
    issue: int
    body: str
    login: str
    user_type: str = "Bot"

    def as_api(self) -> dict[str, Any]:
        return {"id": self.id, "body": self.body, "user": {"login": self.login, "type": self.user_type}}


@dataclass
class Call:
    route: str
    method: str
    url: str
    token: str | None
    at: float
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """Answer the next `times` matching calls with this status/headers/message, or raise `exc`. With
    `apply`, the call takes effect first (the answer is what gets lost)."""

    route: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "fault"
    exc: Callable[[httpx.Request], Exception] | None = None
    apply: bool = False
    times: int = 1


class FakeGitHub:
    def __init__(self, clock: Callable[[], float], base_url: str) -> None:
        self.clock = clock
        self.base_url = base_url
        self.tokens: dict[str, str] = {}  # token -> login
        self.comments: dict[int, Comment] = {}
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.user_forbidden = False  # a GitHub App installation token cannot read /user
        self.extra_headers: dict[str, str] = {}
        self._next_id = 9001

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def fail(self, route: str, **kwargs: Any) -> None:
        self.faults.append(Fault(route, **kwargs))

    def add_comment(self, repo: str, issue: int, body: str, login: str, user_type: str = "Bot") -> Comment:
        comment = Comment(self._next_id, repo, issue, body, login, user_type)
        self._next_id += 1
        self.comments[comment.id] = comment
        return comment

    def on(self, repo: str, issue: int) -> list[Comment]:
        return sorted(
            (c for c in self.comments.values() if c.repo == repo and c.issue == issue), key=lambda c: c.id
        )

    def routes(self) -> list[str]:
        return [call.route for call in self.calls]

    def handle(self, request: httpx.Request) -> httpx.Response:
        route, groups = _route(request.method, request.url.path)
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        body = json.loads(request.content) if request.content else None
        self.calls.append(
            Call(route, request.method, str(request.url), token, self.clock(), body, dict(request.headers))
        )
        if token not in self.tokens:
            return self._answer(401, {"message": "Bad credentials"})
        fault = next((f for f in self.faults if f.route == route and f.times > 0), None)
        if fault is not None:
            fault.times -= 1
            if fault.apply:
                self._dispatch(route, groups, request, body, self.tokens[token])
            if fault.exc is not None:
                raise fault.exc(request)
            return self._answer(fault.status or 500, {"message": fault.message}, fault.headers)
        return self._dispatch(route, groups, request, body, self.tokens[token])

    def _dispatch(
        self, route: str, groups: dict[str, str], request: httpx.Request, body: Any, login: str
    ) -> httpx.Response:
        if route == "GET user":
            if self.user_forbidden:
                return self._answer(403, {"message": "Resource not accessible by integration"})
            return self._answer(200, {"login": login, "type": "Bot"})
        if route == "POST comments":
            comment = self.add_comment(groups["repo"], int(groups["n"]), body["body"], login)
            return self._answer(201, comment.as_api())
        if route == "GET comments":
            return self._list(groups["repo"], int(groups["n"]), request)
        found = self.comments.get(int(groups.get("id", "0")))
        if found is None or found.repo != groups.get("repo"):
            return self._answer(404, {"message": "Not Found"})
        if route == "PATCH comment":
            if found.login != login:
                return self._answer(403, {"message": "Must have admin rights to Repository."})
            found.body = body["body"]
            return self._answer(200, found.as_api())
        if route == "DELETE comment":
            del self.comments[found.id]
            return httpx.Response(204, headers=self.extra_headers)
        return self._answer(404, {"message": "Not Found"})

    def _list(self, repo: str, issue: int, request: httpx.Request) -> httpx.Response:
        per_page = int(request.url.params.get("per_page", "30"))
        page = int(request.url.params.get("page", "1"))
        comments = self.on(repo, issue)
        chunk = comments[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(comments):
            url = f"{self.base_url}{request.url.path}?per_page={per_page}&page={page + 1}"
            headers["link"] = f'<{url}>; rel="next"'
        return self._answer(200, [c.as_api() for c in chunk], headers)

    def _answer(self, status: int, data: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.Response(status, json=data, headers={**self.extra_headers, **(headers or {})})


def _route(method: str, path: str) -> tuple[str, dict[str, str]]:
    for route_method, pattern, name in ROUTES:
        if route_method == method and (match := pattern.match(path)):
            return name, match.groupdict()
    return f"{method} {path}", {}
