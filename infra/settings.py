"""Deployment settings from CDK context: which channels run, how each is tuned, where the platform is.

Context keys (in `cdk.json` or `cdk deploy -c key=value`):
- `fanout:<channel>:<setting>`: a registry ChannelSettings field in camelCase (batchSize, maxConcurrency,
  reservedConcurrency, memoryMb, timeoutS, visibilityTimeoutS, maxAttempts, maxAgeS, backoffBaseS,
  backoffCapS, maxReceiveCount), or `enabled`, `ageAlarmS` (oldest-message alarm), `apiBaseUrl`.
- `fanout:router:batchingWindowS`: how long the stream mapping gathers records before invoking the router
  (0..300 s, default 0): fewer SQS calls per event at low traffic, for that much added latency.
- `fanout:<channel>:<option>`: a value the channel's registry entry declares in `options` (email: `from`,
  `configurationSet`, `userPoolId`). A channel with a required option is enabled by default
  only when the option is given, and `enabled=true` without it is refused.
- `fanout:eventsStreamArn` + `fanout:taskTableName`: attach to an existing platform (both or neither).
- `fanout:githubTokenSecretArn`, `fanout:githubTokenSecretArnPatterns` (comma-separated or a JSON list),
  `fanout:alarmEmail`, `fanout:alarmTopicArn`, `fanout:namePrefix`, `fanout:stackName`.
- `fanout:githubTokenSecretName`: the default GitHub token secret by name, in the stack's own account and
  region (instead of `githubTokenSecretArn`; the grant covers the name plus Secrets Manager's suffix).
- `fanout:githubWebUrl`: the GitHub web URL a PR link must start with (default https://github.com; a
  GitHub Enterprise host such as https://github.example.com), given to every consumer as
  FANOUT_GITHUB_WEB_URL; an https URL with a host and nothing after it, checked here.
- `fanout:operatorRole` (true/false): also create a role holding exactly the operator policy
  (`FanoutNotifications.grant_operate`), assumable by the account, output as `OperatorRoleArn`.

`fanout:namePrefix` names every resource with a fixed name (queues, alarms, dashboard), so two stages
deploy side by side in one account; it is checked here (characters, length).

Defaults come from the channel registry; every channel's settings are validated by the registry, so an
invalid value fails `cdk synth` with the registry's message. This module does not import aws_cdk.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from consumers.runtime.settings import DEFAULT_GITHUB_WEB_URL, DEFAULT_SLACK_SECRET_PREFIX
from fanout import registry
from fanout.registry import ChannelSettings, ChannelSpec, InvalidChannelSettings

PREFIX = "fanout"
CTX_EVENTS_STREAM_ARN = "fanout:eventsStreamArn"
CTX_TASK_TABLE_NAME = "fanout:taskTableName"
CTX_GITHUB_TOKEN_SECRET_ARN = "fanout:githubTokenSecretArn"
CTX_GITHUB_TOKEN_SECRET_PATTERNS = "fanout:githubTokenSecretArnPatterns"
CTX_ALARM_EMAIL = "fanout:alarmEmail"
CTX_ALARM_TOPIC_ARN = "fanout:alarmTopicArn"
CTX_NAME_PREFIX = "fanout:namePrefix"
CTX_SLACK_SECRET_PREFIX = "fanout:slackSecretPrefix"  # Slack bot token secrets: <prefix><team_id>
CTX_STACK_NAME = "fanout:stackName"  # read by app.py
CTX_GITHUB_TOKEN_SECRET_NAME = "fanout:githubTokenSecretName"
CTX_OPERATOR_ROLE = "fanout:operatorRole"
CTX_ROUTER_BATCHING_WINDOW_S = "fanout:router:batchingWindowS"
CTX_GITHUB_WEB_URL = "fanout:githubWebUrl"  # the only host a PR link may point at (consumers' pr_links)
# Lambda's limit for a stream event source's MaximumBatchingWindowInSeconds.
MAX_BATCHING_WINDOW_S = 300
GLOBAL_KEYS = frozenset(
    {
        CTX_GITHUB_TOKEN_SECRET_NAME,
        CTX_OPERATOR_ROLE,
        CTX_EVENTS_STREAM_ARN,
        CTX_TASK_TABLE_NAME,
        CTX_GITHUB_TOKEN_SECRET_ARN,
        CTX_GITHUB_TOKEN_SECRET_PATTERNS,
        CTX_ALARM_EMAIL,
        CTX_ALARM_TOPIC_ARN,
        CTX_NAME_PREFIX,
        CTX_SLACK_SECRET_PREFIX,
        CTX_STACK_NAME,
        CTX_ROUTER_BATCHING_WINDOW_S,
        CTX_GITHUB_WEB_URL,
    }
)

# Per-channel keys that are deployment choices rather than registry settings.
KEY_ENABLED = "enabled"
KEY_AGE_ALARM_S = "ageAlarmS"
KEY_API_BASE_URL = "apiBaseUrl"
DEPLOYMENT_KEYS = frozenset({KEY_ENABLED, KEY_AGE_ALARM_S, KEY_API_BASE_URL})

# The oldest-message alarm fires at this fraction of the channel's max age, so operators hear about a
# stuck channel before its messages start to dead-letter by age.
AGE_ALARM_FRACTION = 0.5

# A fixed-name prefix: letters, digits and hyphens (what SQS, CloudWatch alarm and dashboard names all
# accept), starting with a letter; short enough that `<prefix>-<channel>-dlq.fifo` stays within SQS's 80.
NAME_PREFIX_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
NAME_PREFIX_MAX = 40
SQS_NAME_MAX = 80
# Secrets Manager's name characters; the IAM grant appends `*`, so the prefix itself must have none.
_SECRET_PREFIX = re.compile(r"[A-Za-z0-9/_+=.@-]{1,256}")

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def context_key(channel: str, setting: str) -> str:
    return f"{PREFIX}:{channel}:{setting}"


@dataclass(frozen=True, kw_only=True)
class ChannelConfig:
    """One deployed channel: its registry entry, validated settings and deployment choices."""

    spec: ChannelSpec
    settings: ChannelSettings
    age_alarm_s: int
    api_base_url: str
    options: Mapping[str, str] = field(default_factory=dict)  # registry option key -> value

    @property
    def name(self) -> str:
        return self.spec.name

    def option_environment(self) -> dict[str, str]:
        """The consumer's environment variables for the options given."""
        return {o.env: self.options[o.key] for o in self.spec.options if o.key in self.options}

    @classmethod
    def create(
        cls,
        spec: ChannelSpec,
        settings: ChannelSettings | None = None,
        *,
        age_alarm_s: int | None = None,
        api_base_url: str | None = None,
        options: Mapping[str, str] | None = None,
    ) -> ChannelConfig:
        """A validated channel config; raises InvalidChannelSettings with the registry's message."""
        given = _checked_options(spec, options or {})
        checked = spec.validate(settings or spec.settings)
        alarm = age_alarm_s if age_alarm_s is not None else int(checked.max_age_s * AGE_ALARM_FRACTION)
        if not 60 <= alarm <= checked.max_age_s:
            raise InvalidChannelSettings(
                f"channel {spec.name}: {KEY_AGE_ALARM_S} {alarm} must be 60..maxAgeS ({checked.max_age_s})"
            )
        return cls(
            spec=spec,
            settings=checked,
            age_alarm_s=alarm,
            api_base_url=api_base_url or spec.api_base_url,
            options=given,
        )


