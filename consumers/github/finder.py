"""Finding a task's status comment again by its marker: the issue's comments, all pages, only those
written by the token's own user (someone else can write the marker, but we could not edit their comment).
"""

from __future__ import annotations

from typing import Any

import httpx
from aws_lambda_powertools import Logger

from consumers.github.api import Session
from consumers.github.render import marker
from consumers.runtime.outcomes import Delivered, Retry, Terminal

PER_PAGE = 100
MAX_PAGES = 100  # 10,000 comments: far beyond any real issue, and still inside the function timeout

Found = list[tuple[int, str]]  # (comment id, body), oldest first


class CommentFinder:
    def __init__(self, logger: Logger) -> None:
        self._logger = logger
        self._logins: dict[str, str | None] = {}  # token fingerprint -> login (None: an app token)

    def find(self, session: Session, repo: str, number: int, task_id: str) -> Found | Retry | Terminal:
        login = self._login(session)
        if isinstance(login, Retry | Terminal):
            return login
        wanted = marker(task_id)
        found: Found = []
        url: str | None = f"/repos/{repo}/issues/{number}/comments"
        params: dict[str, Any] | None = {"per_page": PER_PAGE}
        for _ in range(MAX_PAGES):
            response = session.call("GET", url, params=params) if url is not None else None
            if response is None:
                return sorted(found)
            if not isinstance(response, httpx.Response):
                return response
            outcome = session.outcome(response, "GET")
            if not isinstance(outcome, Delivered):
                return outcome
            page = _json(response)
            if not isinstance(page, list):
                return Retry(None, "comment_list_not_a_list")
            found.extend(hit for item in page if (hit := _own_marked(item, login, wanted)) is not None)
            url, params = response.links.get("next", {}).get("url"), None
            if url is not None and not session.api.is_same_origin(url):
                self._warn("foreign_page_link", host=httpx.URL(url).host)  # never send the token elsewhere
                url = None
        self._warn("reconcile_truncated", pages=MAX_PAGES, repo=repo, number=number)
        return sorted(found)

    def _login(self, session: Session) -> str | Retry | Terminal | None:
        """The token's own login (GET /user, cached per token). A GitHub App installation token may not
        read /user (403): then None, and only comments written by a bot account are considered."""
        key = session.credential.fingerprint
        if key in self._logins:
            return self._logins[key]
        response = session.call("GET", "/user")
        if not isinstance(response, httpx.Response):
            return response
        outcome = session.outcome(response, "GET")
        login: str | None
        if isinstance(outcome, Terminal) and response.status_code == 403:
            login = None
        elif not isinstance(outcome, Delivered):
            return outcome
        else:
            data = _json(response)
            value = data.get("login") if isinstance(data, dict) else None
            if not isinstance(value, str) or not value:
                return Retry(None, "user_answer_without_login")
            login = value
        self._logins[session.credential.fingerprint] = login
        return login

    def _warn(self, what: str, **fields: Any) -> None:
        key = f"fanout.github.{what}"
        self._logger.warning(key, extra={"event": key, **fields})


def comment_id_of(data: Any) -> int | None:
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _own_marked(item: Any, login: str | None, wanted: str) -> tuple[int, str] | None:
    if not isinstance(item, dict):
        return None
    user, body, comment_id = item.get("user"), item.get("body"), comment_id_of(item)
    if not isinstance(user, dict) or not isinstance(body, str) or comment_id is None:
        return None
    own = user.get("login") == login if login is not None else user.get("type") == "Bot"
    return (comment_id, body) if own and wanted in body else None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
