"""app.py as the CDK CLI runs it: context from CDK_CONTEXT_JSON, a tuning mistake exits with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from .app_process import run_app

pytestmark = pytest.mark.cdk


def test_an_invalid_cli_override_exits_nonzero_with_the_reason_and_no_traceback(tmp_path: Path) -> None:
    result = run_app(tmp_path, {"fanout:slack:maxConcurrency": "1"})
    assert result.returncode == 1
    assert "fanout: cannot synthesize: invalid settings for channel slack" in result.stderr
    assert "maxConcurrency 1 must be 2..1000" in result.stderr
    assert "Traceback" not in result.stderr
    assert "end-of-life" not in result.stderr  # the Makefile's value silences jsii's Node banner
    assert not (tmp_path / "manifest.json").exists()
