"""Fixtures for the GitHub channel: a task table and token secrets on the moto server, a stateful fake
GitHub (the local runtime's stand-in) behind httpx.MockTransport, a settable clock whose sleep advances it, and captured logs."""

from __future__ import annotations

import io
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from consumers.github.channel import GitHubChannel
from consumers.runtime.clients import Clients
from consumers.runtime.outcomes import Outcome, Retry
from consumers.runtime.settings import ConsumerSettings
from fanout.dynamo import to_attribute
from fanout.events import TaskEvent
from fanout.local.fakes.github import GitHubFake
from fanout.local.fakes.transport import mock_transport
from tests.clock import FakeClock
from tests.consumers.steps import run_message

BASE_URL = "https://api.github.test"
MAIN_TOKEN = "ghp_maintoken0001"
BOT_LOGIN = "fanout-bot"
_ids = itertools.count(1)


class FlakyDynamo:
    """The real client; `fail_next(operation, n, table=...)` makes the next n calls of that operation (on
    that table, when given) throttle, or raise `error` instead (e.g. a crash of the process)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._failures: dict[str, tuple[int, str | None, BaseException | None]] = {}

    def fail_next(
        self, operation: str, times: int = 1, *, table: str | None = None, error: BaseException | None = None
    ) -> None:
        self._failures[operation] = (times, table, error)

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            times, table, error = self._failures.get(name, (0, None, None))
            if times > 0 and table in (None, kwargs.get("TableName")):
                self._failures[name] = (times - 1, table, error)
                if error is not None:
                    raise error
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, name)
            return real(**kwargs)

        return call


@dataclass
class GitHubEnv:
    table: str
    default_secret: str
    dynamodb: FlakyDynamo
    secrets: Any
    clock: FakeClock
    github: GitHubFake
    channel: GitHubChannel
    log: io.StringIO
    settings: ConsumerSettings
    clients: Clients
    tasks: list[str] = field(default_factory=list)

    def put_task(self, **fields: Any) -> str:
        task: dict[str, Any] = {
            "task_id": f"task-{uuid.uuid4().hex[:8]}",
            "user_id": "u-1",
            "status": "RUNNING",
        }
        task.update(
            {"repo": "acme/widgets", "pr_number": 42, "pr_url": "https://github.com/acme/widgets/pull/42"}
        )
        task.update(fields)
        item = {k: to_attribute(v) for k, v in task.items() if v is not None}
        self.dynamodb.put_item(TableName=self.table, Item=item)
        return str(task["task_id"])

    def task(self, task_id: str) -> dict[str, Any]:
        from fanout.dynamo import from_item

        item = self.dynamodb.get_item(
            TableName=self.table, Key={"task_id": {"S": task_id}}, ConsistentRead=True
        )
        return from_item(item["Item"])

    def secret(self, value: str) -> str:
        """A new secret holding `value`; returns its ARN."""
        name = f"gh-{uuid.uuid4().hex[:8]}"
        return str(self.secrets.create_secret(Name=name, SecretString=value)["ARN"])

    def run(self, event: TaskEvent, *, reconcile: bool = False) -> Outcome:
        """What the runtime does with one message: prepare, reconcile when asked, then deliver."""
        return run_message(self.channel, event, reconcile=reconcile, dynamodb=self.dynamodb)

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.getvalue().splitlines() if line.strip()]

    def log_events(self) -> list[str]:
        return [line.get("event", "") for line in self.logs()]


def make_event(task_id: str, event_type: str = "pr_created", **metadata: Any) -> TaskEvent:
    n = next(_ids)
    return TaskEvent(
        task_id=task_id,
        event_id=f"01JGH{n:021d}",
        event_type=event_type,
        timestamp="2026-11-26T10:00:00Z",
        metadata=metadata,
    )


def settle(env: GitHubEnv, event: TaskEvent, first: Outcome, *, attempts: int = 3) -> Outcome:
    """Retry as the runtime would (reconciling after an uncertain outcome) until not a Retry."""
    outcome, uncertain = first, False
    for _ in range(attempts):
        if not isinstance(outcome, Retry):
            return outcome
        uncertain = uncertain or outcome.uncertain
        outcome = env.run(event, reconcile=uncertain)
        if not isinstance(outcome, Retry):
            uncertain = False
    return outcome


@pytest.fixture
def github_env(aws_client: Callable[[str], Any], unique_name: Callable[[str], str]) -> Iterator[GitHubEnv]:
    dynamodb = FlakyDynamo(aws_client("dynamodb"))
    table = unique_name("tasks")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "task_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "task_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    secrets = aws_client("secretsmanager")
    default_secret = unique_name("github-default")
    secrets.create_secret(Name=default_secret, SecretString=json.dumps({"token": MAIN_TOKEN}))
    clock = FakeClock()
    github = GitHubFake(tokens={MAIN_TOKEN: BOT_LOGIN}, clock=clock, first_comment_id=9001, base_url=BASE_URL)
    http = httpx.Client(transport=mock_transport(github))
    clients = Clients(sqs=aws_client("sqs"), dynamodb=dynamodb, secrets=secrets, http=http)  # type: ignore[arg-type]
    settings = ConsumerSettings(
        channel="github",
        queue_url="unused",
        dlq_url="unused",
        task_table=table,
        ledger_table="unused",
        api_base_url=BASE_URL,
        max_attempts=10,
        max_age_s=6 * 3600,
        backoff_base_s=2.0,
        backoff_cap_s=900.0,
        claim_ttl_s=120,
        github_token_secret=default_secret,
    )
    log = io.StringIO()
    logger = Logger(service=f"github-test-{uuid.uuid4().hex[:8]}", stream=log)
    channel = GitHubChannel(settings=settings, clients=clients, clock=clock, sleep=clock.sleep, logger=logger)
    yield GitHubEnv(table, default_secret, dynamodb, secrets, clock, github, channel, log, settings, clients)
    http.close()
