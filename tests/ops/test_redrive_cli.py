"""`fanout dlq redrive` as an on-call engineer runs it: the installed command, against the moto server
over HTTP, on the DLQ layout that stalled the old redrive (every task opening with a message that
stays), interrupted with Ctrl-C halfway and run again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import depth
from .dlq_layouts import BUDGET, MALFORMED, TERMINAL, Letter, drain_by_task, per_task, write_layout

FANOUT = str(Path(sys.executable).parent / "fanout")
PATTERN = (TERMINAL, BUDGET, MALFORMED, BUDGET, TERMINAL, BUDGET)  # a stayer first, as in the walkthrough


def test_interrupted_filtered_redrive_then_rerun_moves_exactly_the_matches(
    aws_client, local_run, moto_endpoint
) -> None:
    sqs, run = aws_client("sqs"), local_run()
    dlq, queue = run.dlq_urls["github"], run.queue_urls["github"]
    letters = [Letter(f"task-{t}", f"ev-{t}-{i}", PATTERN[i]) for i in range(6) for t in range(20)]
    write_layout(sqs, dlq, letters)
    command = [
        FANOUT, "dlq", "redrive", "--channel", "github", "--engine", "client", "--reason", "budget",
        "--queue-prefix", run.prefix, "--endpoint-url", moto_endpoint,
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}

    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while depth(sqs, queue)[0] < 5 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGINT)  # Ctrl-C: stop after the message in hand
    out, err = first.communicate(timeout=120)

    assert first.returncode == 1, (out, err)
    (error,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "interrupted after moving" in error
    assert "run the same command again to continue" in error
    assert "Traceback" not in err
    assert depth(sqs, dlq)[1] == 0  # nothing left held: a rerun can start at once

    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)

    assert again.returncode == 0, (again.stdout, again.stderr)
    assert "left 20 malformed messages" in again.stdout
    assert "examined" in again.stderr  # progress lines, since stderr is not a terminal here
    assert drain_by_task(sqs, queue) == per_task([x for x in letters if x.reason == BUDGET])
    assert drain_by_task(sqs, dlq) == per_task([x for x in letters if x.reason != BUDGET])
