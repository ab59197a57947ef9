"""The Slack stand-in as the unit tests drive it: scripted per-call faults, seeding, paging, the call log
and an injected clock, served both ways (in process through httpx.MockTransport, and over HTTP)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from fanout.local.fakes.slack import SCRIPTED_FAULT, SlackFake
from fanout.local.fakes.slack_faults import PROXY_ERROR_PAGE, CallFault
from fanout.local.fakes.transport import mock_transport

TOKEN = "xoxb-a"
NOW = 1_800_000_000.0
Call = Callable[..., httpx.Response]


@pytest.fixture(params=["in-process", "http"])
def slack(request: pytest.FixtureRequest, served: Callable[[Any], str]) -> Iterator[tuple[SlackFake, Call]]:
    """A SlackFake on a fixed clock, and `call(method, token=..., **json_params)` reaching it either way."""
    fake = SlackFake(tokens={TOKEN: "TA"}, clock=lambda: NOW)
    if request.param == "in-process":
        client, base = httpx.Client(transport=mock_transport(fake)), "http://slack.test"
    else:
        client, base = httpx.Client(), served(fake)

    def call(method: str, *, token: str = TOKEN, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return client.post(f"{base}/api/{method}", json=params, headers=headers)

    yield fake, call
    client.close()


def test_a_scripted_error_answers_once_and_changes_nothing(slack: tuple[SlackFake, Call]) -> None:
    fake, call = slack
    fake.fail("chat.postMessage", CallFault(status=429, error="ratelimited", headers={"retry-after": "7"}))
    limited = call("chat.postMessage", channel="C1", text="x")
    after = call("chat.postMessage", channel="C1", text="x")
    assert (limited.status_code, limited.json(), limited.headers["retry-after"]) == (
        429,
        {"ok": False, "error": "ratelimited"},
        "7",
    )
    assert after.json()["ok"]
    assert len(fake.messages()) == 1
    assert [(c.fault, c.error) for c in fake.log.calls()] == [(SCRIPTED_FAULT, "ratelimited"), (None, None)]


def test_scripted_faults_are_taken_in_order_per_method(slack: tuple[SlackFake, Call]) -> None:
    fake, call = slack
    fake.fail("chat.postMessage", CallFault(error="first"), CallFault(error="second"))
    fake.fail("reactions.add", CallFault(error="reaction"))
    errors = [call("chat.postMessage", channel="C1", text="x").json().get("error") for _ in range(3)]
    assert errors == ["first", "second", None]
    assert fake.scripted.pending() == {"reactions.add": 1}
    fake.scripted.clear()
    assert fake.scripted.pending() == {}


def test_an_applied_fault_takes_effect_and_only_its_answer_is_wrong(slack: tuple[SlackFake, Call]) -> None:
    fake, call = slack
    fake.fail("chat.postMessage", CallFault(error="fatal_error", applied=True))
    answer = call("chat.postMessage", channel="C1", text="x")
    assert answer.json() == {"ok": False, "error": "fatal_error"}
    assert [m.text for m in fake.messages()] == ["x"]


def test_a_5xx_without_slack_error_is_a_proxy_page_and_an_exact_body_is_exact(
    slack: tuple[SlackFake, Call],
) -> None:
    fake, call = slack
    fake.fail("chat.postMessage", CallFault(status=502), CallFault(body={"ok": True}, applied=True))
    proxy = call("chat.postMessage", channel="C1", text="x")
    exact = call("chat.postMessage", channel="C1", text="y")
    assert (proxy.status_code, proxy.content, proxy.headers["content-type"]) == (
        502,
        PROXY_ERROR_PAGE,
        "text/html",
    )
    assert (exact.status_code, exact.json()) == (200, {"ok": True})  # no ts: the post happened regardless
    assert [m.text for m in fake.messages()] == ["y"]


@pytest.mark.parametrize(
    ("lost", "error"),
    [
        ("dropped", httpx.RemoteProtocolError),
        ("timeout", httpx.ReadTimeout),
        ("refused", httpx.ConnectError),
        ("undecodable", httpx.DecodingError),
    ],
)
def test_a_lost_answer_reaches_the_client_as_httpx_raises_it(
    lost: Any, error: type[Exception], served: Callable[[Any], str]
) -> None:
    fake = SlackFake(tokens={TOKEN: "TA"}, clock=lambda: NOW)
    fake.fail("chat.postMessage", CallFault(lost=lost, applied=True))
    with httpx.Client(transport=mock_transport(fake)) as client, pytest.raises(error):
        client.post(
            "http://slack.test/api/chat.postMessage",
            json={"channel": "C1", "text": "x"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert len(fake.messages()) == 1  # applied: the post happened, its answer was lost
    (logged,) = fake.log.calls()
    assert (logged.status, logged.error) == (0 if lost != "undecodable" else 200, f"lost:{lost}")


@pytest.mark.parametrize(
    ("lost", "error"),
    [
        ("dropped", httpx.RemoteProtocolError),
        ("refused", httpx.RemoteProtocolError),  # a server cannot refuse a connection it accepted
        ("undecodable", httpx.DecodingError),
    ],
)
def test_over_http_a_lost_answer_is_a_closed_connection_or_an_undecodable_body(
    lost: Any, error: type[Exception], served: Callable[[Any], str]
) -> None:
    fake = SlackFake(tokens={TOKEN: "TA"}, clock=lambda: NOW)
    base = served(fake)
    fake.fail("chat.postMessage", CallFault(lost=lost))
    with pytest.raises(error):
        httpx.post(
            f"{base}/api/chat.postMessage",
            json={"channel": "C1", "text": "x"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert fake.messages() == []  # not applied: nothing posted


def test_seeded_threads_page_in_ts_order_capped_by_page_size(slack: tuple[SlackFake, Call]) -> None:
    fake, call = slack
    root = fake.seed("C1")
    assert root == f"{int(NOW)}.000001"  # the injected clock's second
    fake.seed("C1", "later", ts="1800000100.000001", thread_ts=root)
    reply = call("chat.postMessage", channel="C1", text="reply", thread_ts=root).json()["ts"]
    fake.page_size = 2
    first = call("conversations.replies", channel="C1", ts=root, limit=50).json()
    second = call("conversations.replies", channel="C1", ts=root, cursor="2").json()
    assert [m["ts"] for m in first["messages"] + second["messages"]] == [root, reply, "1800000100.000001"]
    assert first["has_more"]
    assert not second["has_more"]
    assert fake.messages() == fake.messages(channel="C1")  # seeded messages are not posts
    assert [m.text for m in fake.messages()] == ["reply"]
    seeded = fake.message("C1", root)
    assert seeded is not None
    assert seeded.seeded


def test_each_call_is_logged_with_its_typed_params_headers_and_url(slack: tuple[SlackFake, Call]) -> None:
    fake, call = slack
    call("chat.postMessage", channel="C1", text="x", unfurl_links=False, metadata={"event_type": "e"})
    (logged,) = fake.log.calls()
    assert logged.params == {
        "channel": "C1",
        "text": "x",
        "unfurl_links": False,
        "metadata": {"event_type": "e"},
    }
    assert logged.headers["authorization"] == f"Bearer {TOKEN}"
    assert logged.url is not None
    assert logged.url.endswith("/api/chat.postMessage")
    assert fake.methods() == ["chat.postMessage"]


def test_a_revoked_token_is_invalid_auth(slack: tuple[SlackFake, Call]) -> None:
    fake, call = slack
    fake.revoke_token(TOKEN)
    fake.register_token("xoxb-new", "TA")
    assert call("chat.postMessage", channel="C1", text="x").json()["error"] == "invalid_auth"
    assert call("chat.postMessage", token="xoxb-new", channel="C1", text="x").json()["ok"]
