"""The channel registry: the one place that says which channels exist and how each is run.

The router, the consumers, the CDK stack and the local runtime all read it. Adding a channel is one
`ChannelSpec` here plus one consumer package whose handler module is named by `handler`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from fanout import event_types as et

# SQS limits the settings are checked against.
FIFO_MAX_BATCH_SIZE = 10
MIN_MAX_CONCURRENCY = 2  # Lambda's floor for an SQS event source's maximum concurrency
MAX_MAX_CONCURRENCY = 1000  # and its ceiling
SQS_MAX_RECEIVE_COUNT = 1000
VISIBILITY_TIMEOUT_FACTOR = 6  # AWS's guidance: queue visibility at least 6x the function timeout
SQS_MAX_VISIBILITY_S = 12 * 3600
# SQS's largest message (body plus attributes): 1 MiB since August 2025 (256 KiB before). Set explicitly on
# every queue, so a DLQ can always take the body its source queue took plus the consumer's attributes.
SQS_MAX_MESSAGE_BYTES = 1024 * 1024
SQS_MAX_RETENTION_S = 14 * 24 * 3600

# The per-record time margin of the consumer: a record is not started with less than one provider call
# (connect + read timeout) plus this for the ledger and queue writes that settle it.
SETTLE_S = 2.0
# What a record costs when it makes no provider call (age check, ledger read, queue write): a full batch
# must be able to get this far before the margin sends the rest back.
MIN_RECORD_S = 1.0
# Receives a message may spend on short waits (1 s) before every further wait is at least `minWaitS`.
FAST_RECEIVES = 50
# Receives after the age budget ended: the one that dead-letters, plus retries of the ledger and DLQ.
TAIL_RECEIVES = 10
DEFAULT_MIN_WAIT_S = 10
FLOOR_RECEIVES = 720

# The delivery ledger (once-only per channel and event): one item per (channel, event id).
LEDGER_PARTITION_KEY = "pk"
LEDGER_TTL_ATTRIBUTE = "expires_at"
# Coordination items beside the delivery entries: "<kind>#<channel>#<key>" (consumers/runtime/shared_*.py).
LEDGER_ITEM_KINDS = ("ratelimit", "outage")


def ledger_key_patterns(channel: str) -> tuple[str, ...]:
    """The ledger keys one channel's consumer may touch (IAM `dynamodb:LeadingKeys` patterns): its
    delivery entries "<channel>#<event id>" and its coordination items "<kind>#<channel>#<key>"."""
    return (f"{channel}#*", *(f"{kind}#{channel}#*" for kind in LEDGER_ITEM_KINDS))


# Tables the platform owns (data-model.md).
TASK_TABLE_KEY = "task_id"
EVENTS_TABLE_KEYS = ("task_id", "event_id")


CLAIM_TTL_FACTOR = 2
_FLOAT_FIELDS = frozenset(
    {"backoff_base_s", "backoff_cap_s", "http_connect_timeout_s", "http_read_timeout_s"}
)


class InvalidChannelSettings(ValueError):
    """Channel settings that cannot be deployed; the message names the channel, the field and the rule."""


@dataclass(frozen=True)
class ChannelSettings:
    """How a channel's queue and consumer run. Every field can be overridden per deployment."""

    batch_size: int
    max_concurrency: int
    reserved_concurrency: int | None
    memory_mb: int
    timeout_s: int
    visibility_timeout_s: int
    max_attempts: int
    max_age_s: int
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 900.0
    # Native redrive is only the backstop for consumers that crash or time out before they can act: the
    # consumer dead-letters by its own budget (attempts, age) with a reason, and deferrals cost receives
    # but no attempt, so this sits at SQS's ceiling, far above what budgeted retries reach.
    max_receive_count: int = SQS_MAX_RECEIVE_COUNT
    # Every wait after FAST_RECEIVES receives lasts at least this long, so the receives a message can spend
    # inside its age budget are bounded (see `min_receive_count`).
    # None: derived from maxAgeS (`wait_floor_s`), so that any age budget fits SQS's receive ceiling.
    min_wait_s: int | None = None
    # One provider call: httpx's connect and (per chunk) read timeouts.
    http_connect_timeout_s: float = 3.0
    http_read_timeout_s: float = 10.0
    # Rate limits and outages: how long a key stays "hot" (shared windows read before each call) after
    # trouble on it, and after how long without a probe an outage is stale (a new failure opens a new one).
    hot_window_s: int = 120
    outage_stale_s: int = 60
    # How long completed ledger entries are kept: past the DLQ's retention, so a late duplicate is known.
    ledger_retention_s: int = 15 * 24 * 3600

    def with_overrides(self, overrides: Mapping[str, Any]) -> ChannelSettings:
        """Settings with some fields replaced; values may be strings (CDK context, environment)."""
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, raw in overrides.items():
            name = _snake(key)
            if name not in known:
                names = ", ".join(sorted(_camel(n) for n in known))
                raise InvalidChannelSettings(f"unknown setting {key!r}; known: {names}")
            changes[name] = _coerce(key, raw, float if name in _FLOAT_FIELDS else int)
        return replace(self, **changes)

    @property
    def record_margin_s(self) -> float:
        """Time left below which the consumer sends a record back instead of starting it."""
        return self.http_connect_timeout_s + self.http_read_timeout_s + SETTLE_S

    @property
    def claim_ttl_s(self) -> int:
        """A claim outlives the longest attempt that could hold it (the function timeout), with a margin,
        so an expired claim really means the attempt that took it is gone."""
        return CLAIM_TTL_FACTOR * self.timeout_s

    @property
    def wait_floor_s(self) -> int:
        """`minWaitS`, or when unset the larger of DEFAULT_MIN_WAIT_S and what keeps the age budget's
        receives to FLOOR_RECEIVES (10 s for a 2 h budget, 30 s for 6 h)."""
        if self.min_wait_s is not None:
            return self.min_wait_s
        return max(DEFAULT_MIN_WAIT_S, math.ceil(self.max_age_s / FLOOR_RECEIVES))

    @property
    def min_receive_count(self) -> int:
        """The fewest receives SQS's own redrive may allow, so that it can only fire for a consumer that
        crashes before acting. Every receive is followed by a wait; after FAST_RECEIVES receives every wait
        (an attempt's backoff, a rate-limit hold, an outage probe, a held claim, `out_of_time`, and the
        wait of a later message of the task held back with the first) lasts at least `minWaitS`, so the
        age budget holds at most maxAgeS / minWaitS of them. After the budget, a held claim can still
        bring the message back until it expires, then the receive that dead-letters it, with a few
        retries of the ledger and the DLQ."""
        in_budget = math.ceil(self.max_age_s / self.wait_floor_s)
        claim = math.ceil(self.claim_ttl_s / self.wait_floor_s)
        return FAST_RECEIVES + in_budget + claim + TAIL_RECEIVES


