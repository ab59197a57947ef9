"""moto's own event source mappings never invoke: the local runtime does.

When a deployed mapping exists, moto invokes the function itself on every SQS send and DynamoDB write
(through Docker, which is not here) and, for a stream, drops the records it handed over. The runtime's
pollers are the event source mappings; moto keeps each mapping (its settings and state are what the
pollers read) but no longer acts on it. And since nothing here runs Docker, a function's Docker client
is absent rather than an error: moto's introspection (`GET /moto-api/data.json`, where the local runtime
and the tests read what SES sent) skips an absent attribute but fails whole on a DockerException.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_installed = False


class NotInvoked(dict):  # type: ignore[type-arg]
    """A queue's or table's mappings as moto keeps them, with nothing for it to invoke."""

    def items(self) -> Any:
        return []


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from moto.dynamodb.models.table import Table
        from moto.sqs.models import Queue

        for cls in (Queue, Table):
            original = cls.__init__

            def init(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> None:
                __original(self, *args, **kwargs)
                self.lambda_event_source_mappings = NotInvoked()

            cls.__init__ = init  # type: ignore[method-assign]
        _no_docker_client()
        _installed = True


def _no_docker_client() -> None:
    from moto.awslambda.models import LambdaFunction

    def absent(self: Any) -> Any:
        raise AttributeError("no Docker here: the local runtime invokes functions itself")

    LambdaFunction.docker_client = property(absent)  # type: ignore[assignment,method-assign]