def default_channels() -> tuple[ChannelConfig, ...]:
    """Every channel that can run without options of its own (a required option has no default)."""
    return tuple(
        ChannelConfig.create(spec) for spec in registry.CHANNELS.values() if not spec.required_options
    )


def _checked_options(spec: ChannelSpec, options: Mapping[str, str]) -> dict[str, str]:
    """The options given, each checked by the registry's check; a required one missing is refused."""
    known = {o.key: o for o in spec.options}
    problems = [f"unknown option {key!r}" for key in options if key not in known]
    for required in spec.required_options:
        if not options.get(required.key):
            problems.append(
                f"{context_key(spec.name, required.key)} is required when the channel is enabled "
                f"(set it, or {context_key(spec.name, KEY_ENABLED)}=false)"
            )
    for key, value in options.items():
        check = known[key].check if key in known else None
        if check is None or not value:
            continue
        module, _, function = check.rpartition(".")
        problem = getattr(importlib.import_module(module), function)(value)
        if problem:
            problems.append(f"{context_key(spec.name, key)}: {problem}")
    if problems:
        raise InvalidChannelSettings(f"channel {spec.name}: " + "; ".join(problems))
    return {k: v for k, v in options.items() if v}


@dataclass(frozen=True, kw_only=True)
class FanoutProps:
    """What the FanoutNotifications construct deploys. Standalone unless both platform fields are set."""

    channels: Sequence[ChannelConfig] = field(default_factory=default_channels)
    events_stream_arn: str | None = None
    task_table_name: str | None = None
    github_token_secret_arn: str | None = None
    github_token_secret_arn_patterns: Sequence[str] = ()
    alarm_email: str | None = None
    alarm_topic_arn: str | None = None
    name_prefix: str | None = None
    github_token_secret_name: str | None = None
    operator_role: bool = False
    router_batching_window_s: int = 0
    slack_secret_prefix: str = DEFAULT_SLACK_SECRET_PREFIX
    github_web_url: str = DEFAULT_GITHUB_WEB_URL

    def __post_init__(self) -> None:
        check_github_web_url(self.github_web_url)
        window = self.router_batching_window_s
        if (
            isinstance(window, bool)
            or not isinstance(window, int)
            or not 0 <= window <= MAX_BATCHING_WINDOW_S
        ):
            raise InvalidChannelSettings(
                f"{CTX_ROUTER_BATCHING_WINDOW_S}={window!r} must be a whole number of seconds, "
                f"0..{MAX_BATCHING_WINDOW_S}"
            )
        if self.name_prefix is not None:
            check_name_prefix(self.name_prefix, [c.name for c in self.channels])
        if self.github_token_secret_arn and self.github_token_secret_name:
            raise InvalidChannelSettings(
                f"set {CTX_GITHUB_TOKEN_SECRET_ARN} or {CTX_GITHUB_TOKEN_SECRET_NAME}, not both"
            )
        if not self.channels:
            raise InvalidChannelSettings(
                "no channel enabled: enable at least one of " + ", ".join(registry.CHANNELS)
            )
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise InvalidChannelSettings(f"a channel is configured twice: {names}")
        if (self.events_stream_arn is None) != (self.task_table_name is None):
            raise InvalidChannelSettings(
                f"attaching to a platform needs both {CTX_EVENTS_STREAM_ARN} and {CTX_TASK_TABLE_NAME}"
            )
        if self.events_stream_arn is not None and "/stream/" not in self.events_stream_arn:
            raise InvalidChannelSettings(
                f"{CTX_EVENTS_STREAM_ARN} {self.events_stream_arn!r} is not a DynamoDB stream ARN "
                "(arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>)"
            )
        if not _SECRET_PREFIX.fullmatch(self.slack_secret_prefix):
            raise InvalidChannelSettings(
                f"{CTX_SLACK_SECRET_PREFIX} {self.slack_secret_prefix!r} is not a secret name prefix: 1-256 of "
                "letters, digits and /_+=.@- (no wildcard), e.g. bgagent/slack/"
            )
        if self.alarm_email and self.alarm_topic_arn:
            raise InvalidChannelSettings(f"set {CTX_ALARM_EMAIL} or {CTX_ALARM_TOPIC_ARN}, not both")

    @property
    def attached(self) -> bool:
        return self.events_stream_arn is not None

    def channel(self, name: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.name == name), None)

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> FanoutProps:
        """Props from CDK context (cdk.json merged with -c overrides); raises InvalidChannelSettings."""
        per_channel = _split_channel_keys(context)
        channels = []
        for spec in registry.CHANNELS.values():
            raw = per_channel.get(spec.name, {})
            option_keys = {o.key for o in spec.options}
            options = {k: text for k in option_keys if (text := _as_str(raw.get(k))) is not None}
            # A channel that needs an option is off until it is given; `enabled` given explicitly wins.
            by_default = all(o.key in options for o in spec.required_options)
            if not _as_bool(raw.get(KEY_ENABLED, by_default), context_key(spec.name, KEY_ENABLED)):
                continue
            overrides = {k: v for k, v in raw.items() if k not in DEPLOYMENT_KEYS | option_keys}
            try:
                settings = spec.settings.with_overrides(overrides)
                age = raw.get(KEY_AGE_ALARM_S)
                channels.append(
                    ChannelConfig.create(
                        spec,
                        settings,
                        age_alarm_s=None
                        if age is None
                        else _as_int(age, context_key(spec.name, KEY_AGE_ALARM_S)),
                        api_base_url=_as_str(raw.get(KEY_API_BASE_URL)),
                        options=options,
                    )
                )
            except InvalidChannelSettings as exc:
                raise InvalidChannelSettings(
                    f"invalid settings for channel {spec.name} (CDK context {PREFIX}:{spec.name}:*, "
                    f"from cdk.json or -c): {exc}"
                ) from None
        return cls(
            channels=tuple(channels),
            events_stream_arn=_as_str(context.get(CTX_EVENTS_STREAM_ARN)),
            task_table_name=_as_str(context.get(CTX_TASK_TABLE_NAME)),
            github_token_secret_arn=_as_str(context.get(CTX_GITHUB_TOKEN_SECRET_ARN)),
            github_token_secret_arn_patterns=_as_list(context.get(CTX_GITHUB_TOKEN_SECRET_PATTERNS)),
            alarm_email=_as_str(context.get(CTX_ALARM_EMAIL)),
            alarm_topic_arn=_as_str(context.get(CTX_ALARM_TOPIC_ARN)),
            name_prefix=_as_str(context.get(CTX_NAME_PREFIX)),
            github_token_secret_name=_as_str(context.get(CTX_GITHUB_TOKEN_SECRET_NAME)),
            operator_role=_as_bool(context.get(CTX_OPERATOR_ROLE, False), CTX_OPERATOR_ROLE),
            router_batching_window_s=_as_int(
                context.get(CTX_ROUTER_BATCHING_WINDOW_S, 0), CTX_ROUTER_BATCHING_WINDOW_S
            ),
            slack_secret_prefix=_as_str(context.get(CTX_SLACK_SECRET_PREFIX)) or DEFAULT_SLACK_SECRET_PREFIX,
            github_web_url=(_as_str(context.get(CTX_GITHUB_WEB_URL)) or DEFAULT_GITHUB_WEB_URL).rstrip("/"),
        )


