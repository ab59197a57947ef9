"""The GitHub web URL is a deployment setting (fanout:githubWebUrl): every consumer gets it as
FANOUT_GITHUB_WEB_URL (PR links are accepted only on that host), so a GitHub Enterprise deployment can set
it; a URL that would make every PR link be dropped, or trust plain http, is refused at synth."""

from __future__ import annotations

import pytest

from consumers.runtime.settings import DEFAULT_GITHUB_WEB_URL, ENV_GITHUB_WEB_URL, load_settings
from fanout import registry
from fanout.registry import InvalidChannelSettings
from infra.settings import CTX_GITHUB_WEB_URL, GLOBAL_KEYS, FanoutProps, cdk_json_context

from .conftest import EMAIL_SENDER, Synthesized, SynthFactory

pytestmark = pytest.mark.cdk
GHE = "https://github.example.com"


@pytest.fixture(scope="module")
def synthesized(synth: SynthFactory) -> Synthesized:
    # Every registry channel deployed (email needs its sender), with a GitHub Enterprise host.
    return synth({CTX_GITHUB_WEB_URL: GHE + "/", "fanout:email:from": EMAIL_SENDER})


def _consumer_environments(s: Synthesized) -> dict[str, dict[str, str]]:
    handlers = {spec.handler: spec.name for spec in registry.CHANNELS.values()}
    return {
        handlers[f["Properties"]["Handler"]]: f["Properties"]["Environment"]["Variables"]
        for f in s.of_type("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") in handlers
    }


def test_every_consumer_gets_the_configured_github_web_url(synthesized: Synthesized) -> None:
    environments = _consumer_environments(synthesized)
    assert set(environments) == set(registry.CHANNELS)
    for channel, environment in environments.items():
        assert environment[ENV_GITHUB_WEB_URL] == GHE, channel  # trailing slash dropped
        # and the consumer's own cold-start validation accepts what the stack gives it
        resolved = {
            k: v if isinstance(v, str) else f"https://sqs.example/{k}" for k, v in environment.items()
        }
        assert load_settings(resolved).github_web_url == GHE


def test_the_default_is_github_com() -> None:
    assert CTX_GITHUB_WEB_URL in GLOBAL_KEYS
    assert FanoutProps.from_context(cdk_json_context()).github_web_url == DEFAULT_GITHUB_WEB_URL


@pytest.mark.parametrize(
    "url",
    [
        "http://github.example.com",  # plain http: links and the API host trusted over the wire
        "https://github.example.com/enterprise",  # a path: no `<url>/<repo>/pull/<n>` link would match
        "https://github.example.com?x=1",
        "https://github.example.com#top",
        "https://user:pw@github.example.com",
        "https://",
        "github.example.com",
        "https://github.example.com:notaport",
        "https://github .example.com",
    ],
)
def test_a_github_web_url_that_would_misbehave_is_refused_at_synth(url: str) -> None:
    with pytest.raises(InvalidChannelSettings, match=CTX_GITHUB_WEB_URL):
        FanoutProps.from_context({**cdk_json_context(), CTX_GITHUB_WEB_URL: url})
