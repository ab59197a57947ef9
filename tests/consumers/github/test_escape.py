"""Untrusted text cannot close the marker, open a tag, mention anyone or reference an issue."""

from __future__ import annotations

import re

import pytest

from consumers.github.escape import escape_text, marker_id, safe_url, truncate


@pytest.mark.parametrize(
    "text",
    [
        "--> <img src=x onerror=alert(1)>",
        "<script>alert('x')</script>",
        "<!-- fanout:task_id=other -->",
        "</details><details open>",
    ],
)
def test_no_tag_or_comment_delimiter_survives(text: str) -> None:
    escaped = escape_text(text)
    assert "<" not in escaped
    assert ">" not in escaped
    assert "-->" not in escaped
    assert "&lt;" in escaped or "&gt;" in escaped


@pytest.mark.parametrize("text", ["ping @org/team now", "@octocat", "cc @someone-else please", "a@b"])
def test_no_mention_survives(text: str) -> None:
    escaped = escape_text(text)
    # A mention is @ directly followed by a name character; every @ is now followed by a zero-width space.
    assert re.search(r"@[A-Za-z0-9]", escaped) is None
    assert escaped.count("@&#8203;") == text.count("@")


def test_issue_references_are_broken_but_plain_hashes_stay() -> None:
    assert escape_text("see #12 and org/repo#7") == "see #&#8203;12 and org/repo#&#8203;7"
    assert escape_text("C# is # fine") == "C# is # fine"


def test_ampersands_are_escaped_first_so_entities_cannot_be_smuggled() -> None:
    assert escape_text("&lt;script&gt;") == "&amp;lt;script&amp;gt;"


def test_text_is_flattened_to_one_line() -> None:
    assert escape_text("line one\n\n# heading\r\n> quote") == "line one # heading &gt; quote"


def test_truncate_marks_the_cut() -> None:
    assert truncate("abcdef", 10) == "abcdef"
    cut = truncate("x" * 400, 300)
    assert len(cut) == 300
    assert cut.endswith("…")


@pytest.mark.parametrize("task_id", ["task-1", "01JABCDEF", "a-->b", "x <!-- y", "id with spaces\n"])
def test_marker_id_is_inert_and_one_to_one(task_id: str) -> None:
    encoded = marker_id(task_id)
    assert re.fullmatch(r"[A-Za-z0-9_.~%-]+", encoded)
    assert ">" not in encoded
    assert "<" not in encoded
    assert marker_id(task_id + "x") != encoded


def test_plain_ids_stay_readable() -> None:
    assert marker_id("01JD8Z-task_1.2") == "01JD8Z-task_1.2"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://github.com/acme/widgets/pull/42", True),
        ("http://ghe.local/a/b/pull/1", True),
        ("javascript:alert(1)", False),
        ("https://evil.example/x) [click](https://phish", False),
        ("https://a/b c", False),
        (None, False),
        (42, False),
    ],
)
def test_safe_url(url: object, ok: bool) -> None:
    assert safe_url(url) == (url if ok else None)


@pytest.mark.parametrize(
    "text",
    [
        "Auth expired. [Re-authenticate here](https://phish.example/login)",
        "![](https://tracker.example/p.png)",
        "[click][1]\n\n[1]: https://phish.example",
    ],
)
def test_untrusted_text_cannot_make_a_link_or_an_image(text: str) -> None:
    escaped = escape_text(text)
    assert "[" not in escaped
    assert "]" not in escaped


def test_markdown_punctuation_becomes_references_that_show_the_character() -> None:
    assert escape_text("a_b *c* `d` ~e~ | \\ #7") == (
        "a&#95;b &#42;c&#42; &#96;d&#96; &#126;e&#126; &#124; &#92; #&#8203;7"
    )


@pytest.mark.parametrize(
    ("text", "broken"),
    [
        ("see GH-123", "GH-&#8203;123"),
        ("JIRA-42 too", "JIRA-&#8203;42"),
        ("acme/widgets#5", "acme/widgets#&#8203;5"),
        ("https://github.com/acme/widgets/issues/7", "https&#8203;://github.com/acme/widgets/issues/7"),
        ("http://github.com/acme/widgets/pull/8", "http&#8203;://github.com"),
        ("www.github.com/acme/widgets/pull/9", "www&#8203;.github.com"),
        (
            "commit a5c3785ed8d6a35868bc169f07e40e889087fd2e",
            "a&#8203;5c3785ed8d6a35868bc169f07e40e889087fd2e",
        ),
        ("short sha 1a2b3c4", "1&#8203;a2b3c4"),
        ("octocat@a5c3785", "octocat@&#8203;a"),
        ("mail me@example.com", "me@&#8203;example.com"),
    ],
)
def test_every_github_autolink_form_is_broken(text: str, broken: str) -> None:
    escaped = escape_text(text)
    assert broken in escaped
    assert escaped.replace("&#8203;", "") == text  # only invisible characters were added
