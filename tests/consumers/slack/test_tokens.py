from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from consumers.runtime.outcomes import Retry
from consumers.slack.tokens import BotToken, NoToken, TokenSource, parse_secret
from tests.clock import FakeClock
from tests.consumers.secrets import CountingSecrets, ThrottledSecrets


@pytest.mark.parametrize(
    ("secret", "token"),
    [
        ("xoxb-plain", "xoxb-plain"),
        ("  xoxb-padded \n", "xoxb-padded"),
        (json.dumps({"bot_token": "xoxb-json", "signing_secret": "s"}), "xoxb-json"),
        (json.dumps({"token": "wrong-field"}), None),
        ("{not json", None),
        ("", None),
    ],
)
def test_parse_secret(secret: str, token: str | None) -> None:
    assert parse_secret(secret) == token


def test_token_is_cached_and_refresh_reads_again(
    secrets: CountingSecrets, unique_name: Callable[[str], str]
) -> None:
    prefix = unique_name("p") + "/"
    secrets.client.create_secret(Name=f"{prefix}T1", SecretString=json.dumps({"bot_token": "xoxb-one"}))
    source = TokenSource(secrets, prefix, FakeClock())  # type: ignore[arg-type]
    first, second = source.get("T1"), source.get("T1")
    assert first == second == BotToken("T1", "xoxb-one")
    assert secrets.reads == 1
    secrets.client.put_secret_value(SecretId=f"{prefix}T1", SecretString="xoxb-two")
    assert source.refresh("T1") == BotToken("T1", "xoxb-two")
    assert secrets.reads == 2
    assert "xoxb" not in repr(source.get("T1"))


def test_absent_secret_is_no_token_and_remembered_for_a_while(
    secrets: CountingSecrets, unique_name: Callable[[str], str]
) -> None:
    clock = FakeClock()
    source = TokenSource(secrets, unique_name("p") + "/", clock)  # type: ignore[arg-type]
    assert source.get("TNONE") == NoToken("no_bot_token")
    assert source.get("TNONE") == NoToken("no_bot_token")
    assert secrets.reads == 1
    clock.advance(61)
    assert source.get("TNONE") == NoToken("no_bot_token")
    assert secrets.reads == 2


def test_a_secret_without_a_token_is_no_token(
    secrets: CountingSecrets, unique_name: Callable[[str], str]
) -> None:
    prefix = unique_name("p") + "/"
    secrets.client.create_secret(Name=f"{prefix}T2", SecretString=json.dumps({"other": 1}))
    assert TokenSource(secrets, prefix, FakeClock()).get("T2") == NoToken("no_bot_token_in_secret")  # type: ignore[arg-type]


def test_a_throttled_read_is_a_retry(unique_name: Callable[[str], str]) -> None:
    outcome = TokenSource(ThrottledSecrets(), "p/", FakeClock()).get("T3")  # type: ignore[arg-type]
    assert outcome == Retry(None, "secret_read_failed:ThrottlingException")
