"""Untrusted text (repo, description, error, metadata) made safe for an email.

Three destinations, three rules: a header (the subject) gets one line, with every control character
and line separator gone, so nothing can add a header; the HTML part gets `html.escape` (no tag, no
attribute, no entity of the user's making); both parts get URLs defanged (`https[:]//...`), since mail
clients turn a bare URL into a link and the only link an email of ours carries is the checked PR link.
Text is cut before it is escaped, so a cut never splits an entity.
"""

from __future__ import annotations

import html
import re
import unicodedata

ELLIPSIS = "…"
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):(//)")
_WHITESPACE = re.compile(r"\s+")


def one_line(text: str) -> str:
    """Control and format characters (CR, LF, NEL, U+2028/2029, bidi overrides, ...) become spaces,
    then runs of whitespace one space."""
    cleaned = "".join(" " if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} else c for c in text)
    return _WHITESPACE.sub(" ", cleaned).strip()


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def defang(text: str) -> str:
    """`https://evil.example` -> `https[:]//evil.example`: still readable, never a link."""
    return _SCHEME.sub(r"\1[:]\2", text)


def plain(text: str, limit: int) -> str:
    """Untrusted text for the plain-text part (and, being one line, for a header)."""
    return defang(truncate(one_line(text), limit))


def html_text(text: str, limit: int) -> str:
    """Untrusted text for the HTML part."""
    return html.escape(plain(text, limit), quote=True)
