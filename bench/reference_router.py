"""The reference router for bench/router.py: the least a stream-to-SQS router can do, outside fanout.

Deserialize each stream record with boto3's TypeDeserializer, serialize it with json.dumps, and send each
channel's messages with SendMessageBatch, ten at a time. No validation, no per-task ordering, no retries,
no logging, no metrics: what any router must pay, and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer


def reference_router(sqs: Any, queue_urls: Mapping[str, str], routes: Mapping[str, frozenset[str]]) -> Any:
    deserializer = TypeDeserializer()

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[Any]]:
        entries: dict[str, list[dict[str, str]]] = {channel: [] for channel in queue_urls}
        for record in event["Records"]:
            image = {k: deserializer.deserialize(v) for k, v in record["dynamodb"]["NewImage"].items()}
            body = json.dumps(image, default=str)
            for channel in queue_urls:
                if image["event_type"] in routes[channel]:
                    entries[channel].append(
                        {
                            "Id": str(len(entries[channel])),
                            "MessageBody": body,
                            "MessageGroupId": image["task_id"],
                            "MessageDeduplicationId": image["event_id"],
                        }
                    )
        for channel, pending in entries.items():
            for start in range(0, len(pending), 10):
                sqs.send_message_batch(QueueUrl=queue_urls[channel], Entries=pending[start : start + 10])
        return {"batchItemFailures": []}

    return handler
