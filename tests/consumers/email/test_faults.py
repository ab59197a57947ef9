"""The channel against the SES stand-in's faults, over HTTP with the real boto3 client: what each
answer becomes, and that botocore never resends (its retries are off for SendEmail)."""

from __future__ import annotations

import pytest

from consumers.email.classify import QUOTA_WAIT_S
from consumers.email.metrics import SEND_QUOTA_EXCEEDED, SENDING_PAUSED
from consumers.runtime.outcomes import Delivered, Retry, UncertainOutcome
from fanout.local.fakes.faults import Fault, FaultKind, FaultSchedule
from fanout.local.fakes.server import HttpFake

from .conftest import SENDER, MakeEmailEnv, make_event


def arm(server: HttpFake, *faults: Fault) -> None:
    server.app.schedule = FaultSchedule(faults)
    server.app.schedule.arm()


def sends(server: HttpFake) -> list[object]:
    return [c for c in server.app.calls if c.api == "SendEmail"]


def test_a_send_through_the_stand_in_is_recorded_with_its_event(
    make_email_env: MakeEmailEnv, ses_fake: HttpFake
) -> None:
    env = make_email_env(ses_url=ses_fake.url)
    event = make_event(env.put_task(notification_email="a@example.com"))
    assert isinstance(env.run(event), Delivered)
    [sent] = ses_fake.app.sent_for(event.event_id)
    assert sent.sender == SENDER
    assert sent.to == ("a@example.com",)
    assert sent.subject == "Task completed: acme/widgets"
    assert not sent.answer_lost


def test_throttling_is_a_retry_on_the_accounts_key_and_botocore_does_not_resend(
    make_email_env: MakeEmailEnv, ses_fake: HttpFake
) -> None:
    env = make_email_env(ses_url=ses_fake.url)
    arm(ses_fake, Fault(FaultKind.SES_THROTTLE, max_calls=1))
    event = make_event(env.put_task())
    outcome = env.run(event)
    assert outcome == Retry(None, "TooManyRequestsException", rate_limit_key=env.channel.rate_limit_key)
    assert len(sends(ses_fake)) == 1  # one call: no SDK retry behind our back
    assert ses_fake.app.sent == []
    assert isinstance(env.run(event), Delivered)
    assert len(ses_fake.app.sent_for(event.event_id)) == 1


@pytest.mark.parametrize("kind", [FaultKind.SES_5XX_AFTER_SEND, FaultKind.SES_DROP_AFTER_SEND])
def test_a_lost_answer_after_sending_is_an_uncertain_outcome_sent_once(
    make_email_env: MakeEmailEnv, ses_fake: HttpFake, kind: FaultKind
) -> None:
    env = make_email_env(ses_url=ses_fake.url)
    arm(ses_fake, Fault(kind, max_calls=1))
    event = make_event(env.put_task())
    outcome = env.run(event)
    assert isinstance(outcome, UncertainOutcome)
    assert outcome.reason == "uncertain_outcome"
    assert len(sends(ses_fake)) == 1
    [sent] = ses_fake.app.sent_for(event.event_id)
    assert sent.answer_lost
    # and what a later attempt finds when it must reconcile: nothing SES can tell, so the same verdict
    assert isinstance(env.run(event, reconcile=True), UncertainOutcome)
    assert len(ses_fake.app.sent_for(event.event_id)) == 1


def test_the_daily_quota_holds_the_key_an_hour_for_free_and_is_counted(
    make_email_env: MakeEmailEnv, ses_fake: HttpFake
) -> None:
    env = make_email_env(ses_url=ses_fake.url)
    arm(ses_fake, Fault(FaultKind.SES_QUOTA, max_calls=1))
    outcome = env.run(make_event(env.put_task()))
    assert outcome == Retry(
        QUOTA_WAIT_S, "quota_exceeded", rate_limit_key=env.channel.rate_limit_key, costs_attempt=False
    )
    assert env.counts == [SEND_QUOTA_EXCEEDED]


def test_a_paused_account_opens_the_outage_circuit_and_is_counted(
    make_email_env: MakeEmailEnv, ses_fake: HttpFake
) -> None:
    env = make_email_env(ses_url=ses_fake.url)
    arm(ses_fake, Fault(FaultKind.SES_PAUSED, max_calls=1))
    outcome = env.run(make_event(env.put_task()))
    assert outcome == Retry(None, "SendingPausedException", server_fault=True)
    assert env.counts == [SENDING_PAUSED]


def test_an_unverified_sender_is_terminal(make_email_env: MakeEmailEnv, ses_fake: HttpFake) -> None:
    env = make_email_env(ses_url=ses_fake.url)
    ses_fake.app.verified = frozenset({"other.example"})
    outcome = env.run(make_event(env.put_task()))
    assert outcome.__class__.__name__ == "Terminal"
    assert getattr(outcome, "reason", "") == "MessageRejected"


def test_sends_are_paced_under_the_accounts_rate(make_email_env: MakeEmailEnv, ses_fake: HttpFake) -> None:
    ses_fake.app.max_send_rate = 2.0
    env = make_email_env(ses_url=ses_fake.url, containers=2)  # two containers share 2/s: 1 s apart each
    ses_fake.app.clock = env.clock  # the stand-in measures the rate on the clock the pacer sleeps on
    for _ in range(3):
        assert isinstance(env.run(make_event(env.put_task())), Delivered)
    assert env.clock.sleeps == [1.0, 1.0]
    assert [c.api for c in ses_fake.app.calls].count("GetAccount") == 1
