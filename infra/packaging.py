"""The Lambda asset, built without Docker: locked wheels for the Lambda platform plus only the Lambda code,
compiled to bytecode by the runtime's own Python version.

Lambda's code directory is read-only, so an asset without bytecode makes every cold start compile every
module it imports. The asset therefore ships `__pycache__/*.cpython-313.pyc`, compiled by a CPython 3.13
found on this machine (`find_lambda_python`) with `--invalidation-mode unchecked-hash` (no timestamps in
the files, and no source check at import) and with `/var/task` as the recorded path, as Lambda unpacks it.

The runtime dependencies are exactly the lock file `requirements-lambda.txt` (exact versions and sha256
hashes, generated from `[project].dependencies` by `make lock`), installed by pip for manylinux aarch64 /
CPython 3.13 with `--require-hashes` into `.cdk-cache/deps-<hash>`. The asset directory
`.cdk-cache/asset-<key>` holds those dependencies (hard links where the filesystem allows) plus `fanout/`
without the CLI, local runtime and ops code, plus `consumers/`. Both are built in a temporary directory and
renamed into place, so concurrent synths (pytest-xdist workers) never see or corrupt a half-built cache.

The asset hash is the digest of the files that ship (every path and its bytes), not of the inputs: a
bytecode file another interpreter wrote into the cached directory is removed before the digest, and any
other change to the directory changes the hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
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
LOCK_FILE = ROOT / "requirements-lambda.txt"
PLATFORM = ("manylinux2014_aarch64", "cp", "3.13")  # pip --platform, --implementation, --python-version
LAMBDA_PYTHON = (3, 13)
CACHE_TAG = "cpython-313"  # the only bytecode the asset may hold
LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the asset: the path compiled into the bytecode
LAMBDA_PYTHON_ENV = "FANOUT_LAMBDA_PYTHON"  # an explicit interpreter, checked like the others
CODE_PACKAGES = ("fanout", "consumers")
EXCLUDED_PACKAGES = ("fanout/cli", "fanout/local", "fanout/ops")
# Installed alongside the wheels but never imported by a handler.
PRUNED_FROM_DEPS = ("bin",)
STALE_ASSET_AGE_S = 24 * 3600
COMPILE_FLAGS = ("-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash")
HOW_TO_GET_PYTHON = (
    "install one with `pyenv install 3.13` or `uv python install 3.13`, put `python3.13` on PATH, "
    f"or point {LAMBDA_PYTHON_ENV} at a CPython 3.13 interpreter"
)


class PackagingError(RuntimeError):
    """The Lambda asset could not be built as it must ship (dependencies, interpreter, bytecode)."""


@dataclass(frozen=True)
class LambdaAsset:
    path: Path  # the staged directory handed to lambda_.Code.from_asset
    asset_hash: str  # digest of every shipped path and its bytes: equal hashes mean equal contents


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> tuple[str, ...]:
    """`[project].dependencies`, the one list of the Lambda code's runtime dependencies."""
    with pyproject.open("rb") as fh:
        return tuple(tomllib.load(fh)["project"]["dependencies"])


# --- the runtime's interpreter --------------------------------------------------------------------------


def find_lambda_python(environ: dict[str, str] | None = None) -> Path:
    """A CPython matching the Lambda runtime's version: $FANOUT_LAMBDA_PYTHON, `python3.13` on PATH,
    pyenv's versions directory, then uv's managed Pythons. Each candidate is run and must report
    cpython-313 (a pyenv shim on PATH can exist and still refuse to run)."""
    env = dict(os.environ) if environ is None else environ
    tried: list[str] = []
    for candidate in _python_candidates(env):
        tried.append(str(candidate))
        if _cache_tag(candidate) == CACHE_TAG:
            return candidate
    looked = "; tried " + ", ".join(tried) if tried else ""
    raise PackagingError(
        f"the Lambda runtime is Python {'.'.join(map(str, LAMBDA_PYTHON))} and its asset ships bytecode "
        f"compiled by that version, but no CPython {'.'.join(map(str, LAMBDA_PYTHON))} was found{looked}: "
        + HOW_TO_GET_PYTHON
    )


