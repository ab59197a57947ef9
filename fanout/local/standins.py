"""Which stand-in serves which channel: one entry per channel, nothing else in the runtime names one.

A stand-in is an HTTP app (fanout/local/fakes) plus what the runtime needs to wire it: the path under
its server that is the channel's API base URL, and how it learns the tokens the run's secrets hold.
A new channel (email, say) plugs in with one entry here; a channel without an entry runs against the
URL given on the command line or its registry default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fanout.local.events_file import PutSecret, Step, slack_teams
from fanout.local.fakes.faults import SES_KINDS, FaultKind, FaultSchedule
from fanout.local.fakes.github import GitHubFake
from fanout.local.fakes.ses import SesFake
from fanout.local.fakes.slack import SlackFake
from fanout.local.provision import (
    DEFAULT_GITHUB_TOKEN_SECRET,
    LOCAL_GITHUB_TOKEN,
    SLACK_SECRET_PREFIX,
    local_slack_token,
    token_from_secret,
)


@dataclass(frozen=True)
class StandInOptions:
    faults: FaultSchedule
    slack_rate_per_s: float | None = None


@dataclass(frozen=True)
class StandIn:
    build: Callable[[StandInOptions], Any]  # the HTTP app
    api_path: str  # appended to the server's URL: the channel's API base URL
    # The secrets a run needs for this channel (name -> value) unless the input gives them.
    default_secrets: Callable[[Iterable[Step]], Mapping[str, str]]
    # Teach the app a token a secret holds (secret name, value); False when the secret is not its own.
    learn_secret: Callable[[Any, str, str], bool]
    # Served only when the run's faults include one of these kinds (None: always); otherwise the channel
    # talks to its registry base URL (email: SES in the AWS endpoint, where moto records what it sends).
    only_with_faults: frozenset[FaultKind] | None = None
    # CDK context the channel needs to be deployed locally (email: its sender), for every run.
    context: Mapping[str, Any] = field(default_factory=dict)
    # Data the channel needs in the endpoint before the run, seeded with the runtime's admin clients
    # (a factory: service -> client), like the secrets (email: the sender's identity verified in SES).
    seed: Callable[[Callable[[str], Any]], None] | None = None

    def wanted(self, faults: FaultSchedule) -> bool:
        return self.only_with_faults is None or any(f.kind in self.only_with_faults for f in faults.faults)


def _slack_secrets(steps: Iterable[Step]) -> dict[str, str]:
    return {f"{SLACK_SECRET_PREFIX}{team}": local_slack_token(team) for team in slack_teams(list(steps))}


def _slack_learn(app: SlackFake, name: str, value: str) -> bool:
    if not name.startswith(SLACK_SECRET_PREFIX):
        return False
    app.register_token(token_from_secret(value, "bot_token"), name[len(SLACK_SECRET_PREFIX) :])
    return True


def _github_learn(app: GitHubFake, name: str, value: str) -> bool:
    if name.startswith(SLACK_SECRET_PREFIX):
        return False
    app.register_token(token_from_secret(value, "token"))
    return True


LOCAL_EMAIL_SENDER = "fanout@fanout-local.test"


def _verify_sender(client: Callable[[str], Any]) -> None:
    """The local sender as an SES identity of the endpoint (moto verifies it at once)."""
    client("sesv2").create_email_identity(EmailIdentity=LOCAL_EMAIL_SENDER)


STAND_INS: Mapping[str, StandIn] = {
    "slack": StandIn(
        build=lambda o: SlackFake(o.faults, rate_per_s=o.slack_rate_per_s),
        api_path="/api",
        default_secrets=_slack_secrets,
        learn_secret=_slack_learn,
    ),
    "github": StandIn(
        build=lambda o: GitHubFake(o.faults),
        api_path="",
        default_secrets=lambda _steps: {DEFAULT_GITHUB_TOKEN_SECRET: LOCAL_GITHUB_TOKEN},
        learn_secret=_github_learn,
    ),
    "email": StandIn(
        build=lambda o: SesFake(o.faults),
        api_path="",
        default_secrets=lambda _steps: {},
        learn_secret=lambda _app, _name, _value: False,
        only_with_faults=SES_KINDS,
        context={"fanout:email:from": LOCAL_EMAIL_SENDER},
        seed=_verify_sender,
    ),
}


def given_secrets(steps: Iterable[Step]) -> dict[str, str]:
    return {step.name: step.value for step in steps if isinstance(step, PutSecret)}
