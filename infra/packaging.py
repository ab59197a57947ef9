"""The Lambda asset, built without Docker: wheels for the Lambda platform plus only the Lambda code.

The runtime dependencies are exactly `[project].dependencies` of pyproject.toml, installed by pip for
manylinux aarch64 / CPython 3.13 into `.cdk-cache/deps-<hash>` (the hash covers the requirements and the
platform, so a change reinstalls and nothing else does). The asset directory `.cdk-cache/asset-<hash>`
holds those dependencies (hard links where the filesystem allows) plus `fanout/` without the CLI, local
runtime and ops code, plus `consumers/`. Both are built in a temporary directory and renamed into place,
so concurrent synths (pytest-xdist workers) never see or corrupt a half-built cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = ROOT / ".cdk-cache"
PLATFORM = ("manylinux2014_aarch64", "cp", "3.13")  # pip --platform, --implementation, --python-version
CODE_PACKAGES = ("fanout", "consumers")
EXCLUDED_PACKAGES = ("fanout/cli", "fanout/local", "fanout/ops")
# Installed alongside the wheels but never imported by a handler.
PRUNED_FROM_DEPS = ("bin", "__pycache__")
STALE_ASSET_AGE_S = 24 * 3600


class PackagingError(RuntimeError):
    """The Lambda dependencies could not be installed for the Lambda platform."""


@dataclass(frozen=True)
class LambdaAsset:
    path: Path  # the staged directory handed to lambda_.Code.from_asset
    asset_hash: str  # covers dependencies, platform and code: equal hashes mean equal contents


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> tuple[str, ...]:
    """`[project].dependencies`, the one list of the Lambda code's runtime dependencies."""
    with pyproject.open("rb") as fh:
        return tuple(tomllib.load(fh)["project"]["dependencies"])


def build_asset(
    *,
    root: Path = ROOT,
    cache_dir: Path = DEFAULT_CACHE,
    requirements: Sequence[str] | None = None,
) -> LambdaAsset:
    """The staged asset for the current code, building what the cache does not hold yet."""
    reqs = tuple(requirements) if requirements is not None else runtime_requirements(root / "pyproject.toml")
    cache_dir.mkdir(parents=True, exist_ok=True)
    deps = install_dependencies(reqs, cache_dir=cache_dir)
    files = sorted(code_files(root))
    digest = hashlib.sha256(deps.name.encode())
    for rel in files:
        digest.update(rel.as_posix().encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    asset_hash = digest.hexdigest()[:32]
    target = cache_dir / f"asset-{asset_hash}"
    if not target.exists():
        with _building(cache_dir, target) as work:
            _link_tree(deps, work)
            for rel in files:
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / rel, work / rel)
        _prune_stale_assets(cache_dir, keep=target)
    return LambdaAsset(path=target, asset_hash=asset_hash)


def install_dependencies(requirements: Sequence[str], *, cache_dir: Path) -> Path:
    """`.cdk-cache/deps-<hash>` with the requirements installed for the Lambda platform (cached)."""
    target = cache_dir / dependencies_dir_name(requirements)
    if target.exists():
        return target
    platform, implementation, python_version = PLATFORM
    with _building(cache_dir, target) as work:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            "--platform", platform, "--implementation", implementation, "--python-version", python_version,
            "--only-binary=:all:", "--target", str(work), *requirements,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise PackagingError(
                f"pip could not install the Lambda dependencies {list(requirements)} for {platform} "
                f"cp{python_version}:\n{result.stderr.strip()}"
            )
        for name in PRUNED_FROM_DEPS:
            shutil.rmtree(work / name, ignore_errors=True)
    return target


def dependencies_dir_name(requirements: Sequence[str]) -> str:
    """`deps-<hash of the platform and the requirements>`: what the installed dependencies depend on."""
    key = hashlib.sha256("\n".join([*PLATFORM, *sorted(requirements)]).encode()).hexdigest()[:16]
    return f"deps-{key}"


def code_files(root: Path = ROOT) -> Iterator[Path]:
    """The Lambda code, relative to root: the handler packages (with any data files they carry) minus
    CLI/local/ops and bytecode caches."""
    excluded = tuple(Path(p) for p in EXCLUDED_PACKAGES)
    for package in CODE_PACKAGES:
        for path in (root / package).rglob("*"):
            rel = path.relative_to(root)
            if not path.is_file() or "__pycache__" in rel.parts or path.suffix in {".pyc", ".pyo"}:
                continue
            if not any(rel.is_relative_to(ex) for ex in excluded):
                yield rel


class _building:
    """Build into a fresh temporary directory next to `target`, then rename it into place atomically.

    If another process finished the same target first, its copy wins and ours is discarded: both hold the
    same content, because the target's name is the hash of that content.
    """

    def __init__(self, cache_dir: Path, target: Path) -> None:
        self._cache_dir = cache_dir
        self._target = target
        self._work = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=cache_dir))
        # mkdtemp makes it private (0700); Lambda's runtime user must be able to read the unzipped asset.
        self._work.chmod(0o755)

    def __enter__(self) -> Path:
        return self._work

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            return
        try:
            os.rename(self._work, self._target)
        except OSError:
            if not self._target.exists():
                raise
            shutil.rmtree(self._work, ignore_errors=True)


def _link_tree(source: Path, dest: Path) -> None:
    """Hard-link every file (no copy, no extra disk); fall back to copying across filesystems."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, dest, copy_function=link, dirs_exist_ok=True)


def _prune_stale_assets(cache_dir: Path, *, keep: Path) -> None:
    """Drop asset directories of old code versions; a day's grace leaves concurrent synths alone."""
    cutoff = time.time() - STALE_ASSET_AGE_S
    for old in cache_dir.glob("asset-*"):
        if old != keep and old.stat().st_mtime < cutoff:
            shutil.rmtree(old, ignore_errors=True)
