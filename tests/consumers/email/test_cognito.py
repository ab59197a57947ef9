"""Recipient lookup in a Cognito user pool on moto, when the task gives no address: the user's
`email`, only when `email_verified` is true."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from consumers.email.recipients import Recipient, RecipientResolver
from consumers.runtime.outcomes import Delivered, Skipped, Terminal

from .conftest import MakeEmailEnv, make_event, moto_sent


@pytest.fixture
def pool(aws_client: Callable[[str], Any], unique_name: Callable[[str], str]) -> tuple[Any, str]:
    cognito = aws_client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName=unique_name("users"))["UserPool"]["Id"]
    return cognito, pool_id


def add_user(cognito: Any, pool_id: str, username: str, **attributes: str) -> None:
    cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        UserAttributes=[{"Name": k, "Value": v} for k, v in attributes.items()],
        MessageAction="SUPPRESS",
    )


def test_a_task_without_an_address_is_sent_to_its_users_verified_email(
    make_email_env: MakeEmailEnv, pool: tuple[Any, str]
) -> None:
    cognito, pool_id = pool
    add_user(cognito, pool_id, "user-verified", email="verified.user@example.com", email_verified="true")
    env = make_email_env(user_pool_id=pool_id)
    task_id = env.put_task(notification_email=None, user_id="user-verified")
    assert isinstance(env.run(make_event(task_id)), Delivered)
    assert any("verified.user@example.com" in str(m["destinations"]) for m in moto_sent(env.endpoint))


def test_the_tasks_own_address_wins_over_the_user_pool(pool: tuple[Any, str]) -> None:
    cognito, pool_id = pool
    add_user(cognito, pool_id, "user-both", email="profile@example.com", email_verified="true")
    resolver = RecipientResolver(cognito, pool_id)
    found = resolver.resolve({"user_id": "user-both", "notification_email": "task@example.com"})
    assert found == Recipient("task@example.com", "task")
    assert resolver.resolve({"user_id": "user-both"}) == Recipient("profile@example.com", "user_pool")


@pytest.mark.parametrize("verified", ["false", None])
def test_an_unverified_email_is_no_recipient(pool: tuple[Any, str], verified: str | None) -> None:
    cognito, pool_id = pool
    attributes = {"email": "unverified@example.com"} | ({"email_verified": verified} if verified else {})
    add_user(cognito, pool_id, "user-unverified", **attributes)
    assert RecipientResolver(cognito, pool_id).resolve({"user_id": "user-unverified"}) == Skipped(
        "no_recipient"
    )


def test_an_unknown_user_is_no_recipient(pool: tuple[Any, str]) -> None:
    cognito, pool_id = pool
    assert RecipientResolver(cognito, pool_id).resolve({"user_id": "nobody"}) == Skipped("no_recipient")


def test_a_task_without_user_id_is_no_recipient(pool: tuple[Any, str]) -> None:
    cognito, pool_id = pool
    assert RecipientResolver(cognito, pool_id).resolve({}) == Skipped("no_recipient")


def test_a_missing_pool_is_a_deployment_fault(aws_client: Callable[[str], Any]) -> None:
    resolver = RecipientResolver(aws_client("cognito-idp"), "us-east-1_doesnotexist")
    outcome = resolver.resolve({"user_id": "someone"})
    assert isinstance(outcome, Terminal)
    assert outcome.reason == "user_pool_ResourceNotFoundException"
