"""AccessDenied answers to the functions' own AWS calls, heard on their clients.

A handler may turn an AWS error into a retry (that is its job), so a missing grant would look like a
slow channel. Every client a function or its poller uses reports here, with the function's name, the
action and the resource, and the run ends on the first one, as a deployment bug.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from fanout.local.iam import ACCESS_DENIED_CODES, BATCH_ACTIONS

# The request parameter that names the resource, per service (botocore's service names).
RESOURCE_PARAMS = ("QueueUrl", "TableName", "StreamArn", "SecretId", "UUID", "FunctionName", "StackName")


@dataclass(frozen=True)
class Denial:
    function: str
    action: str
    resource: str

    def line(self) -> str:
        return f"AccessDenied: function {self.function} may not {self.action} on {self.resource}"


class Denials:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.found: list[Denial] = []
        self.event = threading.Event()
        self._last = threading.local()

    def watch(self, client: Any, function: str) -> None:
        service = client.meta.service_model.signing_name or client.meta.service_model.service_name
        events = client.meta.events

        def remember(params: Any, **_: Any) -> None:
            self._last.params = params if isinstance(params, dict) else {}

        def check(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
            error = parsed.get("Error", {}) if isinstance(parsed, dict) else {}
            # moto answers a JSON-protocol call's denial in XML, which botocore reports as code "403".
            body = getattr(http_response, "content", b"") or b""
            xml_denial = getattr(http_response, "status_code", 0) == 403 and b"AccessDenied" in body
            if error.get("Code") not in ACCESS_DENIED_CODES and not xml_denial:
                return
            params = getattr(self._last, "params", {}) or {}
            resource = next((str(params[p]) for p in RESOURCE_PARAMS if params.get(p)), "*")
            action = f"{service}:{model.name}"
            self.add(Denial(function, BATCH_ACTIONS.get(action, action), resource))

        events.register("before-parameter-build", remember)
        events.register("after-call", check)

    def add(self, denial: Denial) -> None:
        with self._lock:
            if denial not in self.found:
                self.found.append(denial)
        self.event.set()

    def lines(self) -> list[str]:
        with self._lock:
            return [d.line() for d in self.found]
