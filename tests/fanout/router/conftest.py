"""Router test fixtures: real FIFO queues on the moto server, and an SQS client that fails some entries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from fanout.router.settings import RouterSettings


@dataclass
class FlakySQS:
    """Passes calls to a real client; entries the predicate picks come back in `Failed` instead."""

    real: Any
    fails: Callable[[dict[str, Any], int], bool]  # (entry, call number) -> fail it?
    sender_fault: bool = False
    calls: list[list[str]] = field(default_factory=list)

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        call = len(self.calls)
        self.calls.append([e["MessageDeduplicationId"] for e in Entries])
        failing = [e for e in Entries if self.fails(e, call)]
        passing = [e for e in Entries if e not in failing]
        response: dict[str, Any] = {"Successful": [], "Failed": []}
        if passing:
            response = self.real.send_message_batch(QueueUrl=QueueUrl, Entries=passing)
            response.setdefault("Failed", [])
        response["Failed"] += [
            {"Id": e["Id"], "SenderFault": self.sender_fault, "Code": "InternalError", "Message": "injected"}
            for e in failing
        ]
        return response


@pytest.fixture
def channel_queues(aws_client, unique_name) -> Callable[[], tuple[RouterSettings, Any]]:
    """Factory: a FIFO queue per channel, returns (router settings, sqs client)."""

    def make() -> tuple[RouterSettings, Any]:
        sqs = aws_client("sqs")
        prefix = unique_name("router")
        urls = {
            channel: sqs.create_queue(QueueName=f"{prefix}-{channel}.fifo", Attributes={"FifoQueue": "true"})[
                "QueueUrl"
            ]
            for channel in ("slack", "github")
        }
        return RouterSettings(queue_urls=urls), sqs

    return make


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message on a queue, in delivery order (deleting as it goes, so FIFO groups unlock)."""
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not got:
            return out
        for message in got:
            out.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
