"""moto's server in its own process, for benchmarks: AWS does not share a CPU with the code under
test, so moto's work must not compete with it for the GIL either."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

READY_TRIES = 200
READY_PAUSE_S = 0.05
PIDS: dict[str, int] = {}  # URL -> the server's process id, while it runs (for its CPU time)


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Start `moto_server` on a free loopback port; yields its URL, stops it on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # moto's server as the local runtime runs it: its own event source mappings do not invoke.
    command = [sys.executable, "-m", "fanout.local.moto_server", "--port", str(port)]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            _wait_until_listening(process, port, errors)
            url = f"http://127.0.0.1:{port}"
            PIDS[url] = process.pid
            yield url
        finally:
            PIDS.pop(f"http://127.0.0.1:{port}", None)
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, errors: IO[bytes]) -> None:
    for _ in range(READY_TRIES):
        if process.poll() is not None:  # it exited: the port was taken in between, say
            errors.seek(0)
            tail = errors.read().decode(errors="replace")[-500:]
            raise RuntimeError(f"moto_server exited with {process.returncode} before listening: {tail}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
            return
        time.sleep(READY_PAUSE_S)
    raise RuntimeError(f"moto_server did not listen on port {port}")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far (Linux /proc), None where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
