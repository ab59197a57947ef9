"""Untrusted text made safe for Slack mrkdwn, and bounded in length.

Slack reads `<...>` as a link or a mention (`<!channel>`, `<!here>`, `<@U123>`) and `&` as the start of
an entity; Slack's own rule is to escape exactly these three characters, so nothing a user typed can ping
anyone or forge a link. Text is cut before it is escaped, so a cut never splits an entity.
"""

from __future__ import annotations

ELLIPSIS = "…"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters; a cut text ends with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def safe(text: str, limit: int | None = None) -> str:
    """Cut (when a limit is given), then escape."""
    return escape(truncate(text, limit) if limit is not None else text.strip())
