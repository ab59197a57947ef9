from __future__ import annotations

import json

import httpx
import pytest

from consumers.runtime.outcomes import Delivered, Retry, Terminal
from consumers.slack.api import SlackApi


def api_with(handler: httpx.MockTransport, base: str = "https://slack.gov.example/api/") -> SlackApi:
    return SlackApi(httpx.Client(transport=handler), base)


def test_writes_are_json_posts_with_a_bearer_token_to_the_configured_base() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True, "ts": "1.000001"})

    reply = api_with(httpx.MockTransport(answer)).post(
        "chat.postMessage", "xoxb-t", {"channel": "C1", "text": "hi"}
    )
    assert reply.ok
    assert reply.outcome == Delivered()
    assert reply.data["ts"] == "1.000001"
    (request,) = seen
    assert str(request.url) == "https://slack.gov.example/api/chat.postMessage"
    assert request.headers["authorization"] == "Bearer xoxb-t"
    assert request.headers["content-type"].startswith("application/json")
    assert json.loads(request.content) == {"channel": "C1", "text": "hi"}


def test_reads_are_gets_with_query_parameters() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True, "messages": []})

    api_with(httpx.MockTransport(answer)).get(
        "conversations.replies", "xoxb-t", {"channel": "C1", "ts": "1.2"}
    )
    (request,) = seen
    assert request.method == "GET"
    assert dict(request.url.params) == {"channel": "C1", "ts": "1.2"}
    assert not request.content


def test_an_error_reply_keeps_slacks_code_and_its_classification() -> None:
    transport = httpx.MockTransport(
        lambda r: httpx.Response(200, json={"ok": False, "error": "channel_not_found"})
    )
    reply = api_with(transport).post("chat.postMessage", "xoxb-t", {})
    assert not reply.ok
    assert reply.error == "channel_not_found"
    assert reply.outcome == Terminal("channel_not_found")


@pytest.mark.parametrize(("exc", "uncertain"), [(httpx.ConnectError, False), (httpx.ReadTimeout, True)])
def test_a_transport_error_becomes_a_classified_reply(exc: type[Exception], uncertain: bool) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc("down", request=request)  # type: ignore[call-arg]

    reply = api_with(httpx.MockTransport(fail)).post("chat.postMessage", "xoxb-t", {})
    assert isinstance(reply.outcome, Retry)
    assert reply.outcome.uncertain is uncertain
    assert reply.error is None
    assert "xoxb" not in reply.outcome.reason
