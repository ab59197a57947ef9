"""app.py run as the CDK CLI runs it: a fresh process, context from CDK_CONTEXT_JSON, jsii's Node banner
silenced with the value the Makefile exports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def makefile_jsii_silence() -> str:
    """The value `make` exports, so a test through here proves the Makefile's setting works."""
    found = re.search(
        r"^export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := (\S+)$",
        (ROOT / "Makefile").read_text(),
        re.M,
    )
    assert found, "the Makefile no longer exports JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"
    return found.group(1)


def run_app(outdir: Path, context: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": makefile_jsii_silence(),
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps(dict(context)),  # what `cdk synth -c key=value` hands the app
    }
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