@dataclass(frozen=True)
class ChannelOption:
    """A deployment value a channel needs beyond its tuning (an SES sender, say), given as CDK context
    `fanout:<channel>:<key>` and handed to the consumer as the environment variable `env`.

    `required`: the channel cannot run without it; a channel with a required option is off unless the
    option is given, and synth refuses `enabled` without it. `check`: "package.module.function" taking
    the value and returning what is wrong with it (None when it is fine), run at synth."""

    key: str
    env: str
    required: bool = False
    check: str | None = None


@dataclass(frozen=True)
class ChannelSpec:
    """One channel: what it renders, how it is run and deployed."""

    name: str
    renderable: frozenset[str]
    default_subscriptions: frozenset[str]
    settings: ChannelSettings
    handler: str  # "package.module.function" of the consumer Lambda
    channel_factory: str  # "package.module.function" building the Channel (for in-process runtimes)
    api_base_url: str
    # Task-table attributes the consumer writes (its bookkeeping); its role may update no others.
    task_attributes: frozenset[str] = frozenset()
    options: tuple[ChannelOption, ...] = ()
    # "package.module.function(pipeline, config)" granting what the consumer needs beyond its queues,
    # the ledger and the task table (called by the CDK construct where the resources meet).
    infra_hook: str | None = None
    # Consumer metrics (the channel's own EMF counts) that page an operator on any occurrence; each gets
    # an alarm `<channel>-<metric>` and a line on the channel's dashboard row.
    alarm_metrics: tuple[str, ...] = ()

    @property
    def required_options(self) -> tuple[ChannelOption, ...]:
        return tuple(o for o in self.options if o.required)

    @property
    def writes_task(self) -> bool:
        """Whether the consumer writes to the task at all (its bookkeeping fields, data-model.md)."""
        return bool(self.task_attributes)

    def validate(self, settings: ChannelSettings | None = None) -> ChannelSettings:
        """Raise InvalidChannelSettings for anything that would not deploy or would misbehave."""
        s = settings or self.settings
        problems: list[str] = []
        if self.name in LEDGER_ITEM_KINDS or "#" in self.name or "*" in self.name:
            problems.append(
                f"the name must not be a ledger item kind ({', '.join(LEDGER_ITEM_KINDS)}) nor hold # or *"
            )
        if not 1 <= s.batch_size <= FIFO_MAX_BATCH_SIZE:
            problems.append(f"batchSize {s.batch_size} must be 1..{FIFO_MAX_BATCH_SIZE} for a FIFO queue")
        if not MIN_MAX_CONCURRENCY <= s.max_concurrency <= MAX_MAX_CONCURRENCY:
            problems.append(
                f"maxConcurrency {s.max_concurrency} must be {MIN_MAX_CONCURRENCY}..{MAX_MAX_CONCURRENCY}"
            )
        if s.reserved_concurrency is not None and s.reserved_concurrency < s.max_concurrency:
            problems.append(
                f"reservedConcurrency {s.reserved_concurrency} is below maxConcurrency {s.max_concurrency}"
            )
        if not 1 <= s.timeout_s <= 900:
            problems.append(f"timeoutS {s.timeout_s} must be 1..900")
        if not (s.http_connect_timeout_s > 0 and s.http_read_timeout_s > 0):
            problems.append("httpConnectTimeoutS and httpReadTimeoutS must be positive")
        needed = s.record_margin_s + s.batch_size * MIN_RECORD_S
        if s.timeout_s < needed:
            # Below the margin every record is sent back before anything runs: nothing is ever delivered,
            # and nothing ever dead-lettered.
            problems.append(
                f"timeoutS {s.timeout_s} is below {needed:g}: the per-record margin (httpConnectTimeoutS + "
                f"httpReadTimeoutS + {SETTLE_S:g} s = {s.record_margin_s:g} s) plus {MIN_RECORD_S:g} s for "
                f"each of the batchSize {s.batch_size} records"
            )
        if s.visibility_timeout_s < VISIBILITY_TIMEOUT_FACTOR * s.timeout_s:
            problems.append(
                f"visibilityTimeoutS {s.visibility_timeout_s} is below {VISIBILITY_TIMEOUT_FACTOR}x "
                f"timeoutS ({VISIBILITY_TIMEOUT_FACTOR * s.timeout_s})"
            )
        if s.visibility_timeout_s > SQS_MAX_VISIBILITY_S:
            problems.append(f"visibilityTimeoutS {s.visibility_timeout_s} exceeds {SQS_MAX_VISIBILITY_S}")
        if not 128 <= s.memory_mb <= 10240:
            problems.append(f"memoryMb {s.memory_mb} must be 128..10240")
        if s.max_attempts < 1:
            problems.append(f"maxAttempts {s.max_attempts} must be at least 1")
        if not 60 <= s.max_age_s <= SQS_MAX_VISIBILITY_S:
            # Backoff is a visibility change, and SQS allows 12 h of visibility since first receipt.
            problems.append(f"maxAgeS {s.max_age_s} must be 60..{SQS_MAX_VISIBILITY_S}")
        if not 0 < s.backoff_base_s <= s.backoff_cap_s:
            problems.append("backoffBaseS must be positive and not above backoffCapS")
        if not 1 <= s.wait_floor_s <= s.max_age_s:
            problems.append(f"minWaitS {s.wait_floor_s} must be 1..maxAgeS ({s.max_age_s})")
        elif not s.min_receive_count <= s.max_receive_count <= SQS_MAX_RECEIVE_COUNT:
            problems.append(
                f"maxReceiveCount {s.max_receive_count} must be {s.min_receive_count}..{SQS_MAX_RECEIVE_COUNT}: "
                f"below {s.min_receive_count} SQS itself moves messages that are only waiting to the DLQ, "
                f"with no reason and no ledger reset ({FAST_RECEIVES} short waits + maxAgeS {s.max_age_s} / "
                f"minWaitS {s.wait_floor_s} + a held claim ({s.claim_ttl_s} s) / minWaitS + {TAIL_RECEIVES}); "
                "raise minWaitS or lower maxAgeS to need fewer"
            )
        if not 1 <= s.hot_window_s <= SQS_MAX_VISIBILITY_S:
            problems.append(f"hotWindowS {s.hot_window_s} must be 1..{SQS_MAX_VISIBILITY_S}")
        if not 1 <= s.outage_stale_s <= SQS_MAX_VISIBILITY_S:
            problems.append(f"outageStaleS {s.outage_stale_s} must be 1..{SQS_MAX_VISIBILITY_S}")
        if s.ledger_retention_s <= SQS_MAX_RETENTION_S:
            # A completed entry must outlive every copy of its message (queue and DLQ keep 14 days), or a
            # late duplicate or a redrive would be delivered again.
            problems.append(
                f"ledgerRetentionS {s.ledger_retention_s} must exceed the queues' retention "
                f"({SQS_MAX_RETENTION_S} s)"
            )
        if problems:
            raise InvalidChannelSettings(f"channel {self.name}: " + "; ".join(problems))
        return s


