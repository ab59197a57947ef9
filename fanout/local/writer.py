"""Write the input in order: tasks and events to the tables, secrets, raw queue messages, pauses."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fanout.dynamo import to_item
from fanout.local.events_file import PutEvent, PutSecret, PutTask, QueueMessage, Sleep, Step
from fanout.local.provision import Resources, ensure_secret


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class WriterState:
    events_written: int = 0
    steps_done: int = 0
    finished_at: float | None = None  # epoch seconds when the last step was written
    error: str | None = None


class Writer:
    def __init__(
        self,
        steps: Sequence[Step],
        *,
        resources: Resources,
        dynamodb: Any,
        sqs: Any,
        secrets: Any,
        clock: Callable[[], float],
    ) -> None:
        self._steps = list(steps)
        self._secrets = secrets
        self._resources = resources
        self._ddb = dynamodb
        self._sqs = sqs
        self._clock = clock
        self.state = WriterState()

    @property
    def total_steps(self) -> int:
        return len(self._steps)

    def run(self, stop: threading.Event) -> None:
        try:
            for step in self._steps:
                if stop.is_set():
                    return
                self._write(step, stop)
                self.state.steps_done += 1
        except Exception as exc:  # reported by the runner; the run then ends undrained
            self.state.error = f"writing failed: {exc!r}"
        finally:
            self.state.finished_at = self._clock()

    def _write(self, step: Step, stop: threading.Event) -> None:
        if isinstance(step, Sleep):
            stop.wait(step.seconds)
        elif isinstance(step, PutTask):
            self._ddb.put_item(TableName=self._resources.task_table, Item=to_item(step.item))
        elif isinstance(step, PutEvent):
            item = dict(step.item)
            if step.stamp_now:
                item["timestamp"] = now_iso()
            self._ddb.put_item(TableName=self._resources.events_table, Item=to_item(item))
            self.state.events_written += 1
        elif isinstance(step, PutSecret):
            ensure_secret(self._secrets, step.name, step.value)
        elif isinstance(step, QueueMessage):
            self._sqs.send_message(
                QueueUrl=self._resources.channels[step.channel].queue_url,
                MessageBody=step.body,
                MessageGroupId=step.group_id,
                MessageDeduplicationId=step.dedup_id,
            )
