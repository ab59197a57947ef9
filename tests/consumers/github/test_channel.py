"""prepare: task read, gates with clear skip reasons, target and token resolution."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from consumers.github.channel import TARGET, build_github_channel
from consumers.runtime.channel import Prepared
from consumers.runtime.outcomes import Retry, Skipped, Terminal

from .conftest import MAIN_TOKEN, GitHubEnv, make_event


def test_prepare_resolves_target_token_and_a_fingerprinted_rate_limit_key(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task(pr_number=42, issue_number=7)
    prepared = github_env.channel.prepare(make_event(task_id))
    assert isinstance(prepared, Prepared)
    target = prepared.extras[TARGET]
    assert (target.repo, target.number, target.comment_id) == ("acme/widgets", 42, None)
    fingerprint = hashlib.sha256(MAIN_TOKEN.encode()).hexdigest()[:16]
    assert prepared.rate_limit_key == f"github:{fingerprint}"
    assert MAIN_TOKEN not in repr(prepared)  # the token never shows in a repr (nor in a log line)


def test_issue_number_is_the_target_without_a_pr(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task(pr_number=None, pr_url=None, issue_number=7)
    prepared = github_env.channel.prepare(make_event(task_id, "task_completed"))
    assert isinstance(prepared, Prepared)
    assert prepared.extras[TARGET].number == 7


@pytest.mark.parametrize(
    ("fields", "event_type", "reason"),
    [
        ({"repo": None}, "pr_created", "no_repo"),
        ({"repo": "  "}, "pr_created", "no_repo"),
        ({"pr_number": None, "issue_number": None}, "task_completed", "no_target"),
        ({"pr_number": 0}, "task_completed", "no_target"),
        ({"notifications": {"github": {"enabled": False}}}, "task_completed", "channel_muted"),
        ({"notifications": {"github": {"events": []}}}, "task_completed", "channel_muted"),
        ({"notifications": {"github": {"events": ["task_failed"]}}}, "task_completed", "not_subscribed"),
        ({}, "task_created", "not_subscribed"),
        ({}, "agent_error", "not_subscribed"),
    ],
)
def test_gates_are_counted_skips_with_reasons(
    github_env: GitHubEnv, fields: dict[str, Any], event_type: str, reason: str
) -> None:
    task_id = github_env.put_task(**fields)
    assert github_env.run(make_event(task_id, event_type)) == Skipped(reason)
    assert github_env.github.log.calls() == []


def test_a_missing_task_is_skipped(github_env: GitHubEnv) -> None:
    assert github_env.run(make_event("no-such-task")) == Skipped("task_not_found")


def test_an_override_warning_is_logged(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task(notifications={"github": {"events": []}})
    github_env.run(make_event(task_id))
    assert "fanout.github.override_warning" in github_env.log_events()


def test_a_repo_that_is_not_owner_slash_name_is_terminal(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task(repo="acme/../../user")
    outcome = github_env.run(make_event(task_id))
    assert isinstance(outcome, Terminal)
    assert outcome.reason == "invalid_repo"
    assert github_env.github.log.calls() == []


def test_a_throttled_task_read_is_a_retry(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    github_env.dynamodb.fail_next("get_item")
    outcome = github_env.channel.prepare(make_event(task_id))
    assert isinstance(outcome, Retry)
    assert outcome.reason == "task_read_failed:ThrottlingException"


def test_a_task_read_that_can_never_succeed_is_terminal_at_once(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    too_long = ClientError({"Error": {"Code": "ValidationException", "Message": "key too long"}}, "GetItem")
    github_env.dynamodb.fail_next("get_item", error=too_long)
    outcome = github_env.channel.prepare(make_event(task_id))
    assert outcome == Terminal("task_read_failed", "ValidationException: key too long")
    assert github_env.github.log.calls() == []


def test_the_tasks_own_secret_wins_over_the_default(github_env: GitHubEnv) -> None:
    github_env.github.register_token("ghp_repotoken", "repo-bot")
    arn = github_env.secret("ghp_repotoken")  # a plain-string secret
    task_id = github_env.put_task(github_token_secret_arn=arn)
    github_env.run(make_event(task_id))
    assert {call.scope for call in github_env.github.log.calls()} == {"ghp_repotoken"}
    assert github_env.github.comments(repo="acme/widgets", issue=42)[0].login == "repo-bot"


@pytest.mark.parametrize(
    "secret", ["", "   ", json.dumps({"bot_token": "x"}), json.dumps({"token": ""}), "{broken"]
)
def test_a_secret_without_a_token_is_terminal_no_token(github_env: GitHubEnv, secret: str) -> None:
    arn = github_env.secret(secret or " ")
    task_id = github_env.put_task(github_token_secret_arn=arn)
    outcome = github_env.run(make_event(task_id))
    assert isinstance(outcome, Terminal)
    assert outcome.reason == "no_token"
    assert github_env.github.log.calls() == []


def test_a_missing_secret_is_terminal_no_token(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task(github_token_secret_arn="gh-does-not-exist")
    outcome = github_env.run(make_event(task_id))
    assert isinstance(outcome, Terminal)
    assert outcome.reason == "no_token"
    assert "ResourceNotFoundException" in outcome.detail


def test_no_task_secret_and_no_default_is_terminal_no_token(github_env: GitHubEnv) -> None:
    from dataclasses import replace

    channel = build_github_channel(
        replace(github_env.settings, github_token_secret=None), github_env.clients, github_env.clock
    )
    task_id = github_env.put_task()
    outcome = channel.prepare(make_event(task_id))
    assert isinstance(outcome, Terminal)
    assert outcome.reason == "no_token"
    assert github_env.github.log.calls() == []


def test_the_token_is_read_once_per_container(github_env: GitHubEnv) -> None:
    first, second = github_env.put_task(), github_env.put_task()
    github_env.run(make_event(first))
    github_env.secrets.put_secret_value(SecretId=github_env.default_secret, SecretString="ghp_rotated")
    github_env.run(make_event(second))
    assert {call.scope for call in github_env.github.log.calls()} == {MAIN_TOKEN}  # cached: no second read


def test_build_github_channel_has_the_registry_name(github_env: GitHubEnv) -> None:
    channel = build_github_channel(github_env.settings, github_env.clients, github_env.clock)
    assert channel.name == "github"


@pytest.mark.parametrize("status", ["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"])
def test_an_old_pr_created_redriven_after_the_task_ended_leaves_the_comment_alone(
    github_env: GitHubEnv, status: str
) -> None:
    task_id = github_env.put_task(status=status, github_comment_id=9001)
    assert github_env.run(make_event(task_id, "pr_created")) == Skipped("superseded")
    assert github_env.github.log.calls() == []


def test_a_terminal_event_still_edits_the_comment_of_an_ended_task(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task(status="COMPLETED")
    first = github_env.run(make_event(task_id, "pr_created"))  # no comment yet: it posts
    assert not isinstance(first, Skipped)
    outcome = github_env.run(make_event(task_id, "task_completed"))
    assert not isinstance(outcome, Skipped)
    methods = [call.http_method for call in github_env.github.log.calls()]
    assert methods.count("POST") == 1
    assert "PATCH" in methods


def test_a_running_task_with_a_comment_is_not_superseded(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task(status="RUNNING", github_comment_id=9001)
    assert github_env.run(make_event(task_id, "pr_created")) != Skipped("superseded")


def test_a_stranded_after_the_task_failed_keeps_the_failure_on_the_comment(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task(status="FAILED", github_comment_id=9001)
    assert github_env.run(make_event(task_id, "task_stranded")) == Skipped("superseded")
    assert github_env.github.log.calls() == []


@pytest.mark.parametrize(
    ("status", "event_type"),
    [("COMPLETED", "task_completed"), ("FAILED", "task_failed"), ("RUNNING", "task_stranded")],
)
def test_the_event_that_says_how_the_task_ended_is_not_superseded(
    github_env: GitHubEnv, status: str, event_type: str
) -> None:
    task_id = github_env.put_task(status=status, github_comment_id=9001)
    assert github_env.run(make_event(task_id, event_type)) != Skipped("superseded")


def test_a_spoofed_pr_link_is_dropped_in_prepare_and_logged(github_env: GitHubEnv) -> None:
    spoof = "https://github.com.evil.example/acme/widgets/pull/42"
    task_id = github_env.put_task(pr_url=spoof)
    prepared = github_env.channel.prepare(make_event(task_id))
    assert isinstance(prepared, Prepared)
    assert "pr_url" not in prepared.task
    assert "fanout.github.untrusted_link" in github_env.log_events()
    trusted = github_env.channel.prepare(make_event(github_env.put_task()))
    assert isinstance(trusted, Prepared)
    assert trusted.task["pr_url"] == "https://github.com/acme/widgets/pull/42"
