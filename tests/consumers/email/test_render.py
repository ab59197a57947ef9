"""The email for each outcome, and what untrusted text can and cannot do to it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from consumers.email.render import RENDERERS, render
from fanout import registry

from .conftest import make_event

HOST = "github.com"


def task(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"task_id": "t-1", "repo": "acme/widgets", "status": "COMPLETED"}
    base.update(fields)
    return base


def test_completed_carries_outcome_repo_duration_cost_and_the_pr_link() -> None:
    t = task(duration_s=252, cost_usd=1.3712, pr_number=42, pr_url="https://github.com/acme/widgets/pull/42")
    email = render(make_event("t-1", "task_completed"), t, github_host=HOST)
    assert email.subject == "Task completed: acme/widgets"
    assert email.text.splitlines()[:4] == [
        "Task completed.",
        "",
        "4m 12s · $1.37",
        "Repository: acme/widgets",
    ]
    assert "Pull request #42: https://github.com/acme/widgets/pull/42" in email.text
    assert '<a href="https://github.com/acme/widgets/pull/42">View pull request #42</a>' in email.html


def test_failed_reason_is_the_error_message_else_the_event_else_unknown() -> None:
    event = make_event("t-1", "task_failed", error="from the event")
    assert (
        "Reason: from the record"
        in render(event, task(error_message="from the record"), github_host=HOST).text
    )
    assert "Reason: from the event" in render(event, task(), github_host=HOST).text
    assert "Reason: Unknown error" in render(make_event("t-1", "task_failed"), task(), github_host=HOST).text


def test_the_failure_reason_is_cut_to_300_characters() -> None:
    email = render(make_event("t-1", "task_failed"), task(error_message="x" * 1000), github_host=HOST)
    [line] = [line for line in email.text.splitlines() if line.startswith("Reason: ")]
    assert len(line.removeprefix("Reason: ")) == 300
    assert line.endswith("…")


@pytest.mark.parametrize(
    ("event_type", "subject"),
    [
        ("task_cancelled", "Task cancelled: acme/widgets"),
        ("task_timed_out", "Task timed out: acme/widgets"),
        ("task_stranded", "Task stranded: acme/widgets"),
    ],
)
def test_every_terminal_type_has_a_subject(event_type: str, subject: str) -> None:
    assert (
        render(
            make_event("t-1", event_type, prior_status="RUNNING"), task(duration_s=61), github_host=HOST
        ).subject
        == subject
    )


def test_a_repo_less_task_has_a_plain_subject_and_no_none_anywhere() -> None:
    sparse = {"task_id": "t-1"}
    for event_type in RENDERERS:
        email = render(make_event("t-1", event_type), sparse, github_host=HOST)
        assert ":" not in email.subject
        assert "None" not in email.text
        assert "None" not in email.html
        assert "undefined" not in email.text


def test_script_in_a_description_is_inert_in_the_html_part() -> None:
    description = (
        '<script>alert("x")</script><img src=x onerror=alert(1)> & <a href="https://evil.example">win</a>'
    )
    email = render(make_event("t-1", "task_completed"), task(task_description=description), github_host=HOST)
    assert "<script" not in email.html
    assert "<img" not in email.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in email.html
    assert "&amp;" in email.html
    assert re.findall(r"<a ", email.html) == []  # no link of the user's making (no PR link on this task)
    assert "https[:]//evil.example" in email.text
    assert "https://evil.example" not in email.text
    assert "https://evil.example" not in email.html


@pytest.mark.parametrize("field", ["repo", "task_description", "error_message"])
@pytest.mark.parametrize("breaker", ["\r\n", "\n", "\r", "\u2028", "\x85", "\x00", "\u202e"])
def test_no_line_break_or_control_character_reaches_the_subject_or_a_line(field: str, breaker: str) -> None:
    value = f"acme/widgets{breaker}Bcc: attacker@evil.example{breaker}"
    email = render(make_event("t-1", "task_failed"), task(**{field: value}), github_host=HOST)
    assert not any(ord(c) < 0x20 or c in "\u2028\x85\u202e" for c in email.subject)
    for line in email.text.splitlines():
        assert not line.startswith("Bcc:")
    assert "\r" not in email.text


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com.evil.example/acme/widgets/pull/42",
        "https://evil.example/acme/widgets/pull/42",
        "https://github.com@evil.example/acme/widgets/pull/42",
        "http://github.com/acme/widgets/pull/42",
        "https://github.com/other/repo/pull/42",
        "https://github.com/acme/widgets/pull/42?next=https://evil.example",
        "https://github.com:8443/acme/widgets/pull/42",
        "javascript:alert(1)",
        'https://github.com/acme/widgets/pull/42" onmouseover="alert(1)',
    ],
)
def test_a_pr_link_elsewhere_than_the_github_host_and_repo_is_not_linked(url: str) -> None:
    email = render(make_event("t-1", "task_completed"), task(pr_number=42, pr_url=url), github_host=HOST)
    assert "<a " not in email.html
    assert "Pull request #42" in email.text
    assert url not in email.text


def test_the_configured_github_host_is_the_one_linked() -> None:
    url = "https://github.acme.internal/acme/widgets/pull/7"
    email = render(make_event("t-1", "task_completed"), task(pr_url=url), github_host="github.acme.internal")
    assert f'<a href="{url}">View pull request #7</a>' in email.html
    assert "<a " not in render(make_event("t-1", "task_completed"), task(pr_url=url), github_host=HOST).html


def test_the_channel_renders_every_type_it_can_be_subscribed_to() -> None:
    assert set(RENDERERS) == registry.EMAIL.renderable
    assert registry.EMAIL.default_subscriptions == {"task_completed", "task_failed"}
