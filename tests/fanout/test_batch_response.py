"""Partial batch responses: a record whose handler raises is listed; a failed FIFO group's later messages
are listed without being handled, other groups go on."""

from __future__ import annotations

from typing import Any

import pytest

from fanout.batch_response import process_partial, sqs_group_id, sqs_item_id, stream_item_id


def sqs(message_id: str, group: str) -> dict[str, Any]:
    return {"messageId": message_id, "attributes": {"MessageGroupId": group}, "body": message_id}


def stream(sequence: str) -> dict[str, Any]:
    return {"eventID": sequence, "dynamodb": {"SequenceNumber": sequence}}


def test_a_record_whose_handler_raises_is_listed_by_its_sequence_number() -> None:
    handled: list[str] = []

    def handler(record: Any) -> None:
        handled.append(record["eventID"])
        if record["eventID"] == "2":
            raise RuntimeError("not routed")

    response = process_partial([stream("1"), stream("2"), stream("3")], handler, item_id=stream_item_id)
    assert response == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert handled == ["1", "2", "3"]  # a stream batch goes on past a failed record


def test_a_failed_group_skips_its_later_messages_and_other_groups_go_on() -> None:
    handled: list[str] = []

    def handler(record: Any) -> None:
        handled.append(record["messageId"])
        if record["messageId"] == "a1":
            raise RuntimeError("wait")

    records = [sqs("a1", "A"), sqs("b1", "B"), sqs("a2", "A"), sqs("b2", "B"), sqs("a3", "A")]
    response = process_partial(records, handler, item_id=sqs_item_id, group_of=sqs_group_id)
    assert response["batchItemFailures"] == [{"itemIdentifier": m} for m in ("a1", "a2", "a3")]
    assert handled == ["a1", "b1", "b2"]  # a2 and a3 never overtake a1


def test_every_record_failing_is_a_partial_response_not_an_error() -> None:
    def handler(record: Any) -> None:
        raise ValueError(record["messageId"])

    records = [sqs("a1", "A"), sqs("b1", "B")]
    response = process_partial(records, handler, item_id=sqs_item_id, group_of=sqs_group_id)
    assert response == {"batchItemFailures": [{"itemIdentifier": "a1"}, {"itemIdentifier": "b1"}]}


@pytest.mark.parametrize("records", [[], [sqs("a1", "A")]])
def test_an_empty_or_clean_batch_has_no_failures(records: list[dict[str, Any]]) -> None:
    assert process_partial(records, lambda r: None, item_id=sqs_item_id, group_of=sqs_group_id) == {
        "batchItemFailures": []
    }
