"""`python -m fanout.local.moto_server --port N`: moto's server as the local runtime runs it in-process.

For tools that want the endpoint in a process of its own (benchmarks): moto's own event source mappings
do not invoke (the runtime's pollers do). IAM is not enforced here (`fanout local up` enforces it
in-process).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fanout.local.moto_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    from moto.server import ThreadedMotoServer

    from fanout.local.emulator import moto_invoke

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_invoke.install()
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.stop()


if __name__ == "__main__":
    main()
