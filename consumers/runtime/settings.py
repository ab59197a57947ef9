"""Consumer settings, read from the environment once, in one place.

The CDK stack and the local runtime set exactly these variables (see `environment_for`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

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
ENV_GITHUB_WEB_URL = "FANOUT_GITHUB_WEB_URL"  # the only host a PR link may point at (pr_links.py)
ENV_TIMEOUT_S = "FANOUT_TIMEOUT_S"  # the function's own timeout, for the checks below
ENV_MIN_WAIT_S = "FANOUT_MIN_WAIT_S"
ENV_HTTP_CONNECT_TIMEOUT_S = "FANOUT_HTTP_CONNECT_TIMEOUT_S"
ENV_HTTP_READ_TIMEOUT_S = "FANOUT_HTTP_READ_TIMEOUT_S"
ENV_HOT_WINDOW_S = "FANOUT_HOT_WINDOW_S"
ENV_OUTAGE_STALE_S = "FANOUT_OUTAGE_STALE_S"
ENV_LEDGER_RETENTION_S = "FANOUT_LEDGER_RETENTION_S"
ENV_SLACK_SECRET_PREFIX = "FANOUT_SLACK_SECRET_PREFIX"
ENV_GITHUB_TOKEN_SECRET = "FANOUT_GITHUB_TOKEN_SECRET"

DEFAULT_SLACK_SECRET_PREFIX = "bgagent/slack/"
DEFAULT_GITHUB_WEB_URL = "https://github.com"
CLAIM_TTL_FACTOR = registry.CLAIM_TTL_FACTOR
_DEFAULTS = registry.ChannelSettings(
    batch_size=1, max_concurrency=2, reserved_concurrency=None, memory_mb=128, timeout_s=30,
    visibility_timeout_s=180, max_attempts=1, max_age_s=3600,
)  # fmt: skip
# Completed ledger entries are kept past the DLQ's 14-day retention, so a late duplicate is recognised.
DONE_RETENTION_S = _DEFAULTS.ledger_retention_s


class SettingsError(RuntimeError):
    """The function is deployed without a setting it needs (a deployment bug, not a message problem)."""


@dataclass(frozen=True)
class ConsumerSettings:
    """A consumer's settings, read from the environment once and validated."""

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
    min_wait_s: int = registry.DEFAULT_MIN_WAIT_S
    http_connect_timeout_s: float = _DEFAULTS.http_connect_timeout_s
    http_read_timeout_s: float = _DEFAULTS.http_read_timeout_s
    hot_window_s: int = _DEFAULTS.hot_window_s
    outage_stale_s: int = _DEFAULTS.outage_stale_s
    ledger_retention_s: int = _DEFAULTS.ledger_retention_s
    github_web_url: str = DEFAULT_GITHUB_WEB_URL
    # The channel's own variables (FANOUT_<CHANNEL>_*: its registry options, say), for its factory to
    # validate: the runtime reads the environment once, here, and nothing else reads it.
    channel_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def record_margin_s(self) -> float:
        """A record is not started with less than this left of the invocation: one provider call that
        runs into its HTTP timeouts, plus the ledger and queue writes that settle the message after it."""
        return self.http_connect_timeout_s + self.http_read_timeout_s + registry.SETTLE_S


def channel_env_prefix(channel: str) -> str:
    return f"FANOUT_{channel.upper()}_"


