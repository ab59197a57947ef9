"""Fixtures for the Slack channel: a task table and bot-token secrets on the moto server, the Slack
stand-in the local runtime serves (fanout/local/fakes/slack.py) behind httpx.MockTransport, a settable clock, a DynamoDB client that throttles on demand, and logs."""

from __future__ import annotations

import io
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from consumers.runtime.clients import Clients
from consumers.runtime.outcomes import Outcome, Retry
from consumers.runtime.settings import ConsumerSettings
from consumers.slack.channel import SlackChannel
from fanout.dynamo import from_item, to_attribute
from fanout.events import TaskEvent
from fanout.local.fakes.slack import SlackFake
from fanout.local.fakes.transport import mock_transport
from tests.clock import FakeClock
from tests.consumers.steps import run_message

BASE_URL = "http://slack.test/api"  # the stand-in's scheme: a call's logged url is the exact one
TOKEN = "xoxb-1111-valid-token"
_ids = itertools.count(1)


class FlakyDynamo:
    """The real client; `fail_when(operation, predicate)` throttles matching calls (`times` of them)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._faults: list[list[Any]] = []
        self.calls: list[str] = []

    def fail_when(
        self,
        operation: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _: True,
        times: int = 1,
        code: str = "ThrottlingException",
    ) -> None:
        self._faults.append([operation, predicate, times, code])

    def heal(self) -> None:
        self._faults.clear()

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append(name)
            for fault in self._faults:
                if fault[0] == name and fault[2] > 0 and fault[1](kwargs):
                    fault[2] -= 1
                    raise ClientError({"Error": {"Code": fault[3], "Message": "slow down"}}, name)
            return real(**kwargs)

        return call


def writes(field: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate: an update_item that touches channel_metadata.<field>."""
    return lambda kwargs: field in kwargs.get("ExpressionAttributeNames", {}).values()


@dataclass
class SlackEnv:
    table: str
    team: str
    dynamodb: FlakyDynamo
    secrets: Any
    clock: FakeClock
    slack: SlackFake
    channel: SlackChannel
    log: io.StringIO
    settings: ConsumerSettings
    clients: Clients

    def put_task(self, *, meta: dict[str, Any] | None = None, **fields: Any) -> str:
        task: dict[str, Any] = {
            "task_id": f"task-{uuid.uuid4().hex[:8]}",
            "user_id": "u-1",
            "status": "RUNNING",
            "repo": "acme/widgets",
            "task_description": "Fix the flaky login test",
            "channel_source": "slack",
            "channel_metadata": {"slack_team_id": self.team, "slack_channel_id": "C100", **(meta or {})},
        }
        task.update(fields)
        item = {k: to_attribute(v) for k, v in task.items() if v is not None}
        self.dynamodb._client.put_item(TableName=self.table, Item=item)
        return str(task["task_id"])

    def task(self, task_id: str) -> dict[str, Any]:
        item = self.dynamodb._client.get_item(
            TableName=self.table, Key={"task_id": {"S": task_id}}, ConsistentRead=True
        )
        return from_item(item["Item"])

    def meta(self, task_id: str) -> dict[str, Any]:
        return dict(self.task(task_id).get("channel_metadata", {}))

    def run(self, event: TaskEvent, *, reconcile: bool = False) -> Outcome:
        """What the runtime does with one message: prepare, reconcile when asked, then deliver."""
        return run_message(self.channel, event, reconcile=reconcile, dynamodb=self.dynamodb)

    def settle(self, event: TaskEvent, first: Outcome, *, attempts: int = 3) -> Outcome:
        """Retry as the runtime would (reconciling after an uncertain outcome) until not a Retry."""
        outcome, uncertain = first, False
        for _ in range(attempts):
            if not isinstance(outcome, Retry):
                return outcome
            uncertain = uncertain or outcome.uncertain
            outcome = self.run(event, reconcile=uncertain)
        return outcome

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines() if line.strip()]

    def log_events(self) -> list[str]:
        return [line.get("event", "") for line in self.logs()]


def make_event(task_id: str, event_type: str, **metadata: Any) -> TaskEvent:
    n = next(_ids)
    return TaskEvent(
        task_id=task_id,
        event_id=f"01JSLACK{n:018d}",
        event_type=event_type,
        timestamp="2027-01-15T08:00:00+00:00",
        metadata=metadata,
    )


MakeSlackEnv = Callable[..., SlackEnv]


@pytest.fixture
def make_slack_env(
    aws_client: Callable[[str], Any], unique_name: Callable[[str], str]
) -> Iterator[MakeSlackEnv]:
    """Factory: a fresh task table and workspace secret, a fake Slack that knows the token, the channel."""
    opened: list[httpx.Client] = []

    def make(*, secret: str | None = TOKEN, slack_tokens: tuple[str, ...] = (TOKEN,)) -> SlackEnv:
        dynamodb = FlakyDynamo(aws_client("dynamodb"))
        table = unique_name("tasks")
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "task_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "task_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        prefix = f"{unique_name('bgagent')}/slack/"
        team = f"T{uuid.uuid4().hex[:8].upper()}"
        secrets = aws_client("secretsmanager")
        if secret is not None:
            secrets.create_secret(Name=f"{prefix}{team}", SecretString=secret)
        clock = FakeClock()
        slack = SlackFake(tokens=dict.fromkeys(slack_tokens, team), clock=clock)
        http = httpx.Client(transport=mock_transport(slack))
        opened.append(http)
        clients = Clients(sqs=aws_client("sqs"), dynamodb=dynamodb, secrets=secrets, http=http)  # type: ignore[arg-type]
        settings = ConsumerSettings(
            channel="slack",
            queue_url="unused",
            dlq_url="unused",
            task_table=table,
            ledger_table="unused",
            api_base_url=BASE_URL,
            max_attempts=10,
            max_age_s=7200,
            backoff_base_s=2.0,
            backoff_cap_s=900.0,
            claim_ttl_s=60,
            slack_secret_prefix=prefix,
        )
        log = io.StringIO()
        logger = Logger(service=f"slack-test-{uuid.uuid4().hex[:8]}", stream=log)
        channel = SlackChannel(settings=settings, clients=clients, clock=clock, logger=logger)
        return SlackEnv(table, team, dynamodb, secrets, clock, slack, channel, log, settings, clients)

    yield make
    for http in opened:
        http.close()


@pytest.fixture
def slack_env(make_slack_env: MakeSlackEnv) -> SlackEnv:
    return make_slack_env()