def _python_candidates(env: dict[str, str]) -> Iterator[Path]:
    name = "python{}.{}".format(*LAMBDA_PYTHON)
    if env.get(LAMBDA_PYTHON_ENV):
        yield Path(env[LAMBDA_PYTHON_ENV])
    on_path = shutil.which(name, path=env.get("PATH"))
    if on_path:
        yield Path(on_path)
    for root in _pyenv_roots(env):
        versions = sorted((root / "versions").glob("{}.{}*".format(*LAMBDA_PYTHON)), reverse=True)
        for version in versions:
            if re.fullmatch(r"\d+\.\d+\.\d+", version.name):  # not a virtualenv or a free-threaded build
                yield version / "bin" / name
    uv = shutil.which("uv", path=env.get("PATH"))
    if uv:
        found = _run([uv, "python", "find", "{}.{}".format(*LAMBDA_PYTHON)], env)
        if found:
            yield Path(found)


def _pyenv_roots(env: dict[str, str]) -> Iterator[Path]:
    if env.get("PYENV_ROOT"):
        yield Path(env["PYENV_ROOT"])
    pyenv = shutil.which("pyenv", path=env.get("PATH"))
    if pyenv:
        found = _run([pyenv, "root"], env)
        if found:
            yield Path(found)
    yield Path(env.get("HOME", str(Path.home()))) / ".pyenv"


def _cache_tag(python: Path) -> str:
    return _run([str(python), "-I", "-c", "import sys; print(sys.implementation.cache_tag)"]) or ""


