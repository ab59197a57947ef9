"""Random event sequences with random faults: every event ends delivered, skipped by rule or terminal,
nothing is posted twice, and a task shows at most one terminal message and one agent_error alert."""

from __future__ import annotations

import itertools
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.runtime.outcomes import Delivered, Skipped, Terminal
from fanout import event_types as et
from fanout.local.fakes.slack_faults import CallFault

from .conftest import SlackEnv, make_event

FAULTS = {
    "none": None,
    "429": CallFault(status=429, error="ratelimited", headers={"Retry-After": "3"}),
    "503 before": CallFault(status=503),
    "502 after": CallFault(status=502, applied=True),
    "fatal_error after": CallFault(error="fatal_error", applied=True),
    "internal_error before": CallFault(error="internal_error"),
    "timeout after": CallFault(lost="timeout", applied=True),
    "connect error": CallFault(lost="refused"),
    "channel_not_found": CallFault(error="channel_not_found"),
}
_examples = itertools.count()
EVENT_TYPES = [et.AGENT_ERROR, *sorted(et.TERMINAL)]
faults = st.tuples(st.sampled_from(sorted(FAULTS)), st.booleans(), st.booleans())
# (Slack fault on the first post, throttle the first task-table write, crash before the ledger completes)
step = st.tuples(st.sampled_from(EVENT_TYPES), faults)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mention=st.booleans(),
    created=faults,
    started=faults,
    steps=st.lists(step, min_size=1, max_size=6),
)
def test_random_sequences_never_post_twice_and_never_lose_a_message(
    slack_env: SlackEnv,
    mention: bool,
    created: tuple[str, bool, bool],
    started: tuple[str, bool, bool],
    steps: list[tuple[str, tuple[str, bool, bool]]],
) -> None:
    channel = f"C{next(_examples)}X"  # a channel of its own for each example
    thread = slack_env.slack.seed(channel) if mention else None
    meta = {"slack_channel_id": channel, **({"slack_thread_ts": thread} if thread else {})}
    task_id = slack_env.put_task(meta=meta)
    outcomes: dict[str, object] = {}
    slots: dict[str, str | None] = {"terminal": None, "agent_error": None}
    for event_type, (fault_name, throttle, crash) in [
        (et.TASK_CREATED, created),
        (et.SESSION_STARTED, started),
        *steps,
    ]:
        event = make_event(task_id, event_type)
        fault = FAULTS[fault_name]
        if fault is not None:
            slack_env.slack.fail("chat.postMessage", fault)
        if throttle:
            slack_env.dynamodb.fail_when("update_item", lambda kw: kw["TableName"] == slack_env.table)
        first = slack_env.run(event)
        if crash and isinstance(first, Delivered):  # the ledger never heard: the claim expires, reconcile
            first = slack_env.run(event, reconcile=True)
        outcome = slack_env.settle(event, first, attempts=4)
        slack_env.slack.scripted.clear()
        slack_env.dynamodb.heal()
        outcomes[event.event_id] = outcome
        assert isinstance(outcome, Delivered | Skipped | Terminal), (event_type, fault_name, outcome)
        if event_type in (et.TASK_CREATED, et.SESSION_STARTED):
            assert isinstance(outcome, Delivered) or outcome == Terminal("channel_not_found"), outcome
        slot = (
            "agent_error"
            if event_type == et.AGENT_ERROR
            else "terminal"
            if et.is_terminal(event_type)
            else None
        )
        if slot is not None:
            if isinstance(outcome, Delivered):
                assert slots[slot] in (None, event.event_id)
                slots[slot] = event.event_id
            elif isinstance(outcome, Skipped):
                assert slots[slot] is not None  # skipped only because another event holds the slot
            else:
                assert outcome == Terminal("channel_not_found")

    ours = [m for m in slack_env.slack.messages(include_deleted=True) if m.channel == channel and m.metadata]
    per_event = Counter(m.metadata["event_payload"]["event_id"] for m in ours if m.metadata)
    assert all(n == 1 for n in per_event.values()), per_event  # nothing was ever posted twice
    delivered = {e for e, o in outcomes.items() if isinstance(o, Delivered)}
    assert delivered <= set(per_event)  # everything delivered was really posted
    live = [m for m in ours if not m.deleted]
    live_types = Counter(m.metadata["event_payload"]["type"] for m in live if m.metadata)
    assert sum(live_types[t] for t in et.TERMINAL) == (1 if slots["terminal"] else 0)
    assert live_types[et.AGENT_ERROR] == (1 if slots["agent_error"] else 0)
    if slots["terminal"]:
        (terminal,) = [m for m in live if m.metadata and m.metadata["event_payload"]["type"] in et.TERMINAL]
        assert terminal.metadata is not None
        assert terminal.metadata["event_payload"]["event_id"] == slots["terminal"]
        assert slack_env.meta(task_id)["slack_notified_terminal"] == slots["terminal"]
