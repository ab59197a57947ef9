"""Untrusted text (error messages, descriptions) made safe for a GitHub comment body.

GitHub renders comment bodies as Markdown with inline HTML. Escaping `&`, `<` and `>` means untrusted text
can neither open a tag nor close the hidden marker comment (`-->`). A zero-width space after `@` and
between `#` and a digit means it cannot @-mention a user or team nor cross-reference an issue (both
notify people); the approach is the one Renovate uses in its PR bodies.
"""

from __future__ import annotations

import re
from urllib.parse import quote

ZERO_WIDTH_SPACE = "&#8203;"
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_HTML_CHARS = re.compile(r"[&<>]")
_NOTIFYING = re.compile(r"@|#(?=\d)")  # a mention, an issue reference
_WHITESPACE = re.compile(r"\s+")
_LINKABLE_URL = re.compile(r"https?://[^\s()<>\[\]\"'`]+")


def escape_text(text: str) -> str:
    """One line of untrusted text, inert in Markdown/HTML: no tags, no mentions, no references."""
    flat = _WHITESPACE.sub(" ", text).strip()
    escaped = _HTML_CHARS.sub(lambda m: _HTML[m.group(0)], flat)
    return _NOTIFYING.sub(lambda m: m.group(0) + ZERO_WIDTH_SPACE, escaped)


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters (before escaping, so an entity is never cut in half)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def marker_id(task_id: str) -> str:
    """The task id as it appears in the hidden marker: percent-encoded, so it is one-to-one and can never
    contain `>` (hence never `-->`), `<`, whitespace or anything else that could end the comment."""
    return quote(task_id, safe="")


def safe_url(url: object) -> str | None:
    """`url` when it is a plain http(s) URL that can sit inside a Markdown link, else None."""
    if isinstance(url, str) and _LINKABLE_URL.fullmatch(url):
        return url
    return None
