"""`fanout dlq redrive --engine client`: move dead-lettered messages back to the channel queue ourselves,
with filters and a dry run. It always finishes: one pass decides every message in the DLQ.

Why it always makes progress: SQS shows no message of a FIFO group while an earlier one of the group is
held, so a message that stays behind would hide the rest of its task. The pass never leaves one there:
a message that stays is *parked* (sent to a higher lane of its task, then deleted; fanout/ops/lanes.py),
which unlocks the next one. The pass first receives until nothing new comes (holding everything, so it
knows every lane of every task), then walks each task's lanes in order, deciding each message exactly
once: move it (send to the queue, then delete), park it, or, when another copy of it was already decided
in this pass (left by an interrupted redrive), delete the duplicate. A lane is finished when a receive
brings nothing new while none of its messages is held. Each receive brings something new or ends a
lane, each message is decided once, so the pass ends with every reachable message decided.

Never loses a message: a message is deleted from the DLQ only after the queue (or its park lane)
accepted it. A crash between the two leaves two copies; the repeated send reuses its deduplication id
(absorbed by SQS within five minutes), and the next pass deletes a parked duplicate when it meets it. A
failed send or delete stops that task (the rest of it stays, in order) and makes the run exit 1.

`stop()` is checked before each message (Ctrl-C in the CLI), so an interrupt never splits a move.
Everything the pass still holds is made visible again when it ends, however it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from fanout.ops import messages
from fanout.ops.errors import OpsError
from fanout.ops.filters import RedriveFilter
from fanout.ops.lanes import Lane, move_dedup_id, park_dedup_id
from fanout.ops.messages import DeadLetter

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any

REDRIVE_VISIBILITY_S = 300  # how long a pass holds a message between two refreshes of its hold
REFRESH_EVERY_S = 100  # holds are renewed this often, so a long pass never loses one to the timeout


@dataclass(frozen=True)
class RedriveProgress:
    examined: int
    matched: int
    moved: int
    total: int  # the DLQ's approximate depth when the pass started


@dataclass
class RedriveResult:
    dry_run: bool
    total: int = 0
    examined: int = 0
    matched: int = 0
    moved: int = 0
    stayed: int = 0  # examined, not matching: left in the DLQ (parked)
    malformed_kept: int = 0  # `malformed`: left in the DLQ unless --include-malformed
    duplicates: int = 0  # second copies left by an interrupted redrive, removed
    matches: list[DeadLetter] = field(default_factory=list)  # matched: moved, would move, or failed
    failed: list[str] = field(default_factory=list)  # "<message id>: <error>": not moved, still in the DLQ
    delete_failed: list[str] = field(default_factory=list)  # moved but still in the DLQ: may move twice
    unexamined: int = 0  # not decided: --limit, an interrupt, a failed task, a dry run, other tasks
    reached_limit: bool = False
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed and not self.delete_failed and not self.interrupted

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "examined": self.examined,
            "matched": self.matched,
            "moved": self.moved,
            "stayed": self.stayed,
            "malformed_kept": self.malformed_kept,
            "duplicates_removed": self.duplicates,
            "failed": self.failed,
            "delete_failed": self.delete_failed,
            "unexamined": self.unexamined,
            "interrupted": self.interrupted,
            "messages": [letter.as_json(now) for letter in self.matches],
        }


ProgressFn = Callable[[RedriveProgress], None]


def dedup_id(letter: DeadLetter) -> str:
    return move_dedup_id(letter.origin)


class DlqBusy(OpsError):
    """Another peek or redrive holds messages of the DLQ: a pass now could not see every task."""


def redrive_client(
    sqs: SQSClient,
    source_dlq_url: str,
    dest_queue_url: str,
    filters: RedriveFilter | None = None,
    *,
    dry_run: bool = False,
    include_malformed: bool = False,
    on_progress: ProgressFn | None = None,
    limit: int | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    wait_s: int = 1,
    visibility_timeout: int = REDRIVE_VISIBILITY_S,
    stop: Callable[[], bool] = lambda: False,
    monotonic: Callable[[], float] = time.monotonic,
) -> RedriveResult:
    """Move the DLQ's matching messages (at most `limit`) to the queue; see the module doc for the rules."""
    start = messages.queue_counts(sqs, source_dlq_url)
    if start.in_flight:
        raise DlqBusy(
            f"{start.in_flight} messages of {messages.queue_name_of(source_dlq_url)} are held by another "
            "peek or redrive: wait until they are visible again (at most 5 minutes), then run again"
        )
    walk = _Walk(
        sqs,
        source_dlq_url,
        dest_queue_url,
        filters or RedriveFilter(),
        RedriveResult(dry_run=dry_run, total=start.visible + start.delayed),
        include_malformed=include_malformed,
        limit=limit,
        clock=clock,
        wait_s=wait_s,
        visibility=visibility_timeout,
        stop=stop,
        monotonic=monotonic,
        on_progress=on_progress,
    )
    return walk.run()