TERMINALS = et.TERMINAL

SLACK = ChannelSpec(
    name="slack",
    renderable=frozenset({et.TASK_CREATED, et.SESSION_STARTED, et.AGENT_ERROR} | TERMINALS),
    default_subscriptions=frozenset({et.TASK_CREATED, et.SESSION_STARTED, et.AGENT_ERROR} | TERMINALS),
    settings=ChannelSettings(
        batch_size=10,
        max_concurrency=5,
        reserved_concurrency=None,
        memory_mb=256,
        timeout_s=30,
        visibility_timeout_s=180,
        max_attempts=10,
        max_age_s=2 * 3600,
    ),
    handler="consumers.slack.handler.handler",
    channel_factory="consumers.slack.channel.build_slack_channel",
    api_base_url="https://slack.com/api",
    task_attributes=frozenset({"channel_metadata"}),
    infra_hook="infra.slack.wire_slack",  # the per-workspace bot token secrets
)

GITHUB = ChannelSpec(
    name="github",
    renderable=frozenset({et.PR_CREATED} | TERMINALS),
    default_subscriptions=frozenset({et.PR_CREATED} | TERMINALS),
    settings=ChannelSettings(
        batch_size=10,
        max_concurrency=2,
        reserved_concurrency=None,
        memory_mb=256,
        timeout_s=60,
        visibility_timeout_s=360,
        max_attempts=10,
        max_age_s=6 * 3600,
    ),
    handler="consumers.github.handler.handler",
    channel_factory="consumers.github.channel.build_github_channel",
    api_base_url="https://api.github.com",
    task_attributes=frozenset({"github_comment_id"}),
    infra_hook="infra.github.wire_github",  # the default and per-repository token secrets
)

