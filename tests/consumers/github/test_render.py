"""The status comment body: marker plus the latest state, for every type the channel is subscribed to."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.github.render import RENDERERS, UNKNOWN_ERROR, marker, render_body
from fanout import registry
from fanout.events import TaskEvent

PR_URL = "https://github.com/acme/widgets/pull/42"


def event(event_type: str, task_id: str = "task-1", **metadata: Any) -> TaskEvent:
    return TaskEvent(task_id, "01JEVT", event_type, "2026-11-26T10:00:00Z", metadata=metadata)


def task(**fields: Any) -> dict[str, Any]:
    return {"task_id": "task-1", "repo": "acme/widgets", **fields}


def test_every_subscribable_type_has_a_renderer() -> None:
    assert set(registry.GITHUB.default_subscriptions) <= set(RENDERERS)
    assert set(registry.GITHUB.renderable) == set(RENDERERS)


@pytest.mark.parametrize("event_type", sorted(RENDERERS))
def test_every_body_starts_with_the_marker_and_never_says_none(event_type: str) -> None:
    body = render_body(event(event_type), task())
    assert body.startswith("<!-- fanout:task_id=task-1 -->\n")
    assert "None" not in body
    assert "undefined" not in body
    assert "null" not in body


def test_pr_created_links_the_pr() -> None:
    body = render_body(event("pr_created"), task(pr_number=42, pr_url=PR_URL))
    assert f"**Pull request opened**: [#42]({PR_URL})" in body


def test_pr_created_takes_the_number_from_the_event_and_only_the_vetted_link_of_the_task() -> None:
    # prepare folds a trusted event link into the task (pr_links.vet_pr_link); render reads the task only
    body = render_body(event("pr_created", pr_number="7", pr_url="https://github.com/a/b/pull/7"), task())
    assert "**Pull request opened**: #7." in body
    linked = render_body(event("pr_created", pr_number="7"), task(pr_url="https://github.com/a/b/pull/7"))
    assert "[#7](https://github.com/a/b/pull/7)" in linked


def test_completed_shows_pr_duration_and_cost() -> None:
    body = render_body(
        event("task_completed"), task(pr_number=42, pr_url=PR_URL, duration_s=252, cost_usd=1.372)
    )
    assert "✅ **Task completed**" in body
    assert f"[View PR #42]({PR_URL}) · 4m 12s · $1.37" in body


def test_completed_without_details_is_just_the_headline() -> None:
    body = render_body(event("task_completed"), task())
    assert "✅ **Task completed**\n\n<sub>" in body


@pytest.mark.parametrize(
    ("fields", "metadata", "reason"),
    [
        ({"error_message": "tests failed"}, {"error": "ignored"}, "tests failed"),
        ({}, {"error": "clone failed"}, "clone failed"),
        ({"error_message": "  "}, {}, UNKNOWN_ERROR),
        ({}, {}, UNKNOWN_ERROR),
    ],
)
def test_failed_reason_precedence(fields: dict[str, Any], metadata: dict[str, Any], reason: str) -> None:
    body = render_body(event("task_failed", **metadata), task(**fields))
    assert f"❌ **Task failed**: {reason}" in body


def test_failed_reason_is_escaped_and_truncated() -> None:
    hostile = "--> <script>alert(1)</script> @org/team " + "x" * 500
    body = render_body(event("task_failed"), task(error_message=hostile))
    assert body.count("-->") == 1  # only the marker's own end
    assert "<script>" not in body
    assert "&lt;script&gt;" in body
    assert "@org" not in body
    assert "@&#8203;org/team" in body
    reason_line = next(line for line in body.splitlines() if "Task failed" in line)
    assert len(reason_line) < 400
    assert reason_line.endswith("…")


def test_other_terminals() -> None:
    assert "🚫 **Task cancelled**" in render_body(event("task_cancelled"), task())
    assert "⏲ **Task timed out** after 1h 5m" in render_body(event("task_timed_out"), task(duration_s=3900))
    assert "⏲ **Task timed out**\n" in render_body(event("task_timed_out"), task())
    stranded = render_body(event("task_stranded", prior_status="RUNNING"), task())
    assert "⚠️ **Task stranded** (last status: RUNNING)" in stranded
    assert "(last status" not in render_body(event("task_stranded"), task())


def test_a_hostile_task_id_cannot_close_the_marker() -> None:
    body = render_body(event("task_cancelled", task_id="x --> <b>@team</b>"), task())
    first_line = body.splitlines()[0]
    assert first_line == marker("x --> <b>@team</b>")
    assert first_line.count("-->") == 1
    assert first_line.endswith(" -->")
    assert "<b>" not in body
    assert "@team" not in body


def test_an_unsafe_pr_url_is_not_linked() -> None:
    body = render_body(event("pr_created"), task(pr_number=3, pr_url="javascript:alert(1)"))
    assert "javascript" not in body
    assert "**Pull request opened**: #3" in body
