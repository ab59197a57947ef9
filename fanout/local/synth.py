"""Synthesize the CDK app with a local context, as the CDK CLI does, and cache the result.

The app runs as the CLI runs it (`python app.py` with CDK_CONTEXT_JSON and CDK_OUTDIR). The template and
the asset manifest are kept in `.cdk-cache/local-synth/<key>`, where the key is a hash of everything the
synthesized stack depends on: the context, cdk.json, pyproject.toml, app.py and the code of infra/,
fanout/ (minus the CLI, local runtime and ops code, which no stack resource contains) and consumers/.
A second run with the same inputs reads the cache and does not synthesize.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cdk-cache" / "local-synth"
SOURCE_DIRS = ("infra", "fanout", "consumers")
NOT_IN_STACK = ("fanout/cli", "fanout/local", "fanout/ops")
SOURCE_FILES = ("app.py", "cdk.json", "pyproject.toml")
# Copying the ~40 MB asset into every outdir checks nothing: the manifest names the cached asset directory.
DISABLE_ASSET_STAGING = "aws:cdk:disable-asset-staging"
SYNTH_TIMEOUT_S = 600


class SynthError(RuntimeError):
    """The app refused the context (or failed): the message is the app's own."""


@dataclass(frozen=True)
class FileAsset:
    source: Path  # the directory (packaging "zip") or file to publish
    packaging: str
    bucket: str  # may hold ${AWS::AccountId} / ${AWS::Region}
    key: str


@dataclass(frozen=True)
class Synthesized:
    stack_name: str
    template: dict[str, Any]
    assets: tuple[FileAsset, ...]
    cached: bool
    seconds: float
    key: str


def source_files(root: Path = ROOT) -> Iterator[Path]:
    for name in SOURCE_FILES:
        if (root / name).is_file():
            yield root / name
    excluded = tuple(root / p for p in NOT_IN_STACK)
    for directory in SOURCE_DIRS:
        for path in sorted((root / directory).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo"}:
                continue
            if not any(path.is_relative_to(ex) for ex in excluded):
                yield path


def cache_key(context: Mapping[str, Any], root: Path = ROOT) -> str:
    digest = hashlib.sha256(json.dumps(context, sort_keys=True).encode())
    digest.update(sys.version.encode())
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


def full_context(context: Mapping[str, Any], root: Path = ROOT) -> dict[str, Any]:
    """cdk.json's context with the local keys on top (what the CLI hands the app)."""
    base: dict[str, Any] = json.loads((root / "cdk.json").read_text(encoding="utf-8")).get("context", {})
    return {**base, **context, DISABLE_ASSET_STAGING: True}


def synthesize(
    context: Mapping[str, Any], *, stack_name: str, root: Path = ROOT, cache: Path = CACHE
) -> Synthesized:
    """The template of `stack_name` for this context: from the cache, or by running the app."""
    started = time.monotonic()
    key = cache_key(context, root)
    entry = cache / key
    if not _usable(entry, stack_name):
        _run_app(full_context(context, root), root=root, cache=cache, entry=entry)
    template = json.loads((entry / f"{stack_name}.template.json").read_text(encoding="utf-8"))
    assets = _file_assets(entry, stack_name)
    cached = entry.joinpath("hit").exists()
    entry.joinpath("hit").touch()
    return Synthesized(
        stack_name=stack_name,
        template=template,
        assets=assets,
        cached=cached,
        seconds=time.monotonic() - started,
        key=key,
    )


def _usable(entry: Path, stack_name: str) -> bool:
    if not (entry / f"{stack_name}.template.json").is_file():
        return False
    # The asset directories the manifest names are pruned after a day: re-synthesize then.
    return all(a.source.exists() for a in _file_assets(entry, stack_name))


def _run_app(context: Mapping[str, Any], *, root: Path, cache: Path, entry: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{entry.name}-", dir=cache))
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(work),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    done = subprocess.run(  # noqa: S603 - our own app, with our own interpreter
        [sys.executable, str(root / "app.py")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_S,
        check=False,
    )
    try:
        if done.returncode != 0:
            raise SynthError(_app_message(done.stderr) or f"app.py exited with {done.returncode}")
        errors = manifest_errors(work)
        if errors:
            raise SynthError("; ".join(errors))
        try:
            os.rename(work, entry)
        except OSError:
            if not entry.exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _app_message(stderr: str) -> str:
    """The app's own message (its last lines), without the Node banner jsii prints."""
    lines = [line for line in stderr.strip().splitlines() if line.strip() and "!!" not in line]
    own = [line for line in lines if line.startswith("fanout: ")]  # app.py's sys.exit message
    return own[-1] if own else "\n".join(lines[-3:])


def manifest_errors(outdir: Path) -> list[str]:
    """Error annotations (cdk-nag findings, Annotations.add_error): `cdk synth` fails on these."""
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    errors = []
    for artifact in manifest.get("artifacts", {}).values():
        for path, entries in (artifact.get("metadata") or {}).items():
            for entry in entries:
                if entry.get("type") == "aws:cdk:error":
                    errors.append(f"{path}: {str(entry.get('data'))[:300]}")
    return errors


def _file_assets(entry: Path, stack_name: str) -> tuple[FileAsset, ...]:
    manifest = entry / f"{stack_name}.assets.json"
    if not manifest.is_file():
        return ()
    files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
    assets = []
    for asset in files.values():
        source = asset["source"]
        if source.get("packaging") != "zip":
            continue  # the template itself: CloudFormation gets it in the request
        path = Path(source["path"])
        for destination in asset.get("destinations", {}).values():
            assets.append(
                FileAsset(
                    source=path if path.is_absolute() else entry / path,
                    packaging="zip",
                    bucket=destination["bucketName"],
                    key=destination["objectKey"],
                )
            )
    return tuple(assets)
