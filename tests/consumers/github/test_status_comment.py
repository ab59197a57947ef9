"""deliver: one status comment per task, posted once and edited in place, under every error class."""

from __future__ import annotations

import pytest

from consumers.github.render import marker
from consumers.runtime.channel import Prepared
from consumers.runtime.outcomes import Delivered, Retry, Terminal

from .conftest import GitHubEnv, make_event

REPO, PR = "acme/widgets", 42
SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


def test_post_then_patch_the_same_comment_across_the_lifecycle(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task(duration_s=252, cost_usd=1.37)

    first = github_env.run(make_event(task_id, "pr_created"))
    second = github_env.run(make_event(task_id, "task_completed"))

    [comment] = github_env.github.comments(repo=REPO, issue=PR)
    assert first == Delivered(f"posted comment {comment.id}")
    assert second == Delivered(f"updated comment {comment.id}")
    assert github_env.github.routes() == [
        "POST /repos/{repo}/issues/{n}/comments",
        "PATCH /repos/{repo}/issues/comments/{id}",
    ]
    assert github_env.task(task_id)["github_comment_id"] == comment.id
    assert comment.body.startswith(marker(task_id))
    assert "✅ **Task completed**" in comment.body
    assert "4m 12s · $1.37" in comment.body
    assert "Pull request opened" not in comment.body


def test_a_deleted_comment_is_posted_again_and_its_new_id_stored(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    github_env.run(make_event(task_id, "pr_created"))
    [old] = github_env.github.comments(repo=REPO, issue=PR)
    github_env.github.delete_comment(old.id)  # a maintainer deleted it

    outcome = github_env.run(make_event(task_id, "task_failed"))

    [new] = github_env.github.comments(repo=REPO, issue=PR)
    assert outcome == Delivered(f"posted comment {new.id}")
    assert new.id != old.id
    assert github_env.github.routes()[1:] == [
        "PATCH /repos/{repo}/issues/comments/{id}",
        "GET /user",
        "GET /repos/{repo}/issues/{n}/comments",
        "POST /repos/{repo}/issues/{n}/comments",
    ]
    assert github_env.task(task_id)["github_comment_id"] == new.id
    assert "❌ **Task failed**" in new.body


def test_a_404_on_patch_adopts_a_repost_an_earlier_attempt_left_unrecorded(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    github_env.run(make_event(task_id, "pr_created"))
    [old] = github_env.github.comments(repo=REPO, issue=PR)
    github_env.github.delete_comment(old.id)
    event = make_event(task_id, "task_cancelled")
    github_env.dynamodb.fail_next("update_item")  # the re-POST happens, storing its id fails

    first = github_env.run(event)
    assert isinstance(first, Retry)
    assert first.uncertain
    assert first.reason == "persist_failed"
    second = github_env.run(event, reconcile=True)

    [kept] = github_env.github.comments(repo=REPO, issue=PR)
    assert isinstance(second, Delivered)
    assert github_env.task(task_id)["github_comment_id"] == kept.id
    assert "🚫 **Task cancelled**" in kept.body
    assert (
        github_env.github.routes().count("POST /repos/{repo}/issues/{n}/comments") == 2
    )  # the first one and one re-post, no more


def test_a_401_refreshes_the_token_once_and_succeeds(github_env: GitHubEnv) -> None:
    old, new = "ghp_oldtoken", "ghp_newtoken"
    github_env.github.register_token(new, "fanout-bot")
    arn = github_env.secret(old)
    task_id = github_env.put_task(github_token_secret_arn=arn)
    prepared = github_env.channel.prepare(make_event(task_id))
    assert isinstance(prepared, Prepared)
    github_env.secrets.put_secret_value(SecretId=arn, SecretString=new)  # rotated after we cached it

    outcome = github_env.channel.deliver(prepared)

    assert isinstance(outcome, Delivered)
    assert [(c.api, c.scope) for c in github_env.github.log.calls()] == [
        ("POST /repos/{repo}/issues/{n}/comments", old),
        ("POST /repos/{repo}/issues/{n}/comments", new),
    ]
    assert len(github_env.github.comments(repo=REPO, issue=PR)) == 1
    assert "fanout.github.token_refreshed" in github_env.log_events()


def test_a_second_401_is_terminal(github_env: GitHubEnv) -> None:
    arn = github_env.secret("ghp_revoked")
    task_id = github_env.put_task(github_token_secret_arn=arn)

    outcome = github_env.run(make_event(task_id))

    assert isinstance(outcome, Terminal)
    assert outcome.reason == "http_401"
    assert github_env.github.routes() == [
        "POST /repos/{repo}/issues/{n}/comments",
        "POST /repos/{repo}/issues/{n}/comments",
    ]
    assert github_env.github.comments(repo=REPO, issue=PR) == []


@pytest.mark.parametrize(
    ("status", "headers", "message", "wait"),
    [
        (403, {"retry-after": "30"}, SECONDARY, 30.0),
        (429, {"retry-after": "12"}, "", 12.0),
        (403, {}, SECONDARY, 60.0),
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1800000300"},
            "API rate limit exceeded",
            300.0,
        ),
    ],
    ids=["secondary-retry-after", "429-retry-after", "secondary-no-header", "primary-reset"],
)
def test_rate_limits_retry_after_the_right_wait_with_the_token_key(
    github_env: GitHubEnv, status: int, headers: dict[str, str], message: str, wait: float
) -> None:
    assert github_env.clock() == 1_800_000_000.0  # the reset above is 300 s after the injected now
    task_id = github_env.put_task()
    github_env.github.fail(
        "POST /repos/{repo}/issues/{n}/comments", status=status, headers=headers, message=message
    )
    event = make_event(task_id)

    outcome = github_env.run(event)

    assert isinstance(outcome, Retry)
    assert not outcome.uncertain
    assert outcome.after_seconds == wait
    assert outcome.reason == f"rate_limited_{status}"
    prepared = github_env.channel.prepare(event)
    assert isinstance(prepared, Prepared)
    assert outcome.rate_limit_key == prepared.rate_limit_key
    assert github_env.github.comments(repo=REPO, issue=PR) == []
    assert isinstance(github_env.run(event), Delivered)  # after the wait it goes through
    assert len(github_env.github.comments(repo=REPO, issue=PR)) == 1


@pytest.mark.parametrize(
    ("status", "message", "reason"),
    [
        (403, "Resource not accessible by integration", "http_403"),
        (422, "Validation Failed", "http_422"),
        (404, "Not Found", "http_404"),
        (410, "Issues are disabled for this repo", "http_410"),
        (400, "Problems parsing JSON", "http_400"),
    ],
)
def test_client_errors_on_post_are_terminal(
    github_env: GitHubEnv, status: int, message: str, reason: str
) -> None:
    task_id = github_env.put_task()
    github_env.github.fail("POST /repos/{repo}/issues/{n}/comments", status=status, message=message)

    outcome = github_env.run(make_event(task_id))

    assert outcome == Terminal(reason, message)
    assert github_env.github.routes() == ["POST /repos/{repo}/issues/{n}/comments"]


def test_a_permission_403_on_patch_is_terminal(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    github_env.run(make_event(task_id))
    github_env.github.fail(
        "PATCH /repos/{repo}/issues/comments/{id}",
        status=403,
        message="Must have admin rights to Repository.",
    )
    outcome = github_env.run(make_event(task_id, "task_completed"))
    assert isinstance(outcome, Terminal)
    assert outcome.reason == "http_403"


def test_a_5xx_retries_uncertain_on_post_and_plain_on_patch(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    github_env.github.fail("POST /repos/{repo}/issues/{n}/comments", status=502)
    post = github_env.run(make_event(task_id))
    assert post == Retry(None, "http_502", uncertain=True, server_fault=True)

    assert isinstance(github_env.run(make_event(task_id)), Delivered)
    github_env.github.fail("PATCH /repos/{repo}/issues/comments/{id}", status=503)
    patch = github_env.run(make_event(task_id, "task_completed"))
    assert patch == Retry(None, "http_503", uncertain=False, server_fault=True)


@pytest.mark.parametrize(
    "fault",
    [
        {"lost": "timeout", "apply": True},
        {"lost": "dropped", "apply": True},
        {"status": 502, "apply": True},
    ],
    ids=["timeout-after-send", "dropped-connection", "proxy-5xx"],
)
def test_a_post_applied_but_unanswered_is_reconciled_to_exactly_one_comment(
    github_env: GitHubEnv, fault: dict[str, object]
) -> None:
    task_id = github_env.put_task()
    event = make_event(task_id)
    github_env.github.fail("POST /repos/{repo}/issues/{n}/comments", **fault)

    first = github_env.run(event)
    assert isinstance(first, Retry)
    assert first.uncertain
    second = github_env.run(event, reconcile=True)

    [comment] = github_env.github.comments(repo=REPO, issue=PR)
    assert second == Delivered(f"comment {comment.id} already current")
    assert github_env.task(task_id)["github_comment_id"] == comment.id
    assert github_env.github.routes().count("POST /repos/{repo}/issues/{n}/comments") == 1
    third = github_env.run(make_event(task_id, "task_completed"))
    assert third == Delivered(f"updated comment {comment.id}")


def test_a_crash_between_post_and_persist_is_reconciled_to_exactly_one_comment(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    event = make_event(task_id)
    github_env.dynamodb.fail_next("update_item", times=10)  # the id cannot be stored

    first = github_env.run(event)
    assert first == Retry(None, "persist_failed", uncertain=True)
    github_env.dynamodb.fail_next("update_item", times=0)
    second = github_env.run(event, reconcile=True)

    [comment] = github_env.github.comments(repo=REPO, issue=PR)
    assert isinstance(second, Delivered)
    assert github_env.task(task_id)["github_comment_id"] == comment.id
    assert "fanout.github.persist_failed" in github_env.log_events()
    assert "fanout.github.comment_adopted" in github_env.log_events()


def test_losing_the_store_race_edits_the_winner_and_deletes_ours(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    prepared = github_env.channel.prepare(make_event(task_id, "pr_created"))
    assert isinstance(prepared, Prepared)
    # Meanwhile another attempt posted and stored its comment.
    winner = github_env.github.add_comment(REPO, PR, marker(task_id) + "\nold state", "fanout-bot")
    github_env.dynamodb.update_item(
        TableName=github_env.table,
        Key={"task_id": {"S": task_id}},
        UpdateExpression="SET github_comment_id = :id",
        ExpressionAttributeValues={":id": {"N": str(winner.id)}},
    )

    outcome = github_env.channel.deliver(prepared)

    assert outcome == Delivered(f"updated comment {winner.id}")
    assert [c.id for c in github_env.github.comments(repo=REPO, issue=PR)] == [winner.id]
    assert "Pull request opened" in winner.body
    assert github_env.github.routes() == [
        "POST /repos/{repo}/issues/{n}/comments",
        "PATCH /repos/{repo}/issues/comments/{id}",
        "DELETE /repos/{repo}/issues/comments/{id}",
    ]
    assert github_env.task(task_id)["github_comment_id"] == winner.id
    assert "fanout.github.duplicate_deleted" in github_env.log_events()


def test_a_failed_duplicate_delete_is_logged_and_does_not_fail_the_delivery(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    prepared = github_env.channel.prepare(make_event(task_id, "pr_created"))
    assert isinstance(prepared, Prepared)
    winner = github_env.github.add_comment(REPO, PR, marker(task_id), "fanout-bot")
    github_env.dynamodb.update_item(
        TableName=github_env.table,
        Key={"task_id": {"S": task_id}},
        UpdateExpression="SET github_comment_id = :id",
        ExpressionAttributeValues={":id": {"N": str(winner.id)}},
    )
    github_env.github.fail("DELETE /repos/{repo}/issues/comments/{id}", status=500)

    assert github_env.channel.deliver(prepared) == Delivered(f"updated comment {winner.id}")
    failed = [line for line in github_env.logs() if line.get("event") == "fanout.github.dup_delete_failed"]
    assert len(failed) == 1
    assert failed[0]["error"] == "http_500"


def test_a_first_post_after_pr_created_looks_for_an_unrecorded_comment(github_env: GitHubEnv) -> None:
    # pr_created's POST landed, its answer was lost, and the message was dead-lettered: no id stored.
    task_id = github_env.put_task()
    orphan = github_env.github.add_comment(REPO, PR, marker(task_id) + "\nPR opened", "fanout-bot")
    prepared = github_env.channel.prepare(make_event(task_id, "task_completed"))
    assert isinstance(prepared, Prepared)

    outcome = github_env.channel.deliver(prepared)

    assert isinstance(outcome, Delivered)
    assert [c.id for c in github_env.github.comments(repo=REPO, issue=PR)] == [orphan.id]
    assert "✅ **Task completed**" in orphan.body
    assert github_env.task(task_id)["github_comment_id"] == orphan.id
    assert "POST /repos/{repo}/issues/{n}/comments" not in github_env.github.routes()


def test_a_task_evicted_after_the_post_is_not_resurrected(github_env: GitHubEnv) -> None:
    task_id = github_env.put_task()
    prepared = github_env.channel.prepare(make_event(task_id))
    assert isinstance(prepared, Prepared)
    github_env.dynamodb.delete_item(TableName=github_env.table, Key={"task_id": {"S": task_id}})

    outcome = github_env.channel.deliver(prepared)

    assert isinstance(outcome, Delivered)
    assert "task is gone" in outcome.detail
    item = github_env.dynamodb.get_item(TableName=github_env.table, Key={"task_id": {"S": task_id}})
    assert "Item" not in item
