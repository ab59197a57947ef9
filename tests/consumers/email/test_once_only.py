"""The uncertain-outcome rule under the once-only property test: random terminal events and random SES
faults through the shared runtime (real queue, DLQ and ledger on moto; the SES stand-in over HTTP).

SES cannot be asked whether a send went out, so the property is stronger than for Slack and GitHub:
no email is ever sent twice automatically. Every event ends delivered once, or dead-lettered with a
reason; an email that went out without being recorded is always dead-lettered as `uncertain_outcome`
(the possible loss is visible); and an operator's redrive of such a letter sends it, knowingly.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.email.channel import EmailChannel
from consumers.email.config import EmailConfig
from consumers.email.ses import SEND_CONFIG
from consumers.runtime import dlq_attributes as attrs
from consumers.runtime.clients import Clients
from consumers.runtime.lambda_entry import ConsumerHandler, make_handler
from fanout.events import TaskEvent
from fanout.local.fakes.faults import Fault, FaultKind, FaultSchedule
from fanout.local.fakes.server import HttpFake
from tests.clock import FakeClock
from tests.conftest import REGION
from tests.consumers.runtime.conftest import FaultyDynamo, lambda_record, provision

from .conftest import SENDER, create_task_table, make_event, put_task, settings_for

FAULTS = {
    "ok": None,
    "throttle": FaultKind.SES_THROTTLE,
    "quota": FaultKind.SES_QUOTA,
    "paused": FaultKind.SES_PAUSED,
    "5xx_after_send": FaultKind.SES_5XX_AFTER_SEND,
    "drop_after_send": FaultKind.SES_DROP_AFTER_SEND,
    "crash_after_send": None,  # SES answered; the container died before the ledger heard of it
    "crash_before_send": None,
    "ledger_complete_fails": None,  # SES answered; recording the delivery in the ledger was throttled
}
ROUND_S = 1000  # beyond the claim TTL, backoffs and a quota hour's first part
ALLOWED_LETTERS = {attrs.REASON_UNCERTAIN, attrs.REASON_BUDGET}


class Crash(BaseException):
    """The container dies mid-invocation (not an Exception: nothing may catch it)."""


@dataclass
class ScriptedSes:
    """The real sesv2 client to the stand-in; each send takes the next fault of the script."""

    client: Any
    server: HttpFake
    script: list[str]
    ledger_db: Any = None  # the runtime's DynamoDB client (FaultyDynamo)
    meta: Any = None

    def __post_init__(self) -> None:
        self.meta = self.client.meta

    def get_account(self) -> Any:
        return self.client.get_account()

    def send_email(self, **kwargs: Any) -> Any:
        fault = self.script.pop(0) if self.script else "ok"
        if fault == "crash_before_send":
            raise Crash
        kind = FAULTS[fault]
        schedule = FaultSchedule([Fault(kind, max_calls=1)] if kind else [])
        schedule.arm()
        self.server.app.schedule = schedule
        answer = self.client.send_email(**kwargs)
        if fault == "crash_after_send":
            raise Crash
        if fault == "ledger_complete_fails":
            self.ledger_db.fail_once("update_item", lambda kw: ":done" in kw["ExpressionAttributeValues"])
        return answer


@dataclass
class Pipeline:
    queue_url: str
    queue_arn: str
    dlq_url: str
    sqs: Any
    make: Callable[[], ConsumerHandler]
    clock: FakeClock
    records: list[dict[str, Any]] = field(default_factory=list)

    def send(self, event: TaskEvent) -> None:
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=event.to_body(),
            MessageGroupId=event.task_id,
            MessageDeduplicationId=f"{event.event_id}-{time.time_ns()}",
        )

    def depth(self) -> int:
        a = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])

    def drain(self) -> None:
        handler = self.make()
        for _ in range(80):
            if self.depth() == 0:
                return
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            records = [lambda_record(m, self.queue_arn) for m in messages]
            try:
                response = handler({"Records": records}, None)
                failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
                for record in records:
                    if record["messageId"] not in failed:
                        self._quietly("delete_message", ReceiptHandle=record["receiptHandle"])
            except Crash:
                handler = self.make()  # a new container
            for record in records:  # what the passing of the delay does
                self._quietly(
                    "change_message_visibility", ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                )
            self.clock.advance(ROUND_S)
        raise AssertionError("the queue did not drain")

    def letters(self) -> dict[str, tuple[str, str, str]]:
        """event id -> (reason, body, last error); the DLQ is emptied."""
        found: dict[str, tuple[str, str, str]] = {}
        while batch := self.sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", []):
            for message in batch:
                event_id = TaskEvent.from_body(message["Body"]).event_id
                assert event_id not in found, "dead-lettered twice"
                attributes = message["MessageAttributes"]
                found[event_id] = (
                    attributes[attrs.REASON]["StringValue"],
                    message["Body"],
                    attributes[attrs.LAST_ERROR]["StringValue"],
                )
                self.sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def _quietly(self, operation: str, **kwargs: Any) -> None:
        with contextlib.suppress(self.sqs.exceptions.ClientError):
            getattr(self.sqs, operation)(QueueUrl=self.queue_url, **kwargs)


@pytest.fixture(autouse=True)
def _quiet_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")


def run_case(
    aws_client: Callable[[str], Any],
    unique_name: Callable[[str], str],
    ses_fake: HttpFake,
    shape: list[int],
    faults: list[str],
) -> dict[str, tuple[str, str]]:
    """Drain the events through faults, check the property, redrive the uncertain letters and check
    again; returns the first drain's dead letters by event id: (reason, last error)."""
    queue_url, queue_arn, dlq_url, ledger = provision(aws_client, unique_name)
    dynamodb, sqs = aws_client("dynamodb"), aws_client("sqs")
    table = create_task_table(dynamodb, unique_name("tasks"))
    clock = FakeClock(time.time())
    settings_ = replace(
        settings_for(table, api_base_url=ses_fake.url),
        queue_url=queue_url,
        dlq_url=dlq_url,
        ledger_table=ledger,
        max_attempts=4,
    )
    ses = ScriptedSes(
        boto3.client("sesv2", endpoint_url=ses_fake.url, region_name=REGION, config=SEND_CONFIG),
        ses_fake,
        list(faults),
        ledger_db=FaultyDynamo(dynamodb),
    )
    clients = Clients(sqs=sqs, dynamodb=ses.ledger_db, secrets=aws_client("secretsmanager"), http=None)  # type: ignore[arg-type]

    def container() -> ConsumerHandler:
        channel = EmailChannel(
            settings=settings_,
            config=EmailConfig(sender=SENDER),
            ses=ses,
            cognito=None,
            dynamodb=dynamodb,
            clock=clock,
            sleep=clock.sleep,
            count=lambda name: None,
        )
        return make_handler(lambda s, c, k: channel, settings_, clients, clock)

    pipeline = Pipeline(queue_url, queue_arn, dlq_url, sqs, container, clock)
    events = [
        make_event(
            put_task(dynamodb, table, notification_email=f"t{t}@example.com"),
            "task_completed" if n == 0 else "task_failed",
        )
        for t, count in enumerate(shape)
        for n in range(count)
    ]
    for event in events:
        pipeline.send(event)

    pipeline.drain()
    letters = pipeline.letters()

    for event in events:
        sent = ses_fake.app.sent_for(event.event_id)
        assert len(sent) <= 1, "sent twice"
        item = dynamodb.get_item(
            TableName=ledger, Key={"pk": {"S": f"email#{event.event_id}"}}, ConsistentRead=True
        ).get("Item")
        if item is not None and item["state"] == {"S": "done"}:
            assert len(sent) == 1
            assert event.event_id not in letters
            continue
        reason = letters.get(event.event_id, ("lost", "", ""))[0]
        assert reason in ALLOWED_LETTERS, f"{event.event_id}: {reason}"
        if sent:  # it went out unrecorded: only ever as an uncertain outcome, never silently
            assert reason == attrs.REASON_UNCERTAIN

    # An operator redrives the uncertain letters knowingly: each is sent (again, for those that went out).
    uncertain = {e: body for e, (reason, body, _) in letters.items() if reason == attrs.REASON_UNCERTAIN}
    before = {e: len(ses_fake.app.sent_for(e)) for e in uncertain}
    for body in uncertain.values():
        pipeline.send(TaskEvent.from_body(body))
    ses.script.clear()
    pipeline.drain()
    assert pipeline.letters() == {}
    for event_id in uncertain:
        assert len(ses_fake.app.sent_for(event_id)) == before[event_id] + 1
    return {event_id: (reason, error) for event_id, (reason, _, error) in letters.items()}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.lists(st.integers(1, 2), min_size=1, max_size=3),
    faults=st.lists(st.sampled_from(sorted(FAULTS)), max_size=10),
)
def test_no_email_is_sent_twice_and_every_loss_is_visible(
    aws_client: Callable[[str], Any],
    unique_name: Callable[[str], str],
    ses_fake: HttpFake,
    shape: list[int],
    faults: list[str],
) -> None:
    run_case(aws_client, unique_name, ses_fake, shape, faults)


