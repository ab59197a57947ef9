from __future__ import annotations

from datetime import UTC, datetime

from consumers.runtime import dlq_attributes as attr
from fanout.ops.dlq_peek import peek

from .conftest import depth, drain


def test_peek_shows_the_consumers_diagnosis_and_consumes_nothing(aws_client, local_run, dead_letter) -> None:
    sqs, run = aws_client("sqs"), local_run()
    dlq = run.dlq_urls["slack"]
    dead_letter(
        dlq,
        task_id="t1",
        event_type="task_failed",
        reason="terminal:channel_not_found",
        attempts=1,
        last_error="channel_not_found",
    )
    dead_letter(dlq, task_id="t2", reason=attr.REASON_BUDGET, attempts=10)

    result = peek(sqs, dlq, limit=10, wait_s=0)

    first = result.letters[0]
    assert (first.task_id, first.event_type, first.reason, first.attempts, first.last_error) == (
        "t1",
        "task_failed",
        "terminal:channel_not_found",
        1,
        "channel_not_found",
    )
    assert first.first_received is not None
    assert first.age(datetime.now(UTC)) is not None
    assert [letter.task_id for letter in result.letters] == ["t1", "t2"]
    assert depth(sqs, dlq) == (2, 0)  # visible again at once, nothing deleted
    assert len(peek(sqs, dlq, wait_s=0).letters) == 2  # and a second look sees the same


def test_peek_gathers_across_groups_up_to_the_limit(aws_client, local_run, dead_letter) -> None:
    sqs, run = aws_client("sqs"), local_run()
    dlq = run.dlq_urls["github"]
    for task in range(6):
        for kind in ("pr_created", "task_completed", "task_failed"):
            dead_letter(dlq, task_id=f"t{task}", event_type=kind)

    assert len(peek(sqs, dlq, limit=14, wait_s=0).letters) == 14
    everything = peek(sqs, dlq, limit=50, wait_s=0).letters
    # more than one receive's worth, every task, no message twice; a group that one receive cut in two
    # shows only its head (its tail stays locked behind it until the pass gives it back)
    assert len(everything) > 10
    assert len({letter.message_id for letter in everything}) == len(everything)
    assert {letter.task_id for letter in everything} == {f"t{task}" for task in range(6)}
    assert depth(sqs, dlq) == (18, 0)
    assert len(drain(sqs, dlq)) == 18


def test_peek_reads_a_malformed_body_without_failing(aws_client, local_run, dead_letter) -> None:
    sqs, run = aws_client("sqs"), local_run()
    dlq = run.dlq_urls["slack"]
    dead_letter(dlq, task_id="t9", body="{not json", reason=attr.REASON_MALFORMED)

    (letter,) = peek(sqs, dlq, wait_s=0).letters

    assert (letter.reason, letter.task_id, letter.event_id) == ("malformed", "t9", None)


def test_an_empty_dlq_is_an_empty_result_not_an_error(aws_client, local_run) -> None:
    sqs, run = aws_client("sqs"), local_run()
    result = peek(sqs, run.dlq_urls["slack"], wait_s=0)
    assert result.letters == []
    assert result.counts.total == 0
