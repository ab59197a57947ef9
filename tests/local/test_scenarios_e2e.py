"""Every built-in scenario through the whole local pipeline, judged by what the stand-ins received."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from fanout.local.runner import RunResult, run_local
from fanout.local.scenarios import GONE_CHANNEL, MENTION_TS, TEAM

from .conftest import FAST, assert_every_call_allowed, local_options

# What users must see after the happy workload (channel -> texts' first words, oldest first).
SLACK_EXPECTED = {
    "CLOCAL1": [":white_check_mark: *Task completed*"],
    "CLOCAL2": [":rocket: *Task submitted*", ":rotating_light: *Agent error*", ":x: *Task failed*"],
    "DLOCAL9": [":rocket: *Task submitted*", ":no_entry_sign: Task cancelled"],
}
SLACK_POSTS = 10  # 3 + 4 + 3 lifecycle messages, two of each thread's deleted by the terminal cleanup


@pytest.fixture(scope="session")
def happy() -> RunResult:
    """The healthy run every fault scenario is compared with."""
    result = run_local(local_options(scenario="happy"))
    assert_every_call_allowed(result)
    return result


def slack_state(result: RunResult) -> dict[str, list[str]]:
    assert result.slack is not None
    state: dict[str, list[str]] = {}
    for message in result.slack.messages():
        state.setdefault(message.channel, []).append(message.text)
    return state


def starts(state: dict[str, list[str]]) -> dict[str, list[str]]:
    return {
        channel: [
            next((p for c in SLACK_EXPECTED.get(channel, []) for p in [c] if t.startswith(p)), t)
            for t in texts
        ]
        for channel, texts in state.items()
    }


def github_calls(result: RunResult) -> Counter[tuple[str, str | None, bool]]:
    assert result.github is not None
    return Counter((c.api, c.target, c.ok) for c in result.github.log.calls())


def github_bodies(result: RunResult) -> dict[tuple[str, int], str]:
    assert result.github is not None
    return {(c.repo, c.issue): c.body for c in result.github.comments()}


def test_happy_delivers_each_message_once(happy: RunResult):
    assert happy.exit_code == 0
    assert happy.report["drained"]
    assert starts(slack_state(happy)) == SLACK_EXPECTED
    assert happy.slack is not None
    posted = happy.slack.messages(include_deleted=True)
    event_ids = [m.event_id for m in posted]
    assert len(posted) == SLACK_POSTS
    assert None not in event_ids
    assert len(set(event_ids)) == SLACK_POSTS
    [completed] = happy.slack.messages(channel="CLOCAL1")
    assert completed.thread_ts == MENTION_TS  # the @mention thread
    everything = json.dumps([(m.text, m.blocks) for m in posted])
    assert "<!channel>" not in everything
    assert "<@U999>" not in everything
    mention = happy.slack.message("CLOCAL1", MENTION_TS)
    assert mention is not None
    assert mention.reactions == {"white_check_mark"}


def test_happy_github_comment_is_edited_in_place(happy: RunResult):
    assert happy.github is not None
    comments = happy.github.comments()
    assert sorted((c.repo, c.issue, c.edits) for c in comments) == [
        ("acme/tools", 7, 1),
        ("acme/widgets", 42, 1),
    ]
    for comment in comments:
        assert "fanout:task_id=" in comment.body
        assert "completed" in comment.body.lower()
    posts = [c for c in happy.github.log.calls() if c.api.startswith("POST") and c.ok]
    assert len(posts) == 2


def test_happy_report_counts(happy: RunResult):
    slack, github = happy.report["channels"]["slack"], happy.report["channels"]["github"]
    assert (slack["delivered"], slack["skipped"], slack["terminal"], slack["dead_lettered"]) == (10, 4, 0, 0)
    assert (github["delivered"], github["skipped"], github["terminal"], github["dead_lettered"]) == (
        4,
        3,
        0,
        0,
    )
    assert happy.slack is not None
    assert happy.github is not None
    assert slack["api_calls"] == len(happy.slack.log)  # every call the containers sent, and no other
    assert github["api_calls"] == len(happy.github.log)
    assert slack["queue_depth"] == slack["dlq_depth"] == github["queue_depth"] == 0
    assert slack["latency_ms"]["p50"] is not None
    assert slack["latency_ms"]["p99"] >= slack["latency_ms"]["p50"]
    for name, limit in (("slack", 5), ("github", 2)):
        assert 1 <= happy.report["local"]["channels"][name]["max_concurrency_seen"] <= limit


def test_slack_ratelimit_leaves_github_alone_and_honours_retry_after(run_scenario, happy: RunResult):
    result = run_scenario("slack-ratelimit")

    assert result.exit_code == 0
    assert github_calls(result) == github_calls(happy)
    assert result.slack is not None
    calls = [c for c in result.slack.log.calls() if c.scope == TEAM]
    assert any(c.status == 429 for c in calls)
    # No container called again inside a Retry-After window it had been given ...
    assert [c for c in calls if c.inside_own_retry_after] == []
    # ... so each container hits the limit at most once per Retry-After period of the fault (a container
    # without rate-limit memory would collect a 429 for every message of the workspace).
    limited = Counter(c.container for c in calls if c.status == 429)
    per_period = math.ceil(FAST.fault_duration_s / FAST.retry_after_s) + 1
    assert all(n <= per_period for n in limited.values()), limited
    state = starts(slack_state(result))
    busy = state.pop("CBUSY")
    assert state == SLACK_EXPECTED
    assert len(busy) == 2 * FAST.busy_tasks
    assert result.report["channels"]["slack"]["retries"] > 0


def test_github_ratelimit_recovers_without_duplicates(run_scenario, happy: RunResult):
    result = run_scenario("github-ratelimit")

    assert result.exit_code == 0
    assert github_bodies(result) == github_bodies(happy)
    assert result.github is not None
    assert sorted(c.edits for c in result.github.comments()) == [1, 1]
    calls = result.github.log.calls()
    assert Counter(c.fault for c in calls if c.fault) == {"github_secondary": 1, "github_primary": 1}
    assert [c for c in calls if c.inside_own_retry_after] == []
    assert starts(slack_state(result)) == SLACK_EXPECTED
    assert result.report["channels"]["slack"]["retries"] == 0


def test_slack_outage_recovers_to_the_same_messages(run_scenario):
    result = run_scenario("slack-outage")

    assert result.exit_code == 0
    assert result.slack is not None
    assert any(c.fault == "slack_5xx" for c in result.slack.log.calls())
    assert starts(slack_state(result)) == SLACK_EXPECTED
    event_ids = [m.event_id for m in result.slack.messages(include_deleted=True)]
    assert len(event_ids) == len(set(event_ids)) == SLACK_POSTS  # reconciled, never posted twice
    assert result.report["channels"]["slack"]["retries"] > 0


def test_poison_dead_letters_the_malformed_and_the_terminal_with_reasons(run_scenario):
    result = run_scenario("poison")

    assert result.exit_code == 0  # messages in a DLQ count as drained
    reasons = {
        m["Body"]: m.get("MessageAttributes", {}).get("reason", {}).get("StringValue")
        for m in result.dead_letters["slack"]
    }
    malformed = reasons.pop("{this is not a task event")
    [(terminal_body, terminal_reason)] = reasons.items()
    assert malformed == "malformed"
    assert terminal_reason == "terminal:channel_not_found"
    assert "task-gone" in terminal_body
    [github_dead] = result.dead_letters["github"]
    assert github_dead["MessageAttributes"]["reason"]["StringValue"] == "malformed"
    slack = result.report["channels"]["slack"]
    assert slack["dlq_depth"] == 2
    assert slack["dead_lettered"] == 2
    assert slack["terminal"] == 1
    assert result.slack is not None
    assert [c.error for c in result.slack.log.calls() if c.target == GONE_CHANNEL] == ["channel_not_found"]
    assert starts(slack_state(result)) == SLACK_EXPECTED


def ses_sent(result: RunResult) -> list[tuple[str, tuple[str, ...], str]]:
    """What moto's SES (in the run's in-process endpoint) recorded as sent: (from, to, subject)."""
    from moto.ses.models import ses_backends

    backend = ses_backends[result.runtime.endpoint.account]["us-east-1"]
    return [(m.source, tuple(m.destinations["ToAddresses"]), m.subject) for m in backend.sent_messages]


def test_happy_emails_the_outcomes_asked_for_through_the_deployed_stack(happy: RunResult):
    from fanout.local.standins import LOCAL_EMAIL_SENDER

    email, slack = happy.report["channels"]["email"], happy.report["channels"]["slack"]
    assert set(email) == set(slack)  # the same report keys as every channel
    # task-thread completed and task-failing failed are sent; task-api has no address, task-dm's has a
    # display name, task_stranded is not subscribed: three counted skips.
    assert (email["delivered"], email["skipped"], email["terminal"], email["dead_lettered"]) == (2, 3, 0, 0)
    assert email["queue_depth"] == email["dlq_depth"] == 0
    assert sorted(ses_sent(happy)) == [
        (LOCAL_EMAIL_SENDER, ("alice@example.com",), "Task completed: acme/widgets"),
        (LOCAL_EMAIL_SENDER, ("alice@example.com",), "Task failed: acme/gadgets"),
    ]
    assert email["api_calls"] >= 2  # the sends (and the send-rate reads), through the function's role


def test_email_faults_retries_the_throttled_send_and_never_resends_the_uncertain_one(run_scenario):
    result = run_scenario("email-faults")

    assert result.exit_code == 0
    ses = result.runtime.stand_ins["email"]
    sends = [(c.status, c.fault) for c in ses.calls if c.api == "SendEmail"]
    assert sends == [(429, "ses_throttle"), (500, "ses_5xx_after_send"), (200, None)]
    assert sorted(m.subject for m in ses.sent) == [
        "Task completed: acme/widgets",
        "Task failed: acme/gadgets",
    ]
    [letter] = result.dead_letters["email"]
    attributes = letter["MessageAttributes"]
    assert attributes["reason"]["StringValue"] == "uncertain_outcome"
    assert "after sending" in attributes["last_error"]["StringValue"]
    lost = [m for m in ses.sent if m.answer_lost]
    assert len(lost) == 1  # it went out once, and was not sent again
    assert lost[0].event_id is not None
    assert lost[0].event_id in letter["Body"]
    email = result.report["channels"]["email"]
    assert (email["delivered"], email["dead_lettered"], email["dlq_depth"]) == (1, 1, 1)
    assert email["retries"] >= 1
    assert ses_sent(result) == []  # the stand-in answered SES, not the endpoint
