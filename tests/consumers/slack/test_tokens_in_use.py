"""The bot token in use: refetched once when Slack refuses it, never logged."""

from __future__ import annotations

from consumers.runtime.outcomes import Delivered, Retry, Terminal
from fanout.local.fakes.slack_faults import CallFault

from .conftest import TOKEN, MakeSlackEnv, SlackEnv, make_event


def test_invalid_auth_refetches_the_token_once_then_is_terminal(make_slack_env: MakeSlackEnv) -> None:
    env = make_slack_env(secret="xoxb-revoked-token", slack_tokens=(TOKEN,))
    task_id = env.put_task()
    outcome = env.run(make_event(task_id, "task_completed"))
    assert outcome == Terminal("invalid_auth")
    assert env.slack.methods() == ["chat.postMessage", "chat.postMessage"]
    assert "slack_notified_terminal" not in env.meta(task_id)  # a redrive after the fix is not skipped
    assert "fanout.slack.token_refetched" in env.log_events()


def test_a_rotated_token_is_picked_up_within_the_same_attempt(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    assert slack_env.run(make_event(task_id, "task_created")) == Delivered()  # caches TOKEN
    rotated = "xoxb-2222-rotated-token"
    slack_env.secrets.put_secret_value(
        SecretId=f"{slack_env.settings.slack_secret_prefix}{slack_env.team}",
        SecretString=f'{{"bot_token": "{rotated}"}}',
    )
    slack_env.slack.revoke_token(TOKEN)
    slack_env.slack.register_token(rotated, slack_env.team)
    assert slack_env.run(make_event(task_id, "task_completed")) == Delivered()
    posts = [c for c in slack_env.slack.log.calls() if c.api == "chat.postMessage"]
    assert [p.headers["authorization"] for p in posts] == [f"Bearer {t}" for t in (TOKEN, TOKEN, rotated)]


def test_token_expired_also_refetches(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    slack_env.slack.fail("chat.postMessage", CallFault(error="token_expired"))
    assert slack_env.run(make_event(task_id, "agent_error")) == Delivered()
    assert slack_env.slack.methods().count("chat.postMessage") == 2


def test_no_token_ever_reaches_a_log_line(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    slack_env.slack.fail(
        "chat.postMessage", CallFault(error="some_new_error"), CallFault(error="invalid_auth")
    )
    slack_env.slack.fail("reactions.add", CallFault(error="invalid_auth"), CallFault(error="invalid_auth"))
    outcome = slack_env.run(make_event(task_id, "task_created"))
    assert outcome == Retry(None, "unknown:some_new_error")
    slack_env.run(make_event(task_id, "task_created"))
    text = slack_env.log.getvalue()
    assert "fanout.slack.unknown_error" in text
    assert "xoxb" not in text


def test_unknown_errors_are_logged_with_their_own_key(slack_env: SlackEnv) -> None:
    task_id = slack_env.put_task()
    slack_env.slack.fail("chat.postMessage", CallFault(error="shiny_new_code"))
    outcome = slack_env.run(make_event(task_id, "task_failed"))
    assert outcome == Retry(None, "unknown:shiny_new_code")
    (line,) = [entry for entry in slack_env.logs() if entry["event"] == "fanout.slack.unknown_error"]
    assert line["slack_error"] == "shiny_new_code"
    assert "slack_notified_terminal" not in slack_env.meta(task_id)