@dataclass
class _Task:
    lanes: list[int]  # lane numbers still to walk, the current one first (highest number first)
    park: int  # the lane this pass parks into: above every lane it found
    skipped: bool = False  # --task-id names another task: never touched
    blocked: bool = False  # a send or delete failed: the rest of the task stays where it is


class _Walk:
    def __init__(
        self,
        sqs: SQSClient,
        dlq_url: str,
        queue_url: str,
        filters: RedriveFilter,
        result: RedriveResult,
        *,
        include_malformed: bool,
        limit: int | None,
        clock: Callable[[], datetime],
        wait_s: int,
        visibility: int,
        stop: Callable[[], bool],
        monotonic: Callable[[], float],
        on_progress: ProgressFn | None,
    ) -> None:
        self.sqs, self.dlq_url, self.queue_url = sqs, dlq_url, queue_url
        self.filters, self.result = filters, result
        self.include_malformed, self.limit, self.clock = include_malformed, limit, clock
        self.wait_s, self.visibility, self.stop, self.monotonic = wait_s, visibility, stop, monotonic
        self.on_progress = on_progress
        self.held: dict[str, str] = {}  # message id -> receipt handle: made visible again at the end
        self.pending: dict[Lane, list[DeadLetter]] = {}  # received, not decided yet, in FIFO order
        self.tasks: dict[str, _Task] = {}
        self.decided: set[str] = set()  # origins decided in this pass
        self.discovering = True
        self.refreshed_at = monotonic()

    def run(self) -> RedriveResult:
        try:
            while self._receive():  # know every task's lanes before deciding anything
                pass
            self.discovering = False
            while not self._halted():
                self._decide_ready()
                if self._halted() or self._receive():
                    continue
                if not self._advance():
                    break
            self.result.reached_limit = self._limit_reached()
            self.result.interrupted = self.stop() and not self.result.reached_limit
            undecided = sum(len(v) for lane, v in self.pending.items() if not self.tasks[lane.group].skipped)
            visible = messages.queue_counts(self.sqs, self.dlq_url).visible  # locked behind what we hold
            self.result.unexamined = undecided + visible
        finally:
            messages.give_back(self.sqs, self.dlq_url, self.held.values())
        self._report()
        return self.result

    def _limit_reached(self) -> bool:
        return self.limit is not None and self.result.matched >= self.limit

    def _halted(self) -> bool:
        return self._limit_reached() or self.stop()

    def _report(self) -> None:
        if self.on_progress is not None:
            r = self.result
            self.on_progress(RedriveProgress(r.examined, r.matched, r.moved, max(r.total, r.examined)))

    def _receive(self) -> bool:
        """One receive; True when it brought a message this pass had not seen."""
        if self.monotonic() - self.refreshed_at >= REFRESH_EVERY_S:
            messages.set_visibility(self.sqs, self.dlq_url, self.held.values(), self.visibility)
            self.refreshed_at = self.monotonic()
        batch = messages.receive(
            self.sqs, self.dlq_url, visibility_timeout=self.visibility, wait_s=self.wait_s
        )
        fresh = False
        for raw in batch:
            fresh = self._route(raw) or fresh
        return fresh

    def _route(self, raw: dict[str, Any]) -> bool:
        message_id, handle = str(raw["MessageId"]), str(raw["ReceiptHandle"])
        known = message_id in self.held
        self.held[message_id] = handle  # a lapsed hold is simply renewed with the new handle
        if known:
            return False
        letter = messages.parse_dead_letter(raw)
        lane = letter.lane
        task = self.tasks.get(lane.group)
        if task is None:
            task = _Task(lanes=[], park=lane.number + 1)
            task.skipped = self.filters.task_id is not None and letter.task_id != self.filters.task_id
            self.tasks[lane.group] = task
        if lane.number == task.park and not self.discovering:
            return True  # a copy this pass parked: it stays held until the end
        if lane.number not in task.lanes:
            if not self.discovering and task.lanes and lane.number > task.lanes[0]:
                return True  # a lane above the walked ones appeared mid-pass: left for the next pass
            task.lanes = sorted({*task.lanes, lane.number}, reverse=True)
            task.park = max(task.park, lane.number + 1)
        self.pending.setdefault(lane, []).append(letter)
        return True

    def _decide_ready(self) -> None:
        for group, task in self.tasks.items():
            if task.skipped or task.blocked or not task.lanes:
                continue
            queue = self.pending.get(Lane(group, task.lanes[0]), [])
            while queue and not task.blocked:
                if self._halted():
                    return
                self._decide(task, queue.pop(0))
                self._report()

    def _advance(self) -> bool:
        """Nothing new came: every current lane with nothing held is finished. False: none was."""
        advanced = False
        for group, task in self.tasks.items():
            if task.skipped or task.blocked or not task.lanes:
                continue
            if not self.pending.get(Lane(group, task.lanes[0])):
                task.lanes.pop(0)
                advanced = True
        return advanced

    def _decide(self, task: _Task, letter: DeadLetter) -> None:
        result = self.result
        result.examined += 1
        if letter.origin in self.decided:
            result.duplicates += 1  # left by an interrupted pass: its other copy was decided already
            if not self.result.dry_run:
                self._delete(task, letter, "duplicate decided, but the DLQ still holds it")
            return
        self.decided.add(letter.origin)
        if letter.malformed and not self.include_malformed:
            result.malformed_kept += 1
        elif self.filters.matches(letter, self.clock()):
            result.matched += 1
            result.matches.append(letter)
            if not result.dry_run:
                self._move(task, letter)
            return
        else:
            result.stayed += 1
        if not result.dry_run:
            self._park(task, letter)

    def _move(self, task: _Task, letter: DeadLetter) -> None:
        if letter.group_id is None:
            self._fail(task, f"{letter.message_id}: no MessageGroupId (not a FIFO message)")
            return
        sent = self._send(
            task,
            letter,
            QueueUrl=self.queue_url,
            MessageBody=letter.body,
            MessageGroupId=letter.lane.group,
            MessageDeduplicationId=move_dedup_id(letter.origin),
            MessageAttributes=messages.redrive_attributes(letter),
        )
        if sent:
            self.result.moved += 1
            self._delete(
                task, letter, "moved, but the DLQ still holds it (a later redrive may move it again)"
            )

    def _park(self, task: _Task, letter: DeadLetter) -> None:
        sent = self._send(
            task,
            letter,
            QueueUrl=self.dlq_url,
            MessageBody=letter.body,
            MessageGroupId=Lane(letter.lane.group, task.park).group_id,
            MessageDeduplicationId=park_dedup_id(letter.message_id),
            MessageAttributes=messages.park_attributes(letter, task.park),
        )
        if sent:
            self._delete(
                task, letter, "parked, but the original is still there (the next redrive removes it)"
            )

    def _send(self, task: _Task, letter: DeadLetter, **params: Any) -> bool:
        try:
            self.sqs.send_message(**params)
        except (ClientError, BotoCoreError) as exc:
            self._fail(task, f"{letter.message_id}: send failed: {exc}")
            return False
        return True

    def _delete(self, task: _Task, letter: DeadLetter, what: str) -> None:
        try:
            self.sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=self.held[letter.message_id])
        except (ClientError, BotoCoreError) as exc:
            self.result.delete_failed.append(f"{letter.message_id}: {what} ({exc})")
            task.blocked = True  # it still locks its lane: the rest of the task must wait for a rerun
            return
        del self.held[letter.message_id]

    def _fail(self, task: _Task, failure: str) -> None:
        self.result.failed.append(failure)
        task.blocked = True
