"""reconcile: find the task's comment by its marker, all pages, only the token's own user."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from consumers.github.render import marker
from consumers.runtime.channel import Prepared
from consumers.runtime.outcomes import Delivered, Retry

from .conftest import BOT_LOGIN, GitHubEnv, make_event

REPO, PR = "acme/widgets", 42


def prepared_for(env: GitHubEnv, task_id: str, event_type: str = "pr_created") -> Prepared:
    prepared = env.channel.prepare(make_event(task_id, event_type))
    assert isinstance(prepared, Prepared)
    return prepared


def test_paginated_reconcile_adopts_our_comment_and_ignores_other_users_markers(
    github_env: GitHubEnv,
) -> None:
    task_id = github_env.put_task()
    gh = github_env.github
    for n in range(120):
        gh.add_comment(REPO, PR, f"review comment {n}", f"user{n % 7}", user_type="User")
    planted = gh.add_comment(REPO, PR, marker(task_id) + "\nplanted", "mallory", user_type="User")
    other_task = gh.add_comment(REPO, PR, marker(task_id + "0") + "\nanother task", BOT_LOGIN)
    for n in range(90):
        gh.add_comment(REPO, PR, f"later {n}", "user1", user_type="User")
    ours = gh.add_comment(REPO, PR, marker(task_id) + "\nstale state", BOT_LOGIN)
    prepared = prepared_for(github_env, task_id, "task_completed")

    assert github_env.channel.reconcile(prepared) is None  # found; deliver PATCHes it with the new body
    outcome = github_env.channel.deliver(prepared)

    assert outcome == Delivered(f"updated comment {ours.id}")
    assert github_env.task(task_id)["github_comment_id"] == ours.id
    lists = [c for c in gh.log.calls() if c.api == "GET /repos/{repo}/issues/{n}/comments"]
    assert len(lists) == 3  # 213 comments at 100 per page
    assert parse_qs(urlsplit(lists[0].url).query)["per_page"] == ["100"]
    assert [parse_qs(urlsplit(c.url).query).get("page") for c in lists[1:]] == [["2"], ["3"]]
    assert gh.comment(planted.id).body.endswith("planted")  # never touched
    assert gh.comment(other_task.id).body.endswith("another task")
    assert "✅ **Task completed**" in gh.comment(ours.id).body


def test_reconcile_with_a_stored_id_makes_no_call(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task(github_comment_id=1234)
    assert github_env.channel.reconcile(prepared_for(github_env, task_id)) is None
    assert github_env.github.log.calls() == []


def test_reconcile_finding_nothing_lets_deliver_post(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    prepared = prepared_for(github_env, task_id)
    assert github_env.channel.reconcile(prepared) is None
    assert isinstance(github_env.channel.deliver(prepared), Delivered)
    assert github_env.github.routes() == [
        "GET /user",
        "GET /repos/{repo}/issues/{n}/comments",
        "POST /repos/{repo}/issues/{n}/comments",
    ]


def test_reconcile_keeps_the_oldest_marker_comment_and_deletes_duplicates(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    first = github_env.github.add_comment(REPO, PR, marker(task_id) + "\none", BOT_LOGIN)
    github_env.github.add_comment(REPO, PR, marker(task_id) + "\ntwo", BOT_LOGIN)
    prepared = prepared_for(github_env, task_id)

    assert github_env.channel.reconcile(prepared) is None

    assert [c.id for c in github_env.github.comments(repo=REPO, issue=PR)] == [first.id]
    assert github_env.task(task_id)["github_comment_id"] == first.id


def test_the_login_is_read_once_per_token(github_env: GitHubEnv) -> None:
    for _ in range(2):
        task_id = github_env.put_task()
        github_env.channel.reconcile(prepared_for(github_env, task_id))
    assert github_env.github.routes().count("GET /user") == 1


def test_an_app_token_that_cannot_read_user_only_trusts_bot_comments(github_env: GitHubEnv) -> None:
    github_env.github.user_forbidden = True
    task_id = github_env.put_task()
    github_env.github.add_comment(REPO, PR, marker(task_id), "mallory", user_type="User")
    ours = github_env.github.add_comment(REPO, PR, marker(task_id), "fanout-app[bot]", user_type="Bot")
    prepared = prepared_for(github_env, task_id)

    assert github_env.channel.reconcile(prepared) is None
    assert github_env.task(task_id)["github_comment_id"] == ours.id


def test_a_rate_limited_listing_is_a_retry_for_the_token(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    prepared = prepared_for(github_env, task_id)
    github_env.github.fail("GET /repos/{repo}/issues/{n}/comments", status=429, headers={"retry-after": "20"})

    outcome = github_env.channel.reconcile(prepared)

    assert outcome == Retry(20.0, "rate_limited_429", rate_limit_key=prepared.rate_limit_key)


def test_a_failed_listing_is_a_retry(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    prepared = prepared_for(github_env, task_id)
    github_env.github.fail("GET /repos/{repo}/issues/{n}/comments", status=500)
    assert github_env.channel.reconcile(prepared) == Retry(None, "http_500", server_fault=True)


def test_a_next_link_to_another_host_is_not_followed(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    for n in range(101):
        github_env.github.add_comment(REPO, PR, f"c{n}", "user1", user_type="User")
    github_env.github.base_url = "https://evil.example"  # the fake now links page 2 elsewhere
    prepared = prepared_for(github_env, task_id)

    assert github_env.channel.reconcile(prepared) is None

    assert all(urlsplit(c.url).netloc == "api.github.test" for c in github_env.github.log.calls())
    assert "fanout.github.foreign_page_link" in github_env.log_events()
