"""The ledger against a real DynamoDB table (moto server)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from consumers.runtime.ledger import AlreadyDone, Claimed, HeldByOther, Ledger, LedgerUnavailable
from consumers.runtime.settings import DONE_RETENTION_S

from .conftest import FaultyDynamo, provision

NOW = 1_800_000_000.0
TTL = 60

MakeLedger = Callable[[], tuple[Ledger, FaultyDynamo, str]]


@pytest.fixture
def make_ledger(aws_client: Callable[[str], Any], unique_name: Callable[[str], str]) -> MakeLedger:
    def make() -> tuple[Ledger, FaultyDynamo, str]:
        _, _, _, table = provision(aws_client, unique_name)
        db = FaultyDynamo(aws_client("dynamodb"))
        return Ledger(db, table=table, channel="slack", claim_ttl_s=TTL), db, table

    return make


def raw_item(db: FaultyDynamo, table: str, key: str) -> dict[str, Any]:
    return db.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item", {})


def test_a_fresh_event_is_claimed_with_an_expiry_apart_from_the_ttl(make_ledger: MakeLedger) -> None:
    ledger, db, table = make_ledger()

    result = ledger.claim("e1", NOW)

    assert isinstance(result, Claimed)
    assert (result.previous_uncertain, result.attempts, result.first_attempt_at) == (False, 0, NOW)
    item = raw_item(db, table, "slack#e1")
    assert item["state"] == {"S": "claimed"}
    assert float(item["claim_expires_at"]["N"]) == NOW + TTL
    assert float(item["expires_at"]["N"]) == NOW + DONE_RETENTION_S


def test_a_live_claim_is_held_by_the_other_attempt(make_ledger: MakeLedger) -> None:
    ledger, _, _ = make_ledger()
    ledger.claim("e1", NOW)

    assert ledger.claim("e1", NOW + 10) == HeldByOther(expires_at=NOW + TTL)


def test_a_completed_event_is_already_done(make_ledger: MakeLedger) -> None:
    ledger, db, table = make_ledger()
    ledger.claim("e1", NOW)
    ledger.complete("e1", NOW + 1)

    assert ledger.claim("e1", NOW + 2) == AlreadyDone()
    assert raw_item(db, table, "slack#e1")["state"] == {"S": "done"}


def test_a_release_counts_the_attempt_and_keeps_uncertainty_for_the_next_claim(
    make_ledger: MakeLedger,
) -> None:
    ledger, _, _ = make_ledger()
    first = ledger.claim("e1", NOW)
    assert isinstance(first, Claimed)
    assert ledger.release(
        "e1", first.claim_id, attempt_failed=True, uncertain=True, last_error="timeout", now=NOW + 1
    )

    second = ledger.claim("e1", NOW + 30)

    assert isinstance(second, Claimed)
    assert (second.previous_uncertain, second.attempts, second.last_error) == (True, 1, "timeout")
    assert second.first_attempt_at == NOW


def test_a_deferral_release_costs_no_attempt(make_ledger: MakeLedger) -> None:
    ledger, _, _ = make_ledger()
    first = ledger.claim("e1", NOW)
    assert isinstance(first, Claimed)
    ledger.release("e1", first.claim_id, attempt_failed=False, uncertain=False, last_error="paced", now=NOW)

    again = ledger.claim("e1", NOW + 1)

    assert isinstance(again, Claimed)
    assert again.attempts == 0
    assert not again.previous_uncertain


def test_an_expired_claim_is_taken_over_as_uncertain_and_counts_an_attempt(make_ledger: MakeLedger) -> None:
    ledger, _, _ = make_ledger()
    dead = ledger.claim("e1", NOW)
    assert isinstance(dead, Claimed)

    taken = ledger.claim("e1", NOW + TTL + 1)

    assert isinstance(taken, Claimed)
    assert (taken.previous_uncertain, taken.attempts) == (True, 1)
    # the dead attempt can no longer release what it lost
    assert not ledger.release(
        "e1", dead.claim_id, attempt_failed=True, uncertain=False, last_error="x", now=NOW
    )
    assert isinstance(ledger.claim("e1", NOW + TTL + 2), HeldByOther)


def test_release_for_redrive_forgets_attempts_but_keeps_uncertainty(make_ledger: MakeLedger) -> None:
    ledger, db, table = make_ledger()
    claim = ledger.claim("sure", NOW)
    assert isinstance(claim, Claimed)
    ledger.release_for_redrive("sure", uncertain=False, now=NOW)
    assert raw_item(db, table, "slack#sure") == {}

    ledger.claim("maybe", NOW)
    ledger.release_for_redrive("maybe", uncertain=True, now=NOW)
    again = ledger.claim("maybe", NOW + 1)
    assert isinstance(again, Claimed)
    assert again.previous_uncertain
    assert again.attempts == 0


def test_release_for_redrive_never_touches_a_completed_event(make_ledger: MakeLedger) -> None:
    ledger, _, _ = make_ledger()
    ledger.claim("e1", NOW)
    ledger.complete("e1", NOW)

    ledger.release_for_redrive("e1", uncertain=False, now=NOW)
    ledger.release_for_redrive("e1", uncertain=True, now=NOW)

    assert ledger.claim("e1", NOW + 1) == AlreadyDone()


@pytest.mark.parametrize("operation", ["put_item", "update_item", "get_item"])
def test_dynamodb_throttling_is_ledger_unavailable(make_ledger: MakeLedger, operation: str) -> None:
    ledger, db, _ = make_ledger()
    if operation != "put_item":
        first = ledger.claim("e1", NOW)
        assert isinstance(first, Claimed)
        ledger.release("e1", first.claim_id, attempt_failed=True, uncertain=False, last_error="x", now=NOW)
    db.fail_when(operation)

    call = (lambda: ledger.peek("e1")) if operation == "get_item" else (lambda: ledger.claim("e1", NOW + 1))

    with pytest.raises(LedgerUnavailable, match="ThrottlingException"):
        call()
    assert db.failed == 1


def test_peek_reads_the_entry(make_ledger: MakeLedger) -> None:
    ledger, _, _ = make_ledger()
    assert ledger.peek("e1") is None
    ledger.claim("e1", NOW)

    entry = ledger.peek("e1")

    assert entry is not None
    assert entry.live_claim(NOW + 1)
    assert not entry.live_claim(NOW + TTL)


def released(ledger: Ledger, event_id: str, *, uncertain: bool) -> None:
    claim = ledger.claim(event_id, NOW)
    assert isinstance(claim, Claimed)
    ledger.release(
        event_id, claim.claim_id, attempt_failed=True, uncertain=uncertain, last_error="x", now=NOW
    )


def test_an_unclaimed_redrive_release_deletes_only_a_certain_released_item(make_ledger: MakeLedger) -> None:
    ledger, db, table = make_ledger()
    released(ledger, "sure", uncertain=False)
    released(ledger, "maybe", uncertain=True)
    ledger.claim("dead", NOW - TTL - 1)  # an attempt that died: it may have sent
    ledger.claim("done", NOW)
    ledger.complete("done", NOW)

    for event_id in ("sure", "maybe", "dead", "done", "absent"):
        ledger.release_for_redrive(event_id, uncertain=False, now=NOW, claimed=False)

    assert raw_item(db, table, "slack#sure") == {}
    assert raw_item(db, table, "slack#absent") == {}
    for kept in ("maybe", "dead"):
        item = raw_item(db, table, f"slack#{kept}")
        assert (item["state"], item["uncertain"], item["attempts"]) == (
            {"S": "released"},
            {"BOOL": True},
            {"N": "0"},
        )
        again = ledger.claim(kept, NOW + 1)
        assert isinstance(again, Claimed)
        assert (again.previous_uncertain, again.attempts) == (True, 0)
    assert ledger.claim("done", NOW + 1) == AlreadyDone()


@pytest.mark.parametrize("earlier", ["absent", "released", "expired"])
def test_a_claim_whose_answer_was_lost_is_recognised_as_ours(make_ledger: MakeLedger, earlier: str) -> None:
    ledger, db, table = make_ledger()
    if earlier != "absent":
        first = ledger.claim("e1", NOW - 2 * TTL)
        assert isinstance(first, Claimed)
        if earlier == "released":
            ledger.release(
                "e1", first.claim_id, attempt_failed=True, uncertain=False, last_error="x", now=NOW - TTL
            )
    db.lose_answer_once("put_item" if earlier == "absent" else "update_item")

    result = ledger.claim("e1", NOW)

    assert isinstance(result, Claimed), result  # not HeldByOther: the claim id that holds it is ours
    assert raw_item(db, table, "slack#e1")["claim_id"] == {"S": result.claim_id}
    assert result.attempts == {"absent": 0, "released": 1, "expired": 1}[earlier]
    assert result.previous_uncertain == (earlier == "expired")
