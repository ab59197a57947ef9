"""Untrusted text (error messages, descriptions) made safe for a GitHub comment body.

GitHub renders comment bodies as Markdown with inline HTML. Escaping `&`, `<` and `>` means untrusted text
can neither open a tag nor close the hidden marker comment (`-->`). Markdown's own punctuation (link and
image brackets, emphasis, code, tables) becomes a numeric character reference, which CommonMark shows as
the character but never reads as markup: a failure reason cannot dress a phishing link or a tracking
image up as the bot's own words.

GitHub then turns text into links and references on its own (autolinks), and references notify people.
A zero-width space breaks every form, the approach Renovate uses in its PR bodies: after `@` (mentions,
team mentions, `user@sha`, e-mail addresses), between `#` and a digit (`#123`, `owner/repo#123`), after
the hyphen of `GH-123` and of any `PREFIX-123` (custom autolink references), inside a commit SHA (7 to 40
hex digits), and before `://` and after `www` (a URL, including an issue or PR URL, which GitHub would
show as a cross-reference): a URL stays visible text, never a link.
"""

from __future__ import annotations

import re
from urllib.parse import quote

ZERO_WIDTH_SPACE = "&#8203;"
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_HTML.update({c: f"&#{ord(c)};" for c in "[]`*_~|\\"})
# One pass, so the `#` of a reference made here is never read as an issue reference.
_UNSAFE = re.compile(
    "[" + re.escape("".join(_HTML)) + "]"
    r"|@|#(?=\d)"  # a mention, an issue reference
    r"|(?<=[A-Za-z])-(?=\d)"  # GH-123 and custom autolink prefixes (JIRA-123)
    r"|\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}\b"  # a commit SHA
    r"|(?<=[A-Za-z])(?=://)"  # a URL's scheme
    r"|\b(?i:www)(?=\.)"  # a www. autolink
)
_WHITESPACE = re.compile(r"\s+")
_LINKABLE_URL = re.compile(r"https?://[^\s()<>\[\]\"'`]+")


def escape_text(text: str) -> str:
    """One line of untrusted text, inert in Markdown/HTML: no tags, links, mentions or references."""
    flat = _WHITESPACE.sub(" ", text).strip()
    return _UNSAFE.sub(_neutralise, flat)


def _neutralise(match: re.Match[str]) -> str:
    text = match.group(0)
    if text in _HTML:
        return _HTML[text]
    if len(text) >= 7:  # a SHA: broken after its first digit
        return text[0] + ZERO_WIDTH_SPACE + text[1:]
    return text + ZERO_WIDTH_SPACE  # `@`, `#`, `-`, `www`, or the empty match before `://`


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
