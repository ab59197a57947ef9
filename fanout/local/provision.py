"""What a local run keeps beside the deployed stack: data (secret values) and the names it reads back.

The resources themselves come from the stack (fanout/local/deploy.py); nothing here creates one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from fanout import registry

PREFIX = "fanout-local"
DEFAULT_GITHUB_TOKEN_SECRET = "bgagent/github/default"
LOCAL_GITHUB_TOKEN = "ghp_fanout_local_default"
SLACK_SECRET_PREFIX = "bgagent/slack/"


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
    # The runtime's own (admin) identity at the endpoint, for library hooks that build clients.
    session: Any = None


def ensure_secret(secrets: Any, name: str, value: str) -> None:
    """Create the secret, or replace its value when it exists."""
    try:
        secrets.create_secret(Name=name, SecretString=value)
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=name, SecretString=value)


def existing_secrets(secrets: Any) -> dict[str, str]:
    """Every secret the endpoint holds, by name (a reused endpoint keeps those of earlier runs)."""
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