def load_settings(environ: Mapping[str, str] | None = None) -> ConsumerSettings:
    """Read and check every setting once (at cold start); a problem names the variable and the rule."""
    env = os.environ if environ is None else environ

    def required(name: str) -> str:
        value = env.get(name, "").strip()
        if not value:
            raise SettingsError(f"environment variable {name} is not set")
        return value

    name = required(ENV_CHANNEL)
    try:
        channel = registry.get(name)
    except KeyError as exc:
        raise SettingsError(f"environment variable {ENV_CHANNEL}={name!r}: {exc.args[0]}") from None
    d = channel.settings

    def number(var: str, default: float, kind: type[int] | type[float], low: float, high: float) -> Any:
        raw = env.get(var, "").strip()
        if not raw:
            return kind(default)
        try:
            value = kind(raw)
        except ValueError:
            raise SettingsError(
                f"environment variable {var}={raw!r} is not a{'n integer' if kind is int else ' number'}"
            ) from None
        if not (low <= value <= high and math.isfinite(value)):
            raise SettingsError(f"environment variable {var}={raw!r} must be {low:g}..{high:g}")
        return value

    day, half_day = 24 * 3600.0, float(registry.SQS_MAX_VISIBILITY_S)
    timeout = number(ENV_TIMEOUT_S, d.timeout_s, int, 1, 900)
    settings = ConsumerSettings(
        channel=channel.name,
        queue_url=required(ENV_QUEUE_URL),
        dlq_url=required(ENV_DLQ_URL),
        task_table=required(ENV_TASK_TABLE),
        ledger_table=required(ENV_LEDGER_TABLE),
        api_base_url=env.get(ENV_API_BASE_URL, "").rstrip("/") or channel.api_base_url,
        max_attempts=number(ENV_MAX_ATTEMPTS, d.max_attempts, int, 1, registry.SQS_MAX_RECEIVE_COUNT),
        max_age_s=number(ENV_MAX_AGE_S, d.max_age_s, int, 60, half_day),
        backoff_base_s=number(ENV_BACKOFF_BASE_S, d.backoff_base_s, float, 0.001, half_day),
        backoff_cap_s=number(ENV_BACKOFF_CAP_S, d.backoff_cap_s, float, 0.001, half_day),
        claim_ttl_s=number(ENV_CLAIM_TTL_S, CLAIM_TTL_FACTOR * timeout, int, 1, half_day),
        slack_secret_prefix=env.get(ENV_SLACK_SECRET_PREFIX) or DEFAULT_SLACK_SECRET_PREFIX,
        github_token_secret=env.get(ENV_GITHUB_TOKEN_SECRET) or None,
        min_wait_s=number(ENV_MIN_WAIT_S, d.wait_floor_s, int, 1, half_day),
        http_connect_timeout_s=number(ENV_HTTP_CONNECT_TIMEOUT_S, d.http_connect_timeout_s, float, 0.1, 900),
        http_read_timeout_s=number(ENV_HTTP_READ_TIMEOUT_S, d.http_read_timeout_s, float, 0.1, 900),
        hot_window_s=number(ENV_HOT_WINDOW_S, d.hot_window_s, int, 1, half_day),
        outage_stale_s=number(ENV_OUTAGE_STALE_S, d.outage_stale_s, int, 1, half_day),
        ledger_retention_s=number(ENV_LEDGER_RETENTION_S, d.ledger_retention_s, int, 1, 365 * day),
        github_web_url=_web_url(env.get(ENV_GITHUB_WEB_URL, "").strip() or DEFAULT_GITHUB_WEB_URL),
        channel_env={k: v for k, v in env.items() if k.startswith(channel_env_prefix(channel.name))},
    )
    _check_together(settings, timeout)
    return settings


def _web_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"https", "http"} or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(f"environment variable {ENV_GITHUB_WEB_URL}={value!r} is not an http(s) base URL")
    return value.rstrip("/")


def _check_together(s: ConsumerSettings, timeout_s: int) -> None:
    """Settings that are each fine but wrong together (the CDK stack checks them too, at synth)."""
    if s.backoff_base_s > s.backoff_cap_s:
        raise SettingsError(
            f"{ENV_BACKOFF_BASE_S} {s.backoff_base_s:g} is above {ENV_BACKOFF_CAP_S} {s.backoff_cap_s:g}"
        )
    if s.claim_ttl_s < timeout_s:
        raise SettingsError(
            f"{ENV_CLAIM_TTL_S} {s.claim_ttl_s} is below the function timeout ({timeout_s} s): a claim could "
            "expire while its attempt still runs, and a second attempt would send again"
        )
    if s.record_margin_s >= timeout_s:
        raise SettingsError(
            f"{ENV_HTTP_CONNECT_TIMEOUT_S} + {ENV_HTTP_READ_TIMEOUT_S} + {registry.SETTLE_S:g} s "
            f"({s.record_margin_s:g} s) must be below the function timeout ({timeout_s} s)"
        )
    if s.ledger_retention_s <= registry.SQS_MAX_RETENTION_S:
        raise SettingsError(
            f"{ENV_LEDGER_RETENTION_S} {s.ledger_retention_s} must exceed the queues' retention "
            f"({registry.SQS_MAX_RETENTION_S} s), or a late duplicate is delivered again"
        )


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
        ENV_CLAIM_TTL_S: str(settings.claim_ttl_s),
        ENV_TIMEOUT_S: str(settings.timeout_s),
        ENV_MIN_WAIT_S: str(settings.wait_floor_s),
        ENV_HTTP_CONNECT_TIMEOUT_S: str(settings.http_connect_timeout_s),
        ENV_HTTP_READ_TIMEOUT_S: str(settings.http_read_timeout_s),
        ENV_HOT_WINDOW_S: str(settings.hot_window_s),
        ENV_OUTAGE_STALE_S: str(settings.outage_stale_s),
        ENV_LEDGER_RETENTION_S: str(settings.ledger_retention_s),
    }
    if github_token_secret:
        env[ENV_GITHUB_TOKEN_SECRET] = github_token_secret
    return env
