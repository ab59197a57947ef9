"""Which pull-request link a message may carry: only the task's own repository's pull request on the
configured GitHub host. Anything else (`https://github.com.evil.example/acme/widgets/pull/42`, another
repository, a `user@host` trick, a query or fragment) is dropped, so it can become neither a Slack button
nor a GitHub link, and logged so the task's owner can be told. Every channel vets the task in `prepare`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger

from fanout.events import TaskEvent

PR_URL = "pr_url"
_URL_MAX = 2000


def trusted_pr_url(url: object, *, repo: object, web_url: str) -> str | None:
    """`url` when it is `<web_url>/<repo>/pull/<number>`, else None."""
    if not isinstance(url, str) or not isinstance(repo, str) or len(url) > _URL_MAX:
        return None
    try:
        link, base = urlsplit(url.strip()), urlsplit(web_url)
        port, base_port = link.port, base.port
    except ValueError:
        return None
    if (link.scheme, link.hostname, port) != (base.scheme, base.hostname, base_port):
        return None
    if link.username is not None or link.password is not None or link.query or link.fragment:
        return None
    path = re.escape(base.path.rstrip("/")) + "/" + re.escape(repo.strip()) + r"/pull/[1-9][0-9]{0,9}/?"
    return url.strip() if re.fullmatch(path, link.path, flags=re.IGNORECASE) else None


def vet_pr_link(
    event: TaskEvent,
    task: Mapping[str, Any],
    *,
    web_url: str,
    logger: Logger,
    channel: str,
    from_event: bool = True,
) -> dict[str, Any]:
    """The task with `pr_url` set to the first trusted link (the task's own, else, with `from_event`,
    the event's), or without it; a link refused is logged as `fanout.<channel>.untrusted_link`."""
    vetted = dict(task)
    vetted.pop(PR_URL, None)
    candidates = (task.get(PR_URL), event.metadata.get(PR_URL) if from_event else None)
    offered = [u for u in candidates if u not in (None, "")]
    for url in offered:
        trusted = trusted_pr_url(url, repo=task.get("repo"), web_url=web_url)
        if trusted is not None:
            vetted[PR_URL] = trusted
            return vetted
    if offered:
        key = f"fanout.{channel}.untrusted_link"
        logger.warning(
            key,
            extra={
                "event": key,
                "task_id": event.task_id,
                "event_id": event.event_id,
                "repo": str(task.get("repo"))[:200],
                "pr_url": str(offered[0])[:300],
                "allowed": f"{web_url.rstrip('/')}/<repo>/pull/<number>",
            },
        )
    return vetted
