"""Factories for DynamoDB stream records in Lambda's shape."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from fanout.dynamo import to_attribute

_sequence = itertools.count(1000)


attribute = to_attribute  # a plain value as a DynamoDB attribute value (what the stream delivers)


StreamRecord = Callable[..., dict[str, Any]]


@pytest.fixture
def stream_record() -> StreamRecord:
    def make(
        *,
        task_id: str = "task-1",
        event_id: str | None = None,
        event_type: str = "task_created",
        timestamp: str = "2026-11-26T10:00:00Z",
        metadata: dict[str, Any] | None = None,
        event_name: str = "INSERT",
        image: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        sequence = str(next(_sequence))
        if image is None:
            item: dict[str, Any] = {
                "task_id": task_id,
                "event_id": event_id or f"01J{sequence:0>23}",
                "event_type": event_type,
                "timestamp": timestamp,
            }
            if metadata is not None:
                item["metadata"] = metadata
            image = {k: attribute(v) for k, v in item.items()}
        return {
            "eventID": f"evt-{sequence}",
            "eventName": event_name,
            "eventSource": "aws:dynamodb",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/events/stream/2026",
            "dynamodb": {
                "Keys": {k: image[k] for k in ("task_id", "event_id") if k in image},
                "NewImage": image,
                "SequenceNumber": sequence,
                "StreamViewType": "NEW_IMAGE",
            },
        }

    return make
