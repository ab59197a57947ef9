"""Untrusted text (error messages, descriptions) made safe for a GitHub comment body.

GitHub renders comment bodies as Markdown with inline HTML. Escaping `&`, `<` and `>` means untrusted text
can neither open a tag nor close the hidden marker comment (`-->`). A zero-width space after `@` and
between `#` and a digit means it cannot @-mention a user or team nor cross-reference an issue (both
notify people); the approach is the one Renovate uses in its PR bodies. Markdown's own punctuation
(link and image brackets, emphasis, code, tables) becomes a numeric character reference, which CommonMark
shows as the character but never reads as markup: a failure reason cannot dress a phishing link or a
tracking image up as the bot's own words. A bare URL stays a visible URL.
"""

from __future__ import annotations

import re
from urllib.parse import quote

ZERO_WIDTH_SPACE = "&#8203;"
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_HTML.update({c: f"&#{ord(c)};" for c in "[]`*_~|\\"})
# One pass, so the `#` of a reference made here is never read as an issue reference.
_UNSAFE = re.compile("[" + re.escape("".join(_HTML)) + r"]|@|#(?=\d)")  # ..., a mention, an issue reference
_WHITESPACE = re.compile(r"\s+")
_LINKABLE_URL = re.compile(r"https?://[^\s()<>\[\]\"'`]+")


def escape_text(text: str) -> str:
    """One line of untrusted text, inert in Markdown/HTML: no tags, links, mentions or references."""
    flat = _WHITESPACE.sub(" ", text).strip()
    return _UNSAFE.sub(_neutralise, flat)


def _neutralise(match: re.Match[str]) -> str:
    char = match.group(0)
    return _HTML.get(char) or char + ZERO_WIDTH_SPACE


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
