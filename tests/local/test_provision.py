"""What a local run still writes beside the stack: secret values."""

from __future__ import annotations

from fanout.local.provision import ensure_secret, existing_secrets, token_from_secret


def test_secret_is_created_then_replaced(aws_client, unique_name):
    secrets = aws_client("secretsmanager")
    name = f"bgagent/slack/{unique_name('T')}"
    ensure_secret(secrets, name, "one")
    ensure_secret(secrets, name, "two")
    assert secrets.get_secret_value(SecretId=name)["SecretString"] == "two"
    assert existing_secrets(secrets)[name] == "two"


def test_a_token_is_the_secret_or_its_json_field():
    assert token_from_secret("xoxb-1", "bot_token") == "xoxb-1"
    assert token_from_secret('{"bot_token": "xoxb-2"}', "bot_token") == "xoxb-2"
