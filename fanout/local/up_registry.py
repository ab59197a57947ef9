"""Where a running `fanout local up` can be found: one small state file per AWS endpoint.

`fanout local up` registers itself (its pid and the URL of its control server, fanout/local/up_control.py)
under a name derived from its endpoint URL, and removes the file when it stops. `fanout local run
--aws-endpoint URL` looks the URL up: no new flag is needed, and a file left by an `up` that died (its
pid is gone, or it no longer answers as that pid for that endpoint) is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

STATE_DIR_ENV = "FANOUT_LOCAL_STATE_DIR"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Registration:
    pid: int
    endpoint: str
    control_url: str
    stack: str


def state_dir() -> Path:
    """FANOUT_LOCAL_STATE_DIR, else the user's runtime directory, else ~/.cache/fanout/local-up."""
    given = os.environ.get(STATE_DIR_ENV)
    if given:
        return Path(given)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "fanout-local-up"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "fanout" / "local-up"


def endpoint_key(url: str) -> str:
    """One spelling per endpoint: `http://localhost:5000/` and `http://127.0.0.1:5000` are the same."""
    parts = urlsplit(url.strip())
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    if host in LOOPBACK_NAMES:
        host = "127.0.0.1"
    port = parts.port or DEFAULT_PORTS.get(scheme, 0)
    return f"{scheme}://{host}:{port}"


def state_path(endpoint: str) -> Path:
    digest = hashlib.sha256(endpoint_key(endpoint).encode()).hexdigest()[:20]
    return state_dir() / f"{digest}.json"


def register(endpoint: str, control_url: str, stack: str) -> Path:
    """Write this process's registration for `endpoint` (replacing a stale one); returns the file."""
    path = state_path(endpoint)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = {
        "pid": os.getpid(),
        "endpoint": endpoint_key(endpoint),
        "control_url": control_url,
        "stack": stack,
        "started_at": time.time(),
    }
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data) + "\n", encoding="utf-8")
    temporary.replace(path)  # readers never see half a file
    return path


def unregister(path: Path) -> None:
    """Remove the file if it is still this process's (another `up` may have replaced a stale one)."""
    found = read(path)
    if found is not None and found.pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def read(path: Path) -> Registration | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Registration(
            pid=int(data["pid"]),
            endpoint=str(data["endpoint"]),
            control_url=str(data["control_url"]),
            stack=str(data["stack"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def live_registration(endpoint: str) -> Registration | None:
    """The registration of a live `up` for `endpoint`; a file whose pid is dead is removed and ignored.

    The caller still asks the control server who it is (a pid can be reused)."""
    path = state_path(endpoint)
    found = read(path)
    if found is None or found.endpoint != endpoint_key(endpoint):
        return None
    if not pid_alive(found.pid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None
    return found
