"""The Lambda context object a handler receives (the attributes Powertools and the handlers read)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from fanout.local.endpoint import REGION

ACCOUNT = "123456789012"


@dataclass
class LambdaContext:
    function_name: str
    timeout_s: float
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or f"local/[$LATEST]{uuid.uuid4().hex}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_s - (time.monotonic() - self._started)
        return max(0, int(left * 1000))

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._started