def check_github_web_url(url: str) -> str:
    """The URL, or InvalidChannelSettings: PR links are accepted only as `<url>/<repo>/pull/<n>`, so a URL
    with a path, query, credentials or plain http would make every link be dropped or trust the wire."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises ValueError
    except ValueError as exc:
        raise InvalidChannelSettings(f"{CTX_GITHUB_WEB_URL}={url!r} is not a URL: {exc}") from None
    if (
        parts.scheme != "https"
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
        or any(c.isspace() for c in url)
    ):
        raise InvalidChannelSettings(
            f"{CTX_GITHUB_WEB_URL}={url!r} must be an https URL with a host and nothing after it "
            f"(no path, query, fragment or credentials), e.g. https://github.example.com"
        )
    return url


def check_name_prefix(prefix: str, channels: Sequence[str] = tuple(registry.CHANNELS)) -> str:
    """The prefix, or InvalidChannelSettings saying which rule it breaks."""
    if not NAME_PREFIX_PATTERN.match(prefix):
        raise InvalidChannelSettings(
            f"{CTX_NAME_PREFIX}={prefix!r}: use letters, digits and hyphens, starting with a letter "
            "(it starts every fixed resource name: queues, alarms, dashboard)"
        )
    if len(prefix) > NAME_PREFIX_MAX:
        raise InvalidChannelSettings(
            f"{CTX_NAME_PREFIX}={prefix!r} is {len(prefix)} characters long; at most {NAME_PREFIX_MAX}"
        )
    for channel in channels:
        name = registry.dlq_name(prefix, channel)
        if len(name) > SQS_NAME_MAX:
            raise InvalidChannelSettings(
                f"{CTX_NAME_PREFIX}={prefix!r}: queue name {name} exceeds SQS's {SQS_NAME_MAX} characters"
            )
    return prefix


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The `context` block of cdk.json: what the CDK CLI passes to app.py, for runs without the CLI."""
    context: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")).get("context", {})
    return context


def _split_channel_keys(context: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key, value in context.items():
        if not key.startswith(f"{PREFIX}:") or key in GLOBAL_KEYS:
            continue
        parts = key.split(":")
        if len(parts) != 3:
            raise InvalidChannelSettings(
                f"unknown CDK context key {key!r}: expected {PREFIX}:<channel>:<setting> or one of "
                + ", ".join(sorted(GLOBAL_KEYS))
            )
        _, channel, setting = parts
        if channel not in registry.CHANNELS:
            raise InvalidChannelSettings(
                f"CDK context key {key!r} names unknown channel {channel!r}; channels: {', '.join(registry.CHANNELS)}"
            )
        out.setdefault(channel, {})[setting] = value
    return out


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _as_int(value: Any, key: str) -> int:
    try:
        return int(str(value), 10)
    except ValueError:
        raise InvalidChannelSettings(f"{key}={value!r} is not an integer") from None


def _as_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off"}:
        return False
    raise InvalidChannelSettings(f"{key}={value!r} is not a boolean (true/false)")


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        text = value.strip()
        items: list[Any] = json.loads(text) if text.startswith("[") else text.split(",")
    else:
        items = list(value)
    return tuple(s for s in (str(item).strip() for item in items) if s)
