from __future__ import annotations

from fanout.local.fakes.faults import Fault, FaultKind


def test_post_keeps_thread_metadata_and_returns_ts(slack_api):
    fake, call = slack_api()
    root = call("chat.postMessage", channel="C1", text="root").json()
    reply = call(
        "chat.postMessage",
        channel="C1",
        text="reply",
        thread_ts=root["ts"],
        blocks=[{"type": "section"}],
        metadata={"event_type": "fanout", "event_payload": {"event_id": "E1"}},
    ).json()

    assert root["ok"]
    assert reply["ok"]
    assert reply["ts"] > root["ts"]
    posted = fake.messages(channel="C1")
    assert [(m.text, m.thread_ts, m.event_id) for m in posted] == [
        ("root", None, None),
        ("reply", root["ts"], "E1"),
    ]
    assert posted[1].blocks == [{"type": "section"}]
    assert posted[1].team == "TA"


def test_posting_to_a_user_lands_in_their_dm(slack_api):
    fake, call = slack_api()
    body = call("chat.postMessage", channel="U77", text="hi").json()
    assert body["channel"] == "D77"
    assert [m.channel for m in fake.messages()] == ["D77"]


def test_replies_and_history_return_metadata_only_when_asked(slack_api):
    _, call = slack_api()
    root = call("chat.postMessage", channel="C1", text="root").json()["ts"]
    meta = {"event_type": "fanout", "event_payload": {"event_id": "E2"}}
    call("chat.postMessage", channel="C1", text="r", thread_ts=root, metadata=meta)

    plain = call("conversations.replies", channel="C1", ts=root).json()
    full = call("conversations.replies", channel="C1", ts=root, include_all_metadata=True).json()
    history = call("conversations.history", channel="C1", include_all_metadata=True).json()

    assert ["metadata" in m for m in plain["messages"]] == [False, False]
    assert full["messages"][1]["metadata"] == meta
    assert [m["ts"] for m in history["messages"]] == [root]  # history holds parents only


def test_replies_paginate_with_cursor(slack_api):
    _, call = slack_api()
    root = call("chat.postMessage", channel="C1", text="root").json()["ts"]
    for n in range(4):
        call("chat.postMessage", channel="C1", text=f"r{n}", thread_ts=root)
    first = call("conversations.replies", channel="C1", ts=root, limit=3).json()
    second = call(
        "conversations.replies",
        channel="C1",
        ts=root,
        limit=3,
        cursor=first["response_metadata"]["next_cursor"],
    ).json()
    assert first["has_more"]
    assert not second["has_more"]
    assert [m["text"] for m in first["messages"] + second["messages"]] == ["root", "r0", "r1", "r2", "r3"]


def test_reactions_and_delete_answer_like_slack(slack_api):
    fake, call = slack_api()
    ts = call("chat.postMessage", channel="C1", text="x").json()["ts"]
    answers = [
        call("reactions.add", channel="C1", timestamp=ts, name="eyes").json(),
        call("reactions.add", channel="C1", timestamp=ts, name="eyes").json(),
        call("reactions.remove", channel="C1", timestamp=ts, name="eyes").json(),
        call("reactions.remove", channel="C1", timestamp=ts, name="eyes").json(),
        call("chat.delete", channel="C1", ts=ts).json(),
        call("chat.delete", channel="C1", ts=ts).json(),
    ]
    assert [a.get("error") for a in answers] == [
        None,
        "already_reacted",
        None,
        "no_reaction",
        None,
        "message_not_found",
    ]
    assert fake.messages() == []
    assert len(fake.messages(include_deleted=True)) == 1


def test_unknown_token_is_invalid_auth(slack_api):
    fake, call = slack_api()
    assert (
        call("chat.postMessage", token="xoxb-nope", channel="C1", text="x").json()["error"] == "invalid_auth"
    )
    assert fake.messages() == []
    assert fake.log.calls()[0].error == "invalid_auth"


def test_ratelimit_window_announces_retry_after_and_records_calls_inside_it(slack_api):
    fake, call = slack_api(Fault(FaultKind.SLACK_RATELIMIT, scope="TA", retry_after_s=30, duration_s=60))
    first = call("chat.postMessage", channel="C1", text="x", container="c0")
    call("chat.postMessage", channel="C1", text="x", container="c1")
    call("chat.postMessage", channel="C1", text="x", container="c0")

    assert first.status_code == 429
    assert first.headers["retry-after"] == "30"
    calls = fake.log.calls()
    assert [(c.inside_retry_after, c.inside_own_retry_after) for c in calls] == [
        (False, False),
        (True, False),  # another container had not been told yet
        (True, True),  # c0 called again inside the window announced to it
    ]
    assert fake.messages() == []


def test_ratelimit_spares_other_workspaces(slack_api):
    _fake, call = slack_api(
        Fault(FaultKind.SLACK_RATELIMIT, scope="TA"), tokens={"xoxb-a": "TA", "xoxb-b": "TB"}
    )
    assert call("chat.postMessage", token="xoxb-b", channel="C9", text="x").json()["ok"]
    assert call("chat.postMessage", token="xoxb-a", channel="C1", text="x").status_code == 429


def test_outage_answers_503_only_inside_its_window(slack_api):
    # A long window moved past by hand: a loaded machine can take longer than a short window to answer.
    fake, call = slack_api(Fault(FaultKind.SLACK_5XX, start_s=0, duration_s=60))
    during = call("chat.postMessage", channel="C1", text="x")
    fake.schedule._armed_at -= 61.0  # the window is over
    after = call("chat.postMessage", channel="C1", text="x")
    assert (during.status_code, after.status_code) == (503, 200)
    assert [c.fault for c in fake.log.calls()] == ["slack_5xx", None]


def test_terminal_error_for_one_channel(slack_api):
    _, call = slack_api(Fault(FaultKind.SLACK_ERROR, scope="CGONE", error="channel_not_found"))
    assert call("chat.postMessage", channel="CGONE", text="x").json()["error"] == "channel_not_found"
    assert call("chat.postMessage", channel="C1", text="x").json()["ok"]


def test_form_encoded_requests_are_understood(served):
    import httpx

    from fanout.local.fakes.slack import SlackFake

    fake = SlackFake(tokens={"xoxb-a": "TA"})
    base = served(fake)
    response = httpx.post(
        f"{base}/api/chat.postMessage", data={"token": "xoxb-a", "channel": "C1", "text": "form"}
    )
    assert response.json()["ok"]
    assert fake.messages()[0].text == "form"
