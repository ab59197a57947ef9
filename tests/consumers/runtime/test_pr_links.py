"""A pull-request link is accepted only on the configured GitHub host and the task's own repository."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from aws_lambda_powertools import Logger

from consumers.runtime.pr_links import trusted_pr_url, vet_pr_link

from .conftest import make_event

WEB = "https://github.com"
REPO = "acme/widgets"


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/widgets/pull/42",
        "https://github.com/Acme/Widgets/pull/42/",
        "https://GITHUB.com/acme/widgets/pull/42",
    ],
)
def test_the_tasks_own_pull_request_is_trusted(url: str) -> None:
    assert trusted_pr_url(url, repo=REPO, web_url=WEB) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com.evil.example/acme/widgets/pull/42",  # a look-alike host
        "https://evil.example/acme/widgets/pull/42",
        "https://github.com@evil.example/acme/widgets/pull/42",  # userinfo trick
        "https://user@github.com/acme/widgets/pull/42",
        "http://github.com/acme/widgets/pull/42",  # another scheme
        "https://github.com:8443/acme/widgets/pull/42",  # another port
        "https://github.com/other/repo/pull/42",  # another repository
        "https://github.com/acme/widgets/pull/42?next=https://evil.example",
        "https://github.com/acme/widgets/pull/42#x",
        "https://github.com/acme/widgets/pull/0",
        "https://github.com/acme/widgets/issues/42",
        "https://github.com/acme/widgets/pull/42/../../../evil",
        "javascript:alert(1)",
        "",
        42,
    ],
)
def test_anything_else_is_refused(url: object) -> None:
    assert trusted_pr_url(url, repo=REPO, web_url=WEB) is None


def test_an_enterprise_host_is_the_one_configured() -> None:
    ghes = "https://ghe.example.com"
    assert trusted_pr_url("https://ghe.example.com/acme/widgets/pull/1", repo=REPO, web_url=ghes)
    assert trusted_pr_url("https://github.com/acme/widgets/pull/1", repo=REPO, web_url=ghes) is None


def test_vetting_drops_a_spoofed_link_logs_it_and_falls_back_to_a_trusted_event_link() -> None:
    stream = io.StringIO()
    logger = Logger(service=f"links-{uuid.uuid4().hex[:8]}", stream=stream)
    spoof = "https://github.com.evil.example/acme/widgets/pull/42"
    event = make_event(pr_url="https://github.com/acme/widgets/pull/43")
    task = {"repo": REPO, "pr_url": spoof}

    assert vet_pr_link(event, task, web_url=WEB, logger=logger, channel="x")["pr_url"].endswith("/43")
    dropped = vet_pr_link(event, task, web_url=WEB, logger=logger, channel="x", from_event=False)
    assert "pr_url" not in dropped
    assert task["pr_url"] == spoof  # the task read is not changed in place
    (line,) = [json.loads(raw) for raw in stream.getvalue().splitlines()]
    assert line["event"] == "fanout.x.untrusted_link"
    assert line["pr_url"] == spoof
