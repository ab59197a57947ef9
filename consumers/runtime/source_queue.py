"""The channel's own queue: backoff through the visibility timeout (the message stays invisible until its
next try), and the early delete of a dead-lettered message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef
else:
    SQSClient = ChangeMessageVisibilityBatchRequestEntryTypeDef = Any

SQS_BATCH_LIMIT = 10


class QueueCallFailed(RuntimeError):
    """SQS refused a call: a visibility change (the message then returns after the queue's own timeout)
    or a delete (Lambda deletes the message anyway when the batch reports it succeeded)."""


class SourceQueue:
    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def delay(self, receipt_handle: str, seconds: int) -> None:
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self._url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )
        except (ClientError, BotoCoreError) as exc:
            raise QueueCallFailed(f"{type(exc).__name__}: {exc}") from exc

    def delete(self, receipt_handle: str) -> None:
        try:
            self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=receipt_handle)
        except (ClientError, BotoCoreError) as exc:
            raise QueueCallFailed(f"{type(exc).__name__}: {exc}") from exc

    def delay_many(self, handles: Sequence[tuple[str, int]]) -> list[str]:
        """Change several messages at once (receipt handle, seconds); returns what failed, as text."""
        failures: list[str] = []
        for start in range(0, len(handles), SQS_BATCH_LIMIT):
            chunk = handles[start : start + SQS_BATCH_LIMIT]
            entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                for i, (handle, seconds) in enumerate(chunk)
            ]
            try:
                response = self._sqs.change_message_visibility_batch(QueueUrl=self._url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                continue
            failures.extend(f"{f.get('Code')}: {f.get('Message', '')}" for f in response.get("Failed", []))
        return failures
