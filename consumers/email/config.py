"""The email channel's own settings, read from the environment once and validated (the shared ones are
in consumers.runtime.settings). The CDK stack sets them from the registry's options for `email`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from consumers.email.address import address_problem
from consumers.runtime.settings import SettingsError

ENV_FROM = "FANOUT_EMAIL_FROM"
ENV_CONFIGURATION_SET = "FANOUT_EMAIL_CONFIGURATION_SET"
ENV_USER_POOL_ID = "FANOUT_EMAIL_USER_POOL_ID"
# How many consumer containers share the account's send rate (the event source's maximum concurrency).
ENV_CONTAINERS = "FANOUT_EMAIL_CONTAINERS"

DEFAULT_GITHUB_HOST = "github.com"  # the host of the runtime's default GitHub web URL
_CONFIGURATION_SET = re.compile(r"[A-Za-z0-9_-]{1,64}")
_USER_POOL_ID = re.compile(r"[\w-]+_[0-9A-Za-z]+")


@dataclass(frozen=True)
class EmailConfig:
    """The email channel's own settings, validated once when the consumer starts."""

    sender: str
    configuration_set: str | None = None
    user_pool_id: str | None = None
    github_host: str = DEFAULT_GITHUB_HOST
    containers: int = 1


def name_problem(value: str) -> str | None:
    """An SES configuration set name: letters, digits, `_` and `-`, at most 64."""
    return None if _CONFIGURATION_SET.fullmatch(value) else f"{value!r} is not an SES configuration set name"


def pool_problem(value: str) -> str | None:
    """A Cognito user pool id: `<region>_<id>`."""
    if len(value) <= 55 and _USER_POOL_ID.fullmatch(value):
        return None
    return f"{value!r} is not a Cognito user pool id (<region>_<id>)"


def load_email_config(env: Mapping[str, str], *, github_web_url: str | None = None) -> EmailConfig:
    """From the channel's variables (ConsumerSettings.channel_env); SettingsError names what is wrong.
    PR links may point only to the host of `github_web_url` (ConsumerSettings.github_web_url, set by
    `fanout:githubWebUrl` for every channel alike)."""
    sender = env.get(ENV_FROM, "").strip()
    if not sender:
        raise SettingsError(f"environment variable {ENV_FROM} is not set (the verified SES sender)")
    problem = address_problem(sender)
    if problem is not None:
        raise SettingsError(f"{ENV_FROM} is not a single email address: {problem}")
    optional = {
        ENV_CONFIGURATION_SET: name_problem,
        ENV_USER_POOL_ID: pool_problem,
    }
    values: dict[str, str | None] = {}
    for name, check in optional.items():
        value = env.get(name, "").strip() or None
        if value is not None and (problem := check(value)) is not None:
            raise SettingsError(f"{name}: {problem}")
        values[name] = value
    try:
        containers = max(1, int(env.get(ENV_CONTAINERS, "1")))
    except ValueError as exc:
        raise SettingsError(f"{ENV_CONTAINERS} is not a whole number") from exc
    return EmailConfig(
        sender=sender,
        configuration_set=values[ENV_CONFIGURATION_SET],
        user_pool_id=values[ENV_USER_POOL_ID],
        github_host=(urlsplit(github_web_url).netloc if github_web_url else DEFAULT_GITHUB_HOST).lower(),
        containers=containers,
    )