# Email (Amazon SES v2): quiet by default (the outcomes users asked about). Its provider is the AWS
# endpoint, so `api_base_url` is empty: a non-empty one points the SES client elsewhere (a stand-in).
EMAIL = ChannelSpec(
    name="email",
    renderable=TERMINALS,
    default_subscriptions=frozenset({et.TASK_COMPLETED, et.TASK_FAILED}),
    settings=ChannelSettings(
        batch_size=10,
        max_concurrency=2,
        reserved_concurrency=None,
        memory_mb=256,
        timeout_s=30,
        visibility_timeout_s=180,
        max_attempts=8,
        # SQS's 12 h: a 24-hour sending quota that ran out holds the channel an hour at a time.
        max_age_s=SQS_MAX_VISIBILITY_S,
    ),
    handler="consumers.email.handler.handler",
    channel_factory="consumers.email.channel.build_email_channel",
    api_base_url="",
    options=(
        ChannelOption(
            "from", "FANOUT_EMAIL_FROM", required=True, check="consumers.email.address.sender_problem"
        ),
        ChannelOption(
            "configurationSet", "FANOUT_EMAIL_CONFIGURATION_SET", check="consumers.email.config.name_problem"
        ),
        ChannelOption("userPoolId", "FANOUT_EMAIL_USER_POOL_ID", check="consumers.email.config.pool_problem"),
    ),
    infra_hook="infra.email.wire_email",
    alarm_metrics=("SendQuotaExceeded", "SendingPaused"),
)

