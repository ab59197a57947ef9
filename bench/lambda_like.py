"""What a Lambda cold start runs in, for bench/coldstart.py: a read-only copy of the asset and a local AWS
endpoint that accepts every call, so a handler's first invocation makes its AWS calls without a network."""

from __future__ import annotations

import json
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _AcceptAll(BaseHTTPRequestHandler):
    """A local AWS endpoint that accepts every call (JSON protocol): SendMessageBatch lists every entry as
    sent, anything else gets an empty answer."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        answer: dict[str, Any] = {}
        if target.endswith(".SendMessageBatch"):
            entries = json.loads(body or b"{}").get("Entries", [])
            answer = {"Successful": [{"Id": e["Id"], "MessageId": e["Id"]} for e in entries], "Failed": []}
        elif target.endswith(".SendMessage"):
            answer = {"MessageId": "m-1"}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def local_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AcceptAll)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def read_only_copy(source: Path, *, bytecode: bool = True) -> Iterator[Path]:
    """The asset copied and made read-only, as Lambda unpacks it (root ignores the mode: hence -B too);
    without its bytecode when asked (what the asset was before it shipped any)."""
    with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp:
        copy = Path(tmp) / "task"
        shutil.copytree(source, copy, ignore=None if bytecode else shutil.ignore_patterns("__pycache__"))
        for path in sorted(copy.rglob("*"), reverse=True):
            path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXUSR if path.is_dir() else 0))
        try:
            yield copy
        finally:
            for path in copy.rglob("*"):
                if path.is_dir():
                    path.chmod(0o755)
            copy.chmod(0o755)
