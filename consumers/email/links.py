"""The one link an email carries: the task's pull request, only on the configured GitHub host and the
task's own repository (`https://<host>/<owner>/<name>/pull/<n>`). Anything else (another host,
`github.com.evil.example`, a userinfo part, another repository, another scheme) gets no link."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

_PR_PATH = re.compile(r"/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/pull/([1-9][0-9]{0,9})/?")
MAX_URL = 2000


@dataclass(frozen=True)
class PullRequest:
    """A pull request link that passed the checks, ready to show in a message."""

    number: int
    url: str | None  # None: the number is known but the URL is not one we link to


def pull_request(task: Mapping[str, Any], *, github_host: str) -> PullRequest | None:
    url = _checked_url(task.get("pr_url"), task.get("repo"), github_host)
    number = task.get("pr_number")
    if url is not None:
        match = _PR_PATH.fullmatch(urlsplit(url).path)
        assert match is not None  # checked above
        return PullRequest(int(match.group(2)), url)
    if isinstance(number, int) and not isinstance(number, bool) and number > 0:
        return PullRequest(number, None)
    return None


def _checked_url(url: object, repo: object, host: str) -> str | None:
    if not isinstance(url, str) or not isinstance(repo, str) or len(url) > MAX_URL or not url.isascii():
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "https" or parts.username or parts.password or port is not None:
        return None
    if (parts.hostname or "") != host.lower() or parts.query or parts.fragment:
        return None
    match = _PR_PATH.fullmatch(parts.path)
    if match is None or match.group(1).lower() != repo.strip().lower():
        return None
    return url
