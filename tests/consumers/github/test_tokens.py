"""GitHub tokens through Powertools' SecretsProvider: cached with a max age, so a rotated secret is used
without waiting for a 401; refreshed past the cache after a 401; both secret formats; clear outcomes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from freezegun import freeze_time

from consumers.github.tokens import NO_TOKEN, TOKEN_MAX_AGE_S, Credential, TokenSource, parse_secret
from consumers.runtime.outcomes import Retry, Terminal
from tests.consumers.secrets import CountingSecrets, ThrottledSecrets


@pytest.mark.parametrize(
    ("secret", "token"),
    [
        ("ghp_plain", "ghp_plain"),
        ("  ghp_padded \n", "ghp_padded"),
        (json.dumps({"token": "ghp_json", "note": "x"}), "ghp_json"),
        (json.dumps({"bot_token": "wrong-field"}), None),
        ("{not json", None),
        ("", None),
    ],
)
def test_parse_secret(secret: str, token: str | None) -> None:
    assert parse_secret(secret) == token


def test_a_rotated_token_is_used_once_the_max_age_passed_without_a_401(
    secrets: CountingSecrets, unique_name: Callable[[str], str]
) -> None:
    name = unique_name("bgagent/github/default")
    secrets.client.create_secret(Name=name, SecretString="ghp_one")
    with freeze_time("2026-12-01T10:00:00Z") as clock:
        source = TokenSource(secrets, name)  # type: ignore[arg-type]
        assert source.get(name) == Credential(name, "ghp_one")
        secrets.client.put_secret_value(SecretId=name, SecretString=json.dumps({"token": "ghp_two"}))
        clock.tick(timedelta(seconds=TOKEN_MAX_AGE_S - 1))
        assert source.get(name) == Credential(name, "ghp_one")  # cached: one read per max age
        assert secrets.reads == 1
        clock.tick(timedelta(seconds=2))
        assert source.get(name) == Credential(name, "ghp_two")  # rotated: picked up, no 401 needed
        assert secrets.reads == 2


def test_refresh_reads_past_the_cache(secrets: CountingSecrets, unique_name: Callable[[str], str]) -> None:
    name = unique_name("bgagent/github/default")
    secrets.client.create_secret(Name=name, SecretString="ghp_one")
    source = TokenSource(secrets, name)  # type: ignore[arg-type]
    assert source.get(name) == Credential(name, "ghp_one")
    secrets.client.put_secret_value(SecretId=name, SecretString="ghp_two")
    assert source.refresh(name) == Credential(name, "ghp_two")
    assert secrets.reads == 2
    assert "ghp_" not in repr(source.get(name))


def test_the_task_secret_wins_over_the_default() -> None:
    source = TokenSource(None, "default-secret")  # type: ignore[arg-type]
    assert source.secret_for("  task-secret ") == "task-secret"
    assert source.secret_for(None) == source.secret_for("") == "default-secret"


def test_a_missing_or_empty_secret_is_terminal(
    secrets: CountingSecrets, unique_name: Callable[[str], str]
) -> None:
    missing = TokenSource(secrets, None).get(unique_name("gone"))  # type: ignore[arg-type]
    assert isinstance(missing, Terminal)
    assert missing.reason == NO_TOKEN
    assert "ResourceNotFoundException" in missing.detail
    empty = unique_name("empty")
    secrets.client.create_secret(Name=empty, SecretString=json.dumps({"other": 1}))
    outcome = TokenSource(secrets, None).get(empty)  # type: ignore[arg-type]
    assert isinstance(outcome, Terminal)
    assert outcome.reason == NO_TOKEN


def test_a_throttled_read_is_a_retry() -> None:
    outcome = TokenSource(ThrottledSecrets(), "s").get("s")  # type: ignore[arg-type]
    assert outcome == Retry(None, "secret_read_failed:ThrottlingException")
