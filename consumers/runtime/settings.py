"""Consumer settings, read from the environment once, in one place.

The CDK stack and the local runtime set exactly these variables (see `environment_for`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from fanout import registry

ENV_CHANNEL = "FANOUT_CHANNEL"
ENV_QUEUE_URL = "FANOUT_QUEUE_URL"
ENV_DLQ_URL = "FANOUT_DLQ_URL"
ENV_TASK_TABLE = "FANOUT_TASK_TABLE"
ENV_LEDGER_TABLE = "FANOUT_LEDGER_TABLE"
ENV_API_BASE_URL = "FANOUT_API_BASE_URL"
ENV_MAX_ATTEMPTS = "FANOUT_MAX_ATTEMPTS"
ENV_MAX_AGE_S = "FANOUT_MAX_AGE_S"
ENV_BACKOFF_BASE_S = "FANOUT_BACKOFF_BASE_S"
ENV_BACKOFF_CAP_S = "FANOUT_BACKOFF_CAP_S"
ENV_CLAIM_TTL_S = "FANOUT_CLAIM_TTL_S"
ENV_SLACK_SECRET_PREFIX = "FANOUT_SLACK_SECRET_PREFIX"
ENV_GITHUB_TOKEN_SECRET = "FANOUT_GITHUB_TOKEN_SECRET"

DEFAULT_SLACK_SECRET_PREFIX = "bgagent/slack/"
# A claim outlives the longest attempt that could hold it (the function timeout) with a margin, so an
# expired claim really means the attempt that took it is gone.
CLAIM_TTL_FACTOR = 2
# Completed ledger entries are kept past the DLQ's 14-day retention, so a late duplicate is recognised.
DONE_RETENTION_S = 15 * 24 * 3600


class SettingsError(RuntimeError):
    """The function is deployed without a setting it needs (a deployment bug, not a message problem)."""


@dataclass(frozen=True)
class ConsumerSettings:
    channel: str
    queue_url: str
    dlq_url: str
    task_table: str
    ledger_table: str
    api_base_url: str
    max_attempts: int
    max_age_s: int
    backoff_base_s: float
    backoff_cap_s: float
    claim_ttl_s: int
    slack_secret_prefix: str = DEFAULT_SLACK_SECRET_PREFIX
    github_token_secret: str | None = None


def load_settings(environ: Mapping[str, str] | None = None) -> ConsumerSettings:
    env = os.environ if environ is None else environ

    def required(name: str) -> str:
        value = env.get(name, "").strip()
        if not value:
            raise SettingsError(f"environment variable {name} is not set")
        return value

    channel = registry.get(required(ENV_CHANNEL))
    defaults = channel.settings
    try:
        return ConsumerSettings(
            channel=channel.name,
            queue_url=required(ENV_QUEUE_URL),
            dlq_url=required(ENV_DLQ_URL),
            task_table=required(ENV_TASK_TABLE),
            ledger_table=required(ENV_LEDGER_TABLE),
            api_base_url=env.get(ENV_API_BASE_URL, "").rstrip("/") or channel.api_base_url,
            max_attempts=int(env.get(ENV_MAX_ATTEMPTS, defaults.max_attempts)),
            max_age_s=int(env.get(ENV_MAX_AGE_S, defaults.max_age_s)),
            backoff_base_s=float(env.get(ENV_BACKOFF_BASE_S, defaults.backoff_base_s)),
            backoff_cap_s=float(env.get(ENV_BACKOFF_CAP_S, defaults.backoff_cap_s)),
            claim_ttl_s=int(env.get(ENV_CLAIM_TTL_S, CLAIM_TTL_FACTOR * defaults.timeout_s)),
            slack_secret_prefix=env.get(ENV_SLACK_SECRET_PREFIX) or DEFAULT_SLACK_SECRET_PREFIX,
            github_token_secret=env.get(ENV_GITHUB_TOKEN_SECRET) or None,
        )
    except ValueError as exc:
        raise SettingsError(f"a numeric FANOUT_* setting is not a number: {exc}") from exc


def environment_for(
    channel: registry.ChannelSpec,
    settings: registry.ChannelSettings,
    *,
    queue_url: str,
    dlq_url: str,
    task_table: str,
    ledger_table: str,
    api_base_url: str | None = None,
    github_token_secret: str | None = None,
) -> dict[str, str]:
    """The environment a consumer function gets, for the CDK stack and the local runtime alike."""
    env = {
        ENV_CHANNEL: channel.name,
        ENV_QUEUE_URL: queue_url,
        ENV_DLQ_URL: dlq_url,
        ENV_TASK_TABLE: task_table,
        ENV_LEDGER_TABLE: ledger_table,
        ENV_API_BASE_URL: api_base_url or channel.api_base_url,
        ENV_MAX_ATTEMPTS: str(settings.max_attempts),
        ENV_MAX_AGE_S: str(settings.max_age_s),
        ENV_BACKOFF_BASE_S: str(settings.backoff_base_s),
        ENV_BACKOFF_CAP_S: str(settings.backoff_cap_s),
        ENV_CLAIM_TTL_S: str(CLAIM_TTL_FACTOR * settings.timeout_s),
    }
    if github_token_secret:
        env[ENV_GITHUB_TOKEN_SECRET] = github_token_secret
    return env
