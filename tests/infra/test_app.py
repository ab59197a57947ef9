"""app.py as the CDK CLI runs it: context from CDK_CONTEXT_JSON, a tuning mistake exits with one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cdk

ROOT = Path(__file__).resolve().parents[2]


def test_an_invalid_cli_override_exits_nonzero_with_the_reason_and_no_traceback(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "CDK_OUTDIR": str(tmp_path),
        # What `cdk synth -c fanout:slack:maxConcurrency=1` hands the app.
        "CDK_CONTEXT_JSON": json.dumps({"fanout:slack:maxConcurrency": "1"}),
    }
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 1
    assert "fanout: cannot synthesize: invalid settings for channel slack" in result.stderr
    assert "maxConcurrency 1 must be 2..1000" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "manifest.json").exists()
