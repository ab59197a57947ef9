"""Calls to GitHub: pacing of writes per token, the low-budget warning, no token in any log line."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from consumers.runtime.outcomes import Delivered

from .conftest import MAIN_TOKEN, GitHubEnv, make_event


def test_writes_of_one_token_are_at_least_a_second_apart(github_env: GitHubEnv) -> None:
    tasks = [github_env.put_task(pr_number=n) for n in (1, 2, 3)]
    for task_id in tasks:
        assert isinstance(github_env.run(make_event(task_id)), Delivered)
    assert isinstance(github_env.run(make_event(tasks[0], "task_completed")), Delivered)

    writes = [c.t for c in github_env.github.log.calls() if c.http_method in {"POST", "PATCH", "DELETE"}]
    assert len(writes) == 4
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(writes))
    assert github_env.clock.sleeps == [1.0, 1.0, 1.0]  # each paced wait is at most a second


def test_reads_are_not_paced(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    github_env.run(make_event(task_id))
    github_env.channel.reconcile(github_env.channel.prepare(make_event(github_env.put_task())))  # type: ignore[arg-type]
    assert github_env.clock.sleeps == []


def test_a_low_budget_logs_a_warning_with_the_reset_time_once_per_window(github_env: GitHubEnv) -> None:
    reset = 1_800_000_900
    github_env.github.extra_headers = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "420",
        "x-ratelimit-reset": str(reset),
    }
    for _ in range(2):
        github_env.run(make_event(github_env.put_task()))

    warnings = [line for line in github_env.logs() if line.get("event") == "fanout.github.rate_limit_low"]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "WARNING"
    assert (warnings[0]["remaining"], warnings[0]["limit"]) == (420, 5000)
    assert warnings[0]["reset_at"] == datetime.fromtimestamp(reset, UTC).isoformat()


def test_a_healthy_budget_logs_nothing(github_env: GitHubEnv) -> None:
    github_env.github.extra_headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4990"}
    github_env.run(make_event(github_env.put_task()))
    assert "fanout.github.rate_limit_low" not in github_env.log_events()


def test_no_log_line_carries_the_token(github_env: GitHubEnv) -> None:
    github_env.github.extra_headers = {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "1"}
    task_id = github_env.put_task()
    github_env.dynamodb.fail_next("update_item")
    github_env.run(make_event(task_id))
    github_env.run(make_event(task_id), reconcile=True)
    assert github_env.logs()  # something was logged
    assert MAIN_TOKEN not in github_env.log.getvalue()


def test_requests_carry_githubs_headers(github_env: GitHubEnv) -> None:
    github_env.run(make_event(github_env.put_task()))
    [call] = github_env.github.log.calls()
    assert call.headers["accept"] == "application/vnd.github+json"
    assert call.headers["x-github-api-version"] == "2022-11-28"
    assert call.headers["authorization"] == f"Bearer {MAIN_TOKEN}"


def test_a_reset_header_no_date_can_hold_does_not_fail_an_applied_write(github_env: GitHubEnv) -> None:
    github_env.github.extra_headers.update(
        {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "3", "x-ratelimit-reset": "1e12"}
    )
    task_id = github_env.put_task()
    assert isinstance(github_env.run(make_event(task_id)), Delivered)
    assert len(github_env.github.comments(repo="acme/widgets", issue=42)) == 1
    (warning,) = [line for line in github_env.logs() if line.get("event") == "fanout.github.rate_limit_low"]
    assert warning.get("reset_at") is None