CHANNELS: Mapping[str, ChannelSpec] = {spec.name: spec for spec in (SLACK, GITHUB, EMAIL)}


def get(name: str) -> ChannelSpec:
    try:
        return CHANNELS[name]
    except KeyError:
        raise KeyError(f"unknown channel {name!r}; channels: {', '.join(CHANNELS)}") from None


def channels_for(event_type: str, enabled: Iterable[str] | None = None) -> list[ChannelSpec]:
    """The channels whose consumer can render this effective event type (the router's only filter)."""
    names = CHANNELS.keys() if enabled is None else enabled
    return [CHANNELS[n] for n in names if event_type in CHANNELS[n].renderable]


def queue_name(prefix: str, channel: str) -> str:
    return f"{prefix}-{channel}.fifo"


def dlq_name(prefix: str, channel: str) -> str:
    return f"{prefix}-{channel}-dlq.fifo"


# What each channel's stack outputs name (the CLI finds a deployed stack's resources by these).
OUTPUT_QUEUE_URL = "QueueUrl"
OUTPUT_QUEUE_ARN = "QueueArn"
OUTPUT_DLQ_URL = "DlqUrl"
OUTPUT_DLQ_ARN = "DlqArn"
OUTPUT_CONSUMER_NAME = "ConsumerFunctionName"
OUTPUT_EVENT_SOURCE_MAPPING_ID = "EventSourceMappingId"


def output_key(channel: str, what: str) -> str:
    """CloudFormation output names: e.g. SlackQueueUrl, GithubDlqUrl, SlackEventSourceMappingId."""
    return f"{channel.capitalize()}{what}"


def _snake(key: str) -> str:
    out = "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
    aliases = {"timeout": "timeout_s", "memory": "memory_mb", "visibility_timeout": "visibility_timeout_s"}
    return aliases.get(out, out)


def _camel(name: str) -> str:
    """A field name as operators write it in context and messages: max_concurrency -> maxConcurrency."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _coerce(name: str, raw: Any, kind: type) -> Any:
    """`name` as the operator wrote it (context key), for the message."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in {"", "none", "null"}):
        if _snake(name) in {"reserved_concurrency", "min_wait_s"}:
            return None
        raise InvalidChannelSettings(f"{name} needs a value")
    try:
        return kind(raw) if kind is float else int(str(raw), 10)
    except ValueError:
        raise InvalidChannelSettings(f"{name}={raw!r} is not a {kind.__name__}") from None
