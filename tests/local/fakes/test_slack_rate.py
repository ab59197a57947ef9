"""The Slack stand-in's opt-in posting rate: a token bucket per workspace, 429 + Retry-After beyond it."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from fanout.local.fakes.server import CONTAINER_HEADER
from fanout.local.fakes.slack import RATE_LIMIT_FAULT, SlackFake

RatedSlack = Callable[..., tuple[SlackFake, SimpleNamespace, Callable[..., httpx.Response]]]


@pytest.fixture
def rated_slack(served: Callable[[Any], str]) -> RatedSlack:
    """Factory: a SlackFake with `rate_per_s`, its clock (set `clock.now`), and `post(token, container)`."""

    def make(rate_per_s: float | None) -> tuple[SlackFake, SimpleNamespace, Callable[..., httpx.Response]]:
        clock = SimpleNamespace(now=1_000.0)
        fake = SlackFake(
            tokens={"xoxb-a": "TA", "xoxb-b": "TB"}, rate_per_s=rate_per_s, clock=lambda: clock.now
        )
        base = served(fake)

        def post(
            token: str = "xoxb-a", container: str = "c0", method: str = "chat.postMessage"
        ) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}", CONTAINER_HEADER: container}
            return httpx.post(f"{base}/api/{method}", json={"channel": "C1", "text": "x"}, headers=headers)

        return fake, clock, post

    return make


def test_posts_beyond_the_rate_get_429_with_the_whole_seconds_until_the_next_token(
    rated_slack: RatedSlack,
) -> None:
    fake, clock, post = rated_slack(0.5)

    assert post().json()["ok"]
    limited = post(container="c1")
    assert post(token="xoxb-b").json()["ok"]  # another workspace has its own bucket
    assert post(method="reactions.add").status_code == 200  # only chat.postMessage is rate-limited

    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"  # one token per 2 s
    clock.now += 1.0
    assert post().headers["retry-after"] == "1"  # 1 s to go
    clock.now += 1.0
    assert post().json()["ok"]
    assert len(fake.messages()) == 3
    faults = [c.fault for c in fake.log.calls() if c.status == 429]
    assert faults == [RATE_LIMIT_FAULT, RATE_LIMIT_FAULT]
    windows = fake.windows.all()
    assert [(w.scope, w.container, w.until - w.announced_at, w.api) for w in windows] == [
        ("TA", "c1", 2, "chat.postMessage"),
        ("TA", "c0", 1, "chat.postMessage"),
    ]
    reaction = next(c for c in fake.log.calls() if c.api == "reactions.add")
    assert not reaction.inside_retry_after  # the posting rate's window does not limit other methods


def test_without_a_rate_every_post_goes_through(rated_slack: RatedSlack) -> None:
    fake, _clock, post = rated_slack(None)
    assert all(post().json()["ok"] for _ in range(5))
    assert fake.windows.all() == []


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SlackFake(rate_per_s=0)
