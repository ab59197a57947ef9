from __future__ import annotations

from fanout.local.emulator.fifo_guard import FifoOrderGuard


def message(message_id: str, group: str | None = "g") -> dict:
    attributes = {"MessageGroupId": group} if group else {}
    return {"MessageId": message_id, "Attributes": attributes}


def test_later_message_is_put_back_while_an_earlier_one_waits():
    guard = FifoOrderGuard()
    first = [message("m0"), message("m1")]
    admitted, released = guard.admit(first)
    guard.settle(admitted, failed_ids={"m0", "m1"})

    admitted, released = guard.admit([message("m1")])  # moto handed out the later one alone

    assert admitted == []
    assert [m["MessageId"] for m in released] == ["m1"]
    assert guard.released == 1


def test_group_in_order_again_is_admitted_and_other_groups_are_never_held():
    guard = FifoOrderGuard()
    guard.settle(guard.admit([message("m0"), message("m1")])[0], failed_ids={"m0", "m1"})

    admitted, released = guard.admit([message("m0"), message("m1"), message("x0", "other")])

    assert [m["MessageId"] for m in admitted] == ["m0", "m1", "x0"]
    assert released == []


def test_a_new_message_behind_a_waiting_one_is_held_until_the_head_is_done():
    guard = FifoOrderGuard()
    guard.settle(guard.admit([message("m0")])[0], failed_ids={"m0"})
    assert guard.admit([message("m1")])[0] == []

    guard.settle(guard.admit([message("m0")])[0], failed_ids=set())  # the head succeeded

    assert [m["MessageId"] for m in guard.admit([message("m1")])[0]] == ["m1"]


def test_a_forgotten_head_stops_blocking():
    now = [0.0]
    guard = FifoOrderGuard(clock=lambda: now[0])
    guard.settle(guard.admit([message("m0")])[0], failed_ids={"m0"})
    now[0] = 10_000.0
    assert [m["MessageId"] for m in guard.admit([message("m1")])[0]] == ["m1"]
