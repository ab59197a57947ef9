"""A filtered client redrive always finishes, over any DLQ layout: which reasons, in which order within a
task, more messages per task than one receive returns, hundreds of tasks. One pass moves exactly the
matching messages in their order within each task and leaves the rest in the DLQ in theirs; a pass
stopped (Ctrl-C) or crashed at any call and run again ends in the same state, nothing lost or
duplicated.

Against moto in-process (`mock_aws`, without resetting the shared backends): moto's SQS costs O(queue
length) per call, so these layouts would take minutes over HTTP. The same walk goes over HTTP to the moto
server in test_redrive_client.py and, as the CLI, in test_redrive_cli.py."""

from __future__ import annotations

import contextlib
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from fanout.ops.filters import RedriveFilter
from fanout.ops.redrive_client import RedriveProgress, redrive_client

from .dlq_layouts import BUDGET, MALFORMED, TERMINAL, Letter, drain_by_task, per_task, write_layout

REASONS = (BUDGET, TERMINAL, MALFORMED)
SECOND_PASS_UP_TO = 120  # bigger layouts are checked by reading the DLQ back instead (cheaper in moto)


class Crash(Exception):
    """The process dies at this call (before it reaches SQS, or after SQS acted but before the answer)."""


class CrashingSQS:
    """The real client, dying at the `at`-th send or delete."""

    def __init__(self, real: Any, *, at: int, after: bool) -> None:
        self.real, self.at, self.after, self.calls = real, at, after, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def _maybe_crash(self, name: str, params: dict[str, Any]) -> Any:
        self.calls += 1
        if self.calls == self.at and not self.after:
            raise Crash(name)
        answer = getattr(self.real, name)(**params)
        if self.calls == self.at:
            raise Crash(name)
        return answer

    def send_message(self, **params: Any) -> Any:
        return self._maybe_crash("send_message", params)

    def delete_message(self, **params: Any) -> Any:
        return self._maybe_crash("delete_message", params)


@st.composite
def layouts(draw: st.DrawFn, max_tasks: int = 12, max_per_task: int = 13) -> list[Letter]:
    sizes = draw(st.lists(st.integers(1, max_per_task), min_size=1, max_size=max_tasks))
    sizes = sizes[: max(1, next((i for i in range(len(sizes)) if sum(sizes[: i + 1]) > 70), len(sizes)))]
    letters = {
        t: [Letter(f"task-{t}", f"ev-{t}-{i:03}", draw(st.sampled_from(REASONS))) for i in range(n)]
        for t, n in enumerate(sizes)
    }
    slots = draw(st.permutations([t for t, n in enumerate(sizes) for _ in range(n)]))  # interleaving
    cursors = dict.fromkeys(letters, 0)
    ordered = []
    for t in slots:
        ordered.append(letters[t][cursors[t]])
        cursors[t] += 1
    return ordered


def _issue_layout() -> list[Letter]:
    """The walkthrough's DLQ: 300 messages over 50 tasks, each task opening with a message that stays."""
    pattern = (TERMINAL, BUDGET, MALFORMED, BUDGET, TERMINAL, BUDGET)
    return [Letter(f"task-{t}", f"ev-{t}-{i:03}", pattern[i]) for i in range(6) for t in range(50)]


def _hundreds_of_tasks() -> list[Letter]:
    return [Letter(f"task-{t}", f"ev-{t}-000", REASONS[t % 3]) for t in range(200)]


def _one_long_task() -> list[Letter]:
    """A task with far more messages than one receive returns, stayers spread through it."""
    return [
        Letter("task-long", f"ev-{i:03}", (TERMINAL, TERMINAL, BUDGET, MALFORMED)[i % 4]) for i in range(45)
    ]


INTERRUPTS = st.one_of(
    st.none(),
    st.tuples(st.just("stop"), st.integers(0, 400)),
    st.tuples(st.just("crash"), st.integers(1, 600), st.booleans()),
)


@pytest.fixture
def dlq_pair(unique_name):
    """Factory: a fresh FIFO channel queue and DLQ in moto in-process (deleted afterwards)."""
    mock = mock_aws()
    mock.start(reset=False)  # the moto server of this worker shares these backends: keep its data
    sqs = boto3.client("sqs", region_name="us-east-1")
    made: list[str] = []

    def make() -> tuple[Any, str, str]:
        name = unique_name("prop")
        urls = [
            sqs.create_queue(QueueName=f"{name}{suffix}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
            for suffix in ("", "-dlq")
        ]
        made.extend(urls)
        return sqs, urls[0], urls[1]

    try:
        yield make
    finally:
        for url in made:
            sqs.delete_queue(QueueUrl=url)
        mock.stop(remove_data=False)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(
    letters=layouts(),
    reason=st.sampled_from([None, "budget", "terminal"]),
    include_malformed=st.booleans(),
    interrupt=INTERRUPTS,
)
@example(letters=_issue_layout(), reason="budget", include_malformed=False, interrupt=("crash", 137, True))
@example(letters=_hundreds_of_tasks(), reason="terminal", include_malformed=True, interrupt=("stop", 80))
@example(letters=_one_long_task(), reason="budget", include_malformed=False, interrupt=("crash", 9, False))
def test_one_pass_moves_exactly_the_matching_messages_in_order(
    dlq_pair, letters, reason, include_malformed, interrupt
) -> None:
    sqs, queue, dlq = dlq_pair()
    write_layout(sqs, dlq, letters)
    filters = RedriveFilter(reason=reason)

    def matches(letter: Letter) -> bool:
        if letter.reason == MALFORMED and not include_malformed:
            return False
        return reason is None or reason in letter.reason

    def run(client: Any, **extra: Any) -> Any:
        return redrive_client(
            client, dlq, queue, filters, include_malformed=include_malformed, wait_s=0, **extra
        )

    progress: list[RedriveProgress] = []
    if interrupt is None:
        result = run(sqs, on_progress=progress.append)
        assert result.ok
        assert (result.examined, result.moved) == (len(letters), sum(map(matches, letters)))
        assert result.malformed_kept == (
            0 if include_malformed else sum(x.reason == MALFORMED for x in letters)
        )
        examined = [p.examined for p in progress]
        assert examined == sorted(examined)
        assert examined[-1] == len(letters)  # the progress bar reaches the end
        assert progress[-1].total == len(letters)
    else:
        if interrupt[0] == "stop":
            decided = iter(range(10**6))
            first = run(sqs, stop=lambda: next(decided) >= interrupt[1] * 2)
            assert first.interrupted or first.ok
        else:
            with contextlib.suppress(Crash):  # a crash past the last call: the pass simply finished
                run(CrashingSQS(sqs, at=interrupt[1], after=interrupt[2]))
        assert run(sqs).ok  # the rerun finishes the job

    assert drain_by_task(sqs, queue) == per_task([x for x in letters if matches(x)])
    # What stayed is all still there, once each, in its order: a second pass of everything shows it.
    rest = run_everything(sqs, dlq, queue)
    assert rest.ok
    assert drain_by_task(sqs, queue) == per_task([x for x in letters if not matches(x)])
    assert (
        sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )


def run_everything(sqs: Any, dlq: str, queue: str) -> Any:
    return redrive_client(sqs, dlq, queue, include_malformed=True, wait_s=0)