@pytest.mark.parametrize(
    ("faults", "sent_before_redrive", "said"),
    [
        (["5xx_after_send"], 1, "InternalFailure (HTTP 500) after sending"),
        (["drop_after_send"], 1, "no answer after sending"),
        (["crash_after_send"], 1, "an earlier attempt may have sent this email"),
        (["crash_before_send"], 0, "an earlier attempt may have sent this email"),  # the claim just expired
        (["ledger_complete_fails"], 1, "delivered; ledger completion failed"),
    ],
)
def test_each_uncertain_send_is_dead_lettered_at_once_and_redrive_sends_it(
    aws_client: Callable[[str], Any],
    unique_name: Callable[[str], str],
    ses_fake: HttpFake,
    faults: list[str],
    sent_before_redrive: int,
    said: str,
) -> None:
    letters = run_case(aws_client, unique_name, ses_fake, [1], faults)
    [(event_id, (reason, last_error))] = letters.items()
    assert reason == attrs.REASON_UNCERTAIN
    assert said in last_error  # the runbook tells the cases apart by it
    assert len(ses_fake.app.sent_for(event_id)) == sent_before_redrive + 1  # after the redrive
    attempts = [c for c in ses_fake.app.calls if c.api == "SendEmail"]
    assert len(attempts) == sent_before_redrive + 1  # no automatic resend in between


@pytest.mark.parametrize("faults", [["throttle", "throttle"], ["paused"], ["quota"]])
def test_refusals_before_sending_are_retried_and_delivered_once(
    aws_client: Callable[[str], Any],
    unique_name: Callable[[str], str],
    ses_fake: HttpFake,
    faults: list[str],
) -> None:
    assert run_case(aws_client, unique_name, ses_fake, [1], faults) == {}
    assert len(ses_fake.app.sent) == 1
