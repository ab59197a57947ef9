"""Each delivery's deadline (from the invocation's remaining time) is checked before every call channel
code makes, httpx and AWS SDK alike; a delivery cut short is a free wait, never a function timeout. The
same hook remembers the credentials requests carry, so the tokens a consumer holds are redacted exactly."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from consumers.runtime import dlq_attributes as attrs
from consumers.runtime.channel import Prepared
from consumers.runtime.consumer import OUT_OF_TIME
from consumers.runtime.outcomes import Delivered, Outcome, Terminal
from consumers.runtime.redact import REDACTED

from .conftest import ConsumerEnv, make_event
from .test_consumer import attributes, dead_letters, failed_ids


class Invocation:
    """Lambda's context, with a clock the provider's answers move: each call takes `costs` seconds."""

    def __init__(self, remaining_s: float) -> None:
        self.remaining_ms = int(remaining_s * 1000)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class SlowProvider:
    """A channel whose delivery makes one HTTP call per entry of `costs` (seconds each takes), then,
    with `then_aws`, one DynamoDB read."""

    env: ConsumerEnv
    invocation: Invocation
    costs: list[float]
    token: str = "ghp_" + "a" * 36
    then_aws: bool = False
    answer: Outcome = field(default_factory=Delivered)
    name: str = "fakechan"
    timeouts: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        def respond(request: httpx.Request) -> httpx.Response:
            self.timeouts.append(request.extensions["timeout"])
            self.invocation.remaining_ms -= int(self.costs[len(self.timeouts) - 1] * 1000)
            return httpx.Response(200, json={"ok": True})

        self.http = httpx.Client(
            transport=httpx.MockTransport(respond), timeout=httpx.Timeout(10.0, connect=3.0)
        )
        self.env.clients = replace(self.env.clients, http=self.http)

    def prepare(self, event: Any) -> Prepared:
        return Prepared(event=event, task={})

    def reconcile(self, prepared: Prepared) -> Outcome | None:
        return None

    def deliver(self, prepared: Prepared) -> Outcome:
        for _ in self.costs:
            self.http.get("https://provider.test/call", headers={"Authorization": f"Bearer {self.token}"})
        if self.then_aws:
            self.env.dynamodb.describe_table(TableName=self.env.settings.ledger_table)
        return self.answer


def run(env: ConsumerEnv, provider: SlowProvider) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    env.channel = provider  # type: ignore[assignment]
    return env.run_batch(env.handler(), provider.invocation)


def test_calls_are_cut_to_the_time_left_and_a_delivery_out_of_time_is_a_free_uncertain_wait(
    consumer_env: ConsumerEnv,
) -> None:
    event = make_event()
    consumer_env.send(event)
    provider = SlowProvider(consumer_env, Invocation(20), costs=[8, 6, 4, 1])

    response, records = run(consumer_env, provider)

    assert len(provider.timeouts) == 3  # the fourth call was not made: 2 s left, all of it for settling
    assert provider.timeouts[0]["read"] == 10.0
    assert provider.timeouts[2] == {"connect": 3.0, "read": 4.0, "write": 4.0, "pool": 4.0}
    assert failed_ids(response) == {records[0]["messageId"]}
    assert consumer_env.sqs.delay_for(records[0]["receiptHandle"]) == 1
    item = consumer_env.ledger_item(event.event_id)
    assert item is not None
    assert item["state"] == {"S": "released"}
    assert item["attempts"] == {"N": "0"}  # no attempt spent
    assert item["uncertain"] == {"BOOL": True}  # the calls it made may have applied: reconcile first
    assert item["last_error"] == {"S": OUT_OF_TIME}


def test_an_aws_call_of_the_channel_is_checked_too(consumer_env: ConsumerEnv) -> None:
    event = make_event()
    consumer_env.send(event)
    provider = SlowProvider(consumer_env, Invocation(20), costs=[17.5], then_aws=True)

    response, records = run(consumer_env, provider)

    assert failed_ids(response) == {records[0]["messageId"]}
    item = consumer_env.ledger_item(event.event_id)
    assert item is not None
    assert (item["attempts"], item["last_error"]) == ({"N": "0"}, {"S": OUT_OF_TIME})


def test_the_tokens_the_consumer_holds_are_redacted_whatever_their_format(
    consumer_env: ConsumerEnv, log_lines: Any
) -> None:
    legacy = "0123456789abcdef0123456789abcdef01234567"[:-1] + "Z"  # no pattern knows it
    event = make_event()
    consumer_env.send(event)
    provider = SlowProvider(
        consumer_env,
        Invocation(60),
        costs=[0.1],
        token=legacy,
        answer=Terminal("http_401", f"Bad credentials: token {legacy} was revoked"),
    )

    response, _ = run(consumer_env, provider)

    assert response == {"batchItemFailures": []}
    (letter,) = dead_letters(consumer_env)
    assert attributes(letter)[attrs.LAST_ERROR] == f"Bad credentials: token {REDACTED} was revoked"
    text = str(log_lines())
    assert "dead_lettered" in text
    assert legacy not in text
