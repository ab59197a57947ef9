"""Partial batch responses, as Powertools' batch utility builds them, without its import cost.

The record handler raises for a record that must be retried, and the processor lists it in
`batchItemFailures`. Powertools' batch utility does the same but imports asyncio and its event data
classes on every cold start (about 100 ms of the router's and each consumer's import, bench/coldstart.py),
for features fanout does not use (async handlers, typed records, Pydantic models).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

Record = Mapping[str, Any]
BatchResponse = dict[str, list[dict[str, str]]]


def stream_item_id(record: Record) -> str:
    """A DynamoDB stream record's identifier in a partial batch response: its sequence number."""
    return str(record["dynamodb"]["SequenceNumber"])


def sqs_item_id(record: Record) -> str:
    return str(record["messageId"])


def sqs_group_id(record: Record) -> str | None:
    group = (record.get("attributes") or {}).get("MessageGroupId")
    return None if group is None else str(group)


def process_partial(
    records: Sequence[Record],
    record_handler: Callable[[Record], None],
    *,
    item_id: Callable[[Record], str],
    group_of: Callable[[Record], str | None] | None = None,
) -> BatchResponse:
    """Hand each record to record_handler; a record it raises for is reported failed.

    With group_of (SQS FIFO), a record whose group already failed in this batch is reported failed
    without being handled, so a group's later messages never overtake the one that failed (Powertools'
    SqsFifoPartialProcessor with skip_group_on_error=True); other groups go on.
    """
    failures: list[dict[str, str]] = []
    failed_groups: set[str] = set()
    for record in records:
        group = group_of(record) if group_of is not None else None
        if group is not None and group in failed_groups:
            failures.append({"itemIdentifier": item_id(record)})
            continue
        try:
            record_handler(record)
        except Exception:  # the record's failure is its entry in the response, as in Powertools
            failures.append({"itemIdentifier": item_id(record)})
            if group is not None:
                failed_groups.add(group)
    return {"batchItemFailures": failures}
