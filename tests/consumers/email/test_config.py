"""The email channel's own settings: PR links follow the one GitHub web URL every channel uses."""

from __future__ import annotations

import pytest

from consumers.email.config import ENV_FROM, load_email_config
from consumers.runtime.settings import SettingsError


def test_pr_links_follow_the_shared_github_web_url() -> None:
    env = {ENV_FROM: "fanout@notify.example.com"}
    enterprise = load_email_config(env, github_web_url="https://GHE.example.com")
    default = load_email_config(env)
    assert (enterprise.github_host, default.github_host) == ("ghe.example.com", "github.com")


def test_a_missing_sender_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=ENV_FROM):
        load_email_config({})
