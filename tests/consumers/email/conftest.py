"""Fixtures for the email channel: a task table, a verified SES identity and (when asked) a Cognito user
pool on the moto server; the SES stand-in with faults (fanout.local.fakes.ses) on loopback; a settable
clock whose sleep advances it; captured logs and metric counts."""

from __future__ import annotations

import io
import itertools
import json
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Logger

from consumers.email.channel import EmailChannel
from consumers.email.config import EmailConfig
from consumers.email.ses import SEND_CONFIG
from consumers.runtime.outcomes import Outcome
from consumers.runtime.settings import ConsumerSettings
from fanout.dynamo import to_attribute
from fanout.events import TaskEvent
from fanout.local.fakes.faults import FaultSchedule
from fanout.local.fakes.server import HttpFake
from fanout.local.fakes.ses import SesFake
from tests.clock import FakeClock
from tests.conftest import REGION
from tests.consumers.steps import run_message

SENDER = "fanout@notify.example.com"
_ids = itertools.count(1)


def make_event(task_id: str, event_type: str = "task_completed", **metadata: Any) -> TaskEvent:
    n = next(_ids)
    return TaskEvent(
        task_id=task_id,
        event_id=f"01JEMAIL{n:018d}",
        event_type=event_type,
        timestamp="2026-11-26T10:00:00Z",
        metadata=metadata,
    )


def create_task_table(dynamodb: Any, name: str) -> str:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "task_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "task_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def put_task(dynamodb: Any, table: str, **fields: Any) -> str:
    task: dict[str, Any] = {
        "task_id": f"task-{uuid.uuid4().hex[:8]}",
        "user_id": "user-1",
        "status": "COMPLETED",
        "repo": "acme/widgets",
        "pr_number": 42,
        "pr_url": "https://github.com/acme/widgets/pull/42",
        "duration_s": 252,
        "cost_usd": 1.37,
        "channel_source": "api",
        "notification_email": "dev@example.com",
    }
    task.update(fields)
    item = {k: to_attribute(v) for k, v in task.items() if v is not None}
    dynamodb.put_item(TableName=table, Item=item)
    return str(task["task_id"])


def moto_sent(endpoint: str) -> list[dict[str, Any]]:
    """What moto's SES recorded as sent, from its introspection API over HTTP (readable whatever else the
    shared server holds: the runtime's moto preparation keeps functions' Docker clients out of it)."""
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=30) as answer:
        data = json.load(answer)
    messages: list[dict[str, Any]] = data.get("ses", {}).get("Message", [])
    return messages


@dataclass
class EmailEnv:
    endpoint: str
    table: str
    dynamodb: Any
    ses: Any
    clock: FakeClock
    channel: EmailChannel
    log: io.StringIO
    settings: ConsumerSettings
    counts: list[str] = field(default_factory=list)

    def put_task(self, **fields: Any) -> str:
        return put_task(self.dynamodb, self.table, **fields)

    def run(self, event: TaskEvent, *, reconcile: bool = False) -> Outcome:
        """What the runtime does with one message: prepare, reconcile when asked, then deliver."""
        return run_message(self.channel, event, reconcile=reconcile)

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines() if line.strip()]


MakeEmailEnv = Callable[..., EmailEnv]


def settings_for(table: str, *, api_base_url: str = "") -> ConsumerSettings:
    return ConsumerSettings(
        channel="email",
        queue_url="unused",
        dlq_url="unused",
        task_table=table,
        ledger_table="unused",
        api_base_url=api_base_url,
        max_attempts=8,
        max_age_s=12 * 3600,
        backoff_base_s=2.0,
        backoff_cap_s=900.0,
        claim_ttl_s=60,
    )


@pytest.fixture
def ses_fake() -> Iterator[HttpFake]:
    """The SES stand-in on loopback; `.app.schedule` takes faults before the test sends."""
    server = SesFake(FaultSchedule(), max_send_rate=1000.0).serve()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_email_env(
    moto_endpoint: str, aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
) -> MakeEmailEnv:
    """Factory: `make_email_env()` sends through moto's SES; `make_email_env(ses_url=...)` through the
    stand-in; `user_pool_id=...` resolves recipients in that Cognito pool."""

    def make(*, ses_url: str | None = None, user_pool_id: str | None = None, **config: Any) -> EmailEnv:
        dynamodb = aws_client("dynamodb")
        table = create_task_table(dynamodb, unique_name("tasks"))
        endpoint = ses_url or moto_endpoint
        ses = boto3.client("sesv2", endpoint_url=endpoint, region_name=REGION, config=SEND_CONFIG)
        if ses_url is None:
            ses.create_email_identity(EmailIdentity=SENDER)
        clock = FakeClock()
        log = io.StringIO()
        logger = Logger(service=f"email-test-{uuid.uuid4().hex[:8]}", stream=log)
        counts: list[str] = []
        settings = settings_for(table, api_base_url=ses_url or "")
        channel = EmailChannel(
            settings=settings,
            config=EmailConfig(sender=SENDER, user_pool_id=user_pool_id, **config),
            ses=ses,
            cognito=aws_client("cognito-idp") if user_pool_id else None,
            dynamodb=dynamodb,
            clock=clock,
            sleep=clock.sleep,
            logger=logger,
            count=counts.append,
        )
        return EmailEnv(moto_endpoint, table, dynamodb, ses, clock, channel, log, settings, counts)

    return make


@pytest.fixture
def email_env(make_email_env: MakeEmailEnv) -> EmailEnv:
    return make_email_env()
