"""Untrusted text made safe for Slack mrkdwn, and bounded in length.

Slack reads `<...>` as a link or a mention (`<!channel>`, `<!here>`, `<@U123>`) and `&` as the start of
an entity; Slack's own rule is to escape exactly these three characters, so nothing a user typed can ping
anyone or forge a link. mrkdwn has no escape for its formatting characters, so `*`, `_`, `~` and the
backtick become look-alike characters (a failure reason can then neither bold a line nor close the code
span around a repo name), and line breaks become spaces (a multi-line error cannot imitate the bot's own
lines). Text is cut before it is escaped, so a cut never splits an entity.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"
# Look-alikes Slack does not format: asterisk operator, modifier low macron, tilde operator, modifier grave.
_FORMATTING = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})
_LINE_BREAKS = re.compile(r"\s+")


def escape(text: str) -> str:
    flat = _LINE_BREAKS.sub(" ", text)
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").translate(_FORMATTING)


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters; a cut text ends with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def safe(text: str, limit: int | None = None) -> str:
    """Cut (when a limit is given), then escape."""
    return escape(truncate(text, limit) if limit is not None else text.strip())


def bounded(mrkdwn: str, limit: int) -> str:
    """Already escaped text within a Block Kit limit, cut where no entity (`&...;`) is split."""
    if len(mrkdwn) <= limit:
        return mrkdwn
    cut = mrkdwn[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + ELLIPSIS
