"""Lambda code imports only what the Lambda asset holds: import each handler in a fresh interpreter.

The asset holds the project's `[project].dependencies` and what they require, nothing else. The fresh
interpreter hides every other installed distribution (typer, rich, moto, aws-cdk, ...), as Lambda would,
so an optional import such as httpx's CLI falls back exactly as it does there; then nothing CLI-, CDK- or
test-only may have been loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fanout import registry

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = (
    "aws_cdk",
    "cdk_nag",
    "constructs",
    "jsii",
    "typer",
    "click",
    "rich",
    "moto",
    "matplotlib",
    "pytest",
)
HANDLER_MODULES = ["fanout.router.handler"] + [
    spec.handler.rpartition(".")[0] for spec in registry.CHANNELS.values()
]

LAMBDA_LIKE_IMPORT = """
import importlib.abc, importlib.metadata as md, json, re, sys

def closure(requirements):
    seen, todo = set(), list(requirements)
    while todo:
        req = todo.pop()
        if ";" in req and "extra ==" in req.split(";", 1)[1]:
            continue
        name = re.split(r"[\\s\\[<>=!~;(]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            todo.extend(md.requires(name) or [])
        except md.PackageNotFoundError:
            pass
    return seen

allowed = closure(md.requires("fanout") or [])
hidden = {
    top for top, dists in md.packages_distributions().items()
    if top not in ("fanout", "consumers", "infra")
    and not any(d.lower().replace("_", "-") in allowed for d in dists)
}

class HideOthers(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in hidden:
            raise ModuleNotFoundError(f"{fullname} is not in the Lambda asset", name=fullname)
        return None

sys.meta_path.insert(0, HideOthers())
import MODULE
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_handler_module_imports_only_lambda_dependencies(module: str) -> None:
    code = LAMBDA_LIKE_IMPORT.replace("MODULE", module)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    offenders = sorted({m for m in loaded if m.split(".")[0] in FORBIDDEN})
    assert offenders == [], f"{module} imports {offenders}"
    assert module in loaded


def test_the_check_catches_a_forbidden_import() -> None:
    code = LAMBDA_LIKE_IMPORT.replace("MODULE", "typer")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0
    assert "not in the Lambda asset" in result.stderr
