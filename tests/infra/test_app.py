"""app.py as the CDK CLI runs it: context from CDK_CONTEXT_JSON, a tuning mistake exits with one clear line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cdk

ROOT = Path(__file__).resolve().parents[2]


def test_an_invalid_cli_override_exits_nonzero_with_the_reason_and_no_traceback(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": _makefile_jsii_silence(),
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
    assert "end-of-life" not in result.stderr  # the Makefile's value silences jsii's Node banner
    assert not (tmp_path / "manifest.json").exists()


def _makefile_jsii_silence() -> str:
    """The value `make` exports, so this test proves the Makefile's setting works."""
    found = re.search(
        r"^export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := (\S+)$",
        (ROOT / "Makefile").read_text(),
        re.M,
    )
    assert found, "the Makefile no longer exports JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
    return found.group(1)
