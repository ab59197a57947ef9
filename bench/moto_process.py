"""moto's server in its own process, for benchmarks: AWS does not share a CPU with the code under
test, so moto's work must not compete with it for the GIL either."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

READY_TRIES = 200
READY_PAUSE_S = 0.05


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """Start `moto_server` on a free loopback port; yields its URL, stops it on exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(READY_TRIES):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
            time.sleep(READY_PAUSE_S)
        else:
            raise RuntimeError(f"moto_server did not start on port {port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
