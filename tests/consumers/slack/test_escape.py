from __future__ import annotations

import pytest

from consumers.slack.escape import ELLIPSIS, escape, safe, truncate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<!channel> deploy", "&lt;!channel&gt; deploy"),
        ("<!here>", "&lt;!here&gt;"),
        ("ping <@U123>", "ping &lt;@U123&gt;"),
        ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
        ("a & b", "a &amp; b"),
        ("already &amp;", "already &amp;amp;"),
        (
            "plain *bold* _it_ ~gone~ `code`",
            "plain \u2217bold\u2217 \u02cdit\u02cd \u223cgone\u223c \u02cbcode\u02cb",
        ),
        (
            "line one\n*:white_check_mark: Task completed*",
            "line one \u2217:white\u02cdcheck\u02cdmark: Task completed\u2217",
        ),
    ],
)
def test_escape_neutralises_mentions_links_and_entities(text: str, expected: str) -> None:
    assert escape(text) == expected


def test_truncate_keeps_short_text_and_cuts_long_text_to_the_limit() -> None:
    assert truncate("short", 10) == "short"
    cut = truncate("x" * 500, 200)
    assert len(cut) == 200
    assert cut.endswith(ELLIPSIS)


def test_safe_cuts_before_escaping_so_no_entity_is_split() -> None:
    text = "a" * 198 + "<>" + "b" * 10
    result = safe(text, 200)
    assert result.endswith(ELLIPSIS)
    assert "&lt;" in result  # the cut fell after '<', which was then escaped whole
    assert not result.rstrip(ELLIPSIS).endswith("&")
