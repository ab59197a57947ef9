"""Lambda code must not drag in CDK, CLI or test-only libraries: import each handler in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fanout import registry

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("aws_cdk", "cdk_nag", "constructs", "jsii", "typer", "click", "rich", "moto", "matplotlib", "pytest")
HANDLER_MODULES = ["fanout.router.handler"] + [spec.handler.rpartition(".")[0] for spec in registry.CHANNELS.values()]


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_handler_module_imports_only_lambda_dependencies(module: str) -> None:
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    offenders = sorted({m for m in loaded if m.split(".")[0] in FORBIDDEN})
    assert offenders == [], f"{module} imports {offenders}"
    assert module in loaded