def _run(command: Sequence[str], env: dict[str, str] | None = None) -> str:
    try:
        result = subprocess.run(  # noqa: S603 (a fixed command line)
            list(command), capture_output=True, text=True, check=False, env=env, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def compile_tree(python: Path, directory: Path, *, subdirs: Sequence[str] = (".",)) -> None:
    """Bytecode for every module under directory/subdirs, recorded as if the directory were /var/task."""
    targets = [str(directory / sub) for sub in subdirs if (directory / sub).exists()]
    command = [str(python), "-I", *COMPILE_FLAGS, "-s", str(directory), "-p", LAMBDA_TASK_ROOT, *targets]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise PackagingError(f"compileall with {python} failed:\n{(result.stdout + result.stderr)[-3000:]}")


def foreign_bytecode(directory: Path) -> list[Path]:
    """Bytecode in directory that the Lambda runtime would not use: another interpreter's or legacy."""
    return [
        path
        for path in directory.rglob("*")
        if path.suffix in {".pyc", ".pyo"} and not path.name.endswith(f".{CACHE_TAG}.pyc")
    ]


# --- the lock file --------------------------------------------------------------------------------------


def lock_requirements(requirements: Sequence[str], *, output: Path = LOCK_FILE) -> str:
    """Resolve requirements for the Lambda platform with pip and write them pinned with their hashes.

    pip's `--dry-run --report` names the exact file it would install for manylinux aarch64 / cp313 and its
    sha256; the lock lists each as `name==version --hash=sha256:...`, which `pip install --require-hashes`
    verifies on every machine.
    """
    platform, implementation, python_version = PLATFORM
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--dry-run",
            "--ignore-installed", "--report", str(report), "--platform", platform, "--implementation",
            implementation, "--python-version", python_version, "--only-binary=:all:",
            "--target", str(Path(tmp) / "unused"), *requirements,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise PackagingError(f"pip could not resolve {list(requirements)}:\n{result.stderr.strip()}")
        installs = json.loads(report.read_text(encoding="utf-8"))["install"]
    lines = [
        "# The Lambda asset's runtime dependencies, pinned with hashes for manylinux2014_aarch64 / cp313.",
        "# Generated from pyproject.toml's [project].dependencies by `make lock`; do not edit by hand.",
    ]
    for item in sorted(installs, key=lambda i: i["metadata"]["name"].lower()):
        name = re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower()
        version = item["metadata"]["version"]
        digest = item["download_info"]["archive_info"]["hashes"]["sha256"]
        lines.append(f"{name}=={version} \\\n    --hash=sha256:{digest}")
    text = "\n".join(lines) + "\n"
    output.write_text(text, encoding="utf-8")
    return text


def locked_names(lock_file: Path = LOCK_FILE) -> dict[str, str]:
    """name -> pinned version, from the lock file."""
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", lock_file.read_text(encoding="utf-8"), re.MULTILINE)
    return {name.lower().replace("_", "-"): version for name, version in pins}


# --- the asset ------------------------------------------------------------------------------------------


def build_asset(
    *,
    root: Path = ROOT,
    cache_dir: Path = DEFAULT_CACHE,
    lock_file: Path | None = None,
    python: Path | None = None,
) -> LambdaAsset:
    """The staged asset for the current code, building what the cache does not hold yet."""
    lock = lock_file if lock_file is not None else root / LOCK_FILE.name
    if not lock.is_file():
        raise PackagingError(f"no lock file {lock}: run `make lock` to pin the Lambda dependencies")
    interpreter = python or find_lambda_python()
    cache_dir.mkdir(parents=True, exist_ok=True)
    deps = install_dependencies(lock, cache_dir=cache_dir, python=interpreter)
    files = sorted(code_files(root))
    key = hashlib.sha256(f"{deps.name}\0{CACHE_TAG}\0{' '.join(COMPILE_FLAGS)}".encode())
    for rel in files:
        key.update(rel.as_posix().encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    target = cache_dir / f"asset-{key.hexdigest()[:32]}"
    if not target.exists():
        with _building(cache_dir, target) as work:
            _link_tree(deps, work)
            for rel in files:
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / rel, work / rel)
            compile_tree(interpreter, work, subdirs=CODE_PACKAGES)
            _check_bytecode(work)
        _prune_stale_assets(cache_dir, keep=target)
    # Another interpreter importing from the cached directory (a test, the local runtime) may have left
    # its bytecode there: it must not ship, and the hash must not pretend it is not there.
    for stray in foreign_bytecode(target):
        stray.unlink(missing_ok=True)
    return LambdaAsset(path=target, asset_hash=tree_digest(target)[:32])


def install_dependencies(lock_file: Path, *, cache_dir: Path, python: Path) -> Path:
    """`.cdk-cache/deps-<hash>`: the locked requirements for the Lambda platform, compiled (cached)."""
    target = cache_dir / dependencies_dir_name(lock_file.read_text(encoding="utf-8"))
    if target.exists():
        return target
    platform, implementation, python_version = PLATFORM
    with _building(cache_dir, target) as work:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
            "--no-deps", "--require-hashes", "--platform", platform, "--implementation", implementation,
            "--python-version", python_version, "--only-binary=:all:", "--target", str(work),
            "-r", str(lock_file),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise PackagingError(
                f"pip could not install the locked Lambda dependencies ({lock_file.name}) for {platform} "
                f"cp{python_version}:\n{result.stderr.strip()}"
            )
        for name in PRUNED_FROM_DEPS:
            shutil.rmtree(work / name, ignore_errors=True)
        for cache in list(work.rglob("__pycache__")):
            shutil.rmtree(cache, ignore_errors=True)
        compile_tree(python, work)
        _check_bytecode(work)
    return target


def dependencies_dir_name(lock_text: str) -> str:
    """`deps-<hash of the platform, the bytecode tag and the lock>`: what the installed tree depends on."""
    key = hashlib.sha256("\n".join([*PLATFORM, CACHE_TAG, *COMPILE_FLAGS, lock_text]).encode())
    return f"deps-{key.hexdigest()[:16]}"


def tree_digest(directory: Path) -> str:
    """sha256 over every file under directory: its relative path and its bytes, in path order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


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


def _check_bytecode(directory: Path) -> None:
    foreign = foreign_bytecode(directory)
    if foreign:
        shown = ", ".join(str(p.relative_to(directory)) for p in foreign[:5])
        raise PackagingError(f"bytecode not compiled for {CACHE_TAG} in the asset ({len(foreign)}): {shown}")
    if not any(directory.rglob(f"*.{CACHE_TAG}.pyc")):
        raise PackagingError(f"no {CACHE_TAG} bytecode was written under {directory}")


class _building:
    """Build into a fresh temporary directory next to `target`, then rename it into place atomically.

    If another process finished the same target first, its copy wins and ours is discarded: both were
    built from the same inputs, because the target's name is the hash of those inputs.
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


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m infra.packaging lock`: regenerate the lock file from pyproject.toml (`make lock`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["lock"]:
        print("usage: python -m infra.packaging lock", file=sys.stderr)
        return 2
    lock_requirements(runtime_requirements())
    print(f"wrote {LOCK_FILE.name} ({len(locked_names())} pinned distributions)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
