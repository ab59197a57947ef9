"""Create what the deployed stack has, from the channel registry: create when missing, reuse when present."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from fanout import registry
from fanout.local.endpoint import aws_client

PREFIX = "fanout-local"
DEFAULT_GITHUB_TOKEN_SECRET = "bgagent/github/default"
LOCAL_GITHUB_TOKEN = "ghp_fanout_local_default"
SLACK_SECRET_PREFIX = "bgagent/slack/"


def table_names(prefix: str = PREFIX) -> tuple[str, str, str]:
    """(task table, task events table, delivery ledger)."""
    return f"{prefix}-tasks", f"{prefix}-task-events", f"{prefix}-ledger"


def local_slack_token(team: str) -> str:
    return f"xoxb-local-{team}"


@dataclass(frozen=True)
class ChannelResources:
    name: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    settings: registry.ChannelSettings


@dataclass(frozen=True)
class Resources:
    task_table: str
    events_table: str
    ledger_table: str
    stream_arn: str
    channels: Mapping[str, ChannelResources]
    github_token_secret: str


def provision(
    endpoint_url: str,
    settings: Mapping[str, registry.ChannelSettings],
    *,
    prefix: str = PREFIX,
) -> Resources:
    ddb = aws_client(endpoint_url, "dynamodb")
    sqs = aws_client(endpoint_url, "sqs")
    task_table, events_table, ledger_table = table_names(prefix)
    _ensure_table(ddb, task_table, (registry.TASK_TABLE_KEY,))
    stream_arn = _ensure_table(ddb, events_table, registry.EVENTS_TABLE_KEYS, stream=True)
    _ensure_table(ddb, ledger_table, (registry.LEDGER_PARTITION_KEY,))
    _ensure_ttl(ddb, ledger_table)
    channels = {
        name: _ensure_channel_queues(sqs, prefix, name, channel_settings)
        for name, channel_settings in settings.items()
    }
    return Resources(
        task_table=task_table,
        events_table=events_table,
        ledger_table=ledger_table,
        stream_arn=stream_arn or "",
        channels=channels,
        github_token_secret=DEFAULT_GITHUB_TOKEN_SECRET,
    )


def ensure_secret(endpoint_url: str, name: str, value: str) -> None:
    """Create the secret, or replace its value when it exists."""
    secrets = aws_client(endpoint_url, "secretsmanager")
    try:
        secrets.create_secret(Name=name, SecretString=value)
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=name, SecretString=value)


def existing_secrets(endpoint_url: str) -> dict[str, str]:
    """Every secret the endpoint holds, by name (a reused endpoint keeps those of earlier runs)."""
    secrets = aws_client(endpoint_url, "secretsmanager")
    found: dict[str, str] = {}
    for page in secrets.get_paginator("list_secrets").paginate():
        for entry in page.get("SecretList", []):
            with contextlib.suppress(ClientError):  # deleted meanwhile, or a binary secret
                value = secrets.get_secret_value(SecretId=entry["Name"]).get("SecretString")
                if isinstance(value, str):
                    found[entry["Name"]] = value
    return found


def token_from_secret(value: str, field: str) -> str:
    """A secret string is the token itself or JSON carrying it (data-model.md)."""
    try:
        data = json.loads(value)
    except ValueError:
        return value
    token = data.get(field) if isinstance(data, dict) else None
    return token if isinstance(token, str) else value


def _ensure_table(ddb: Any, name: str, keys: tuple[str, ...], *, stream: bool = False) -> str | None:
    key_types = ("HASH", "RANGE")
    args: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": k, "KeyType": t} for k, t in zip(keys, key_types, strict=False)],
        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": "S"} for k in keys],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if stream:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    try:
        table = ddb.create_table(**args)["TableDescription"]
    except ddb.exceptions.ResourceInUseException:
        table = ddb.describe_table(TableName=name)["Table"]
        if stream and not table.get("StreamSpecification", {}).get("StreamEnabled"):
            ddb.update_table(TableName=name, StreamSpecification=args["StreamSpecification"])
            table = ddb.describe_table(TableName=name)["Table"]
    arn = table.get("LatestStreamArn")
    return arn if isinstance(arn, str) else None


def _ensure_ttl(ddb: Any, table: str) -> None:
    current = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}:
        return
    ddb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": registry.LEDGER_TTL_ATTRIBUTE},
    )


def _ensure_queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={k: v for k, v in attributes.items() if k != "FifoQueue"}
        )
    except sqs.exceptions.QueueDoesNotExist:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _ensure_channel_queues(
    sqs: Any, prefix: str, channel: str, settings: registry.ChannelSettings
) -> ChannelResources:
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    dlq_url, dlq_arn = _ensure_queue(
        sqs, registry.dlq_name(prefix, channel), {**fifo, "MessageRetentionPeriod": str(14 * 24 * 3600)}
    )
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(settings.max_receive_count)}
    queue_url, queue_arn = _ensure_queue(
        sqs,
        registry.queue_name(prefix, channel),
        {
            **fifo,
            "VisibilityTimeout": str(settings.visibility_timeout_s),
            "RedrivePolicy": json.dumps(redrive),
        },
    )
    return ChannelResources(channel, queue_url, queue_arn, dlq_url, dlq_arn, settings)
