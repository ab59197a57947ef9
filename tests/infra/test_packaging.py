"""The Lambda asset: locked platform wheels of exactly the runtime dependencies, plus only the Lambda code,
compiled by the runtime's Python version."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import threading
from importlib.metadata import requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from fanout import registry
from infra import packaging
from infra.packaging import LambdaAsset, PackagingError, build_asset, code_files, runtime_requirements

pytestmark = pytest.mark.cdk


@pytest.fixture(scope="module")
def asset() -> LambdaAsset:
    """The asset every synth uses (built once into the repository's .cdk-cache, then reused)."""
    return build_asset()


def copy_project(dest: Path) -> Path:
    """A copy of the code and pyproject, to change without touching the working tree."""
    for package in packaging.CODE_PACKAGES:
        shutil.copytree(
            packaging.ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy2(packaging.ROOT / "pyproject.toml", dest / "pyproject.toml")
    shutil.copy2(packaging.LOCK_FILE, dest / packaging.LOCK_FILE.name)
    return dest


def seeded_cache(dest: Path) -> Path:
    """A cache holding the repository's installed dependencies (hard links): no pip run in the test."""
    build_asset()  # the repository's cache holds them once any synth ran; this test may run first
    dest.mkdir()
    deps = packaging.DEFAULT_CACHE / packaging.dependencies_dir_name(
        packaging.LOCK_FILE.read_text(encoding="utf-8")
    )
    shutil.copytree(deps, dest / deps.name, copy_function=os.link)
    return dest


def test_requirements_are_the_projects_declared_runtime_dependencies() -> None:
    def normal(reqs: list[str]) -> dict[str, SpecifierSet]:
        parsed = [Requirement(r) for r in reqs]
        return {r.name: r.specifier for r in parsed if r.marker is None}

    installed = normal(requires("fanout") or [])  # the metadata pip installed from pyproject.toml
    assert normal(list(runtime_requirements())) == installed
    assert {"boto3", "aws-lambda-powertools", "httpx"} <= set(installed)


def test_asset_holds_the_handlers_and_their_dependencies(asset: LambdaAsset) -> None:
    root = asset.path
    handler_modules = ["fanout.router.handler"] + [
        s.handler.rpartition(".")[0] for s in registry.CHANNELS.values()
    ]
    for module in handler_modules:
        source = Path(*module.split(".")).with_suffix(".py")
        if (packaging.ROOT / source).exists():  # a channel package may not be written yet
            assert (root / source).is_file(), module
    for dependency in ("boto3", "botocore", "aws_lambda_powertools", "httpx"):
        assert (root / dependency / "__init__.py").is_file(), dependency
    assert (root / "consumers" / "runtime" / "settings.py").is_file()


def test_asset_leaves_out_cli_local_ops_and_caches(asset: LambdaAsset) -> None:
    root = asset.path
    for excluded in packaging.EXCLUDED_PACKAGES:
        assert not (root / excluded).exists(), excluded
    shipped = {
        p.relative_to(root) for package in packaging.CODE_PACKAGES for p in (root / package).rglob("*")
    }
    sources = set(code_files())
    bytecode = {
        rel.parent / "__pycache__" / f"{rel.stem}.{packaging.CACHE_TAG}.pyc"
        for rel in sources
        if rel.suffix == ".py"
    }
    caches = {rel.parent for rel in bytecode}
    directories = {parent for rel in sources for parent in rel.parents if len(parent.parts) > 1}
    assert shipped == sources | bytecode | caches | directories  # the code, its bytecode and nothing else
    assert not (root / "tests").exists()
    assert not (root / "infra").exists()


def test_dependencies_are_wheels_for_the_lambda_platform(asset: LambdaAsset) -> None:
    wheel_tags = [
        line.split(":", 1)[1].strip()
        for wheel in asset.path.glob("*.dist-info/WHEEL")
        for line in wheel.read_text().splitlines()
        if line.startswith("Tag:")
    ]
    assert wheel_tags
    # Pure-Python wheels run anywhere; any compiled one must be for CPython 3.13 on aarch64 Linux.
    compiled = [t for t in wheel_tags if not t.endswith("-none-any")]
    assert all("cp313" in t and "aarch64" in t for t in compiled), compiled


def test_a_second_build_reuses_the_cached_asset(asset: LambdaAsset) -> None:
    inode = asset.path.stat().st_ino
    again = build_asset()
    assert again == asset
    assert again.path.stat().st_ino == inode


def test_changing_lambda_code_changes_the_asset_hash_but_not_the_dependencies(
    tmp_path: Path, asset: LambdaAsset
) -> None:
    project = copy_project(tmp_path / "project")
    cache = seeded_cache(tmp_path / "cache")
    deps = next(cache.glob("deps-*"))
    before = build_asset(root=project, cache_dir=cache)
    assert before.asset_hash == asset.asset_hash
    (project / "fanout" / "router" / "handler.py").write_text("# changed\n", encoding="utf-8")
    after = build_asset(root=project, cache_dir=cache)
    assert after.asset_hash != before.asset_hash
    assert (after.path / "fanout" / "router" / "handler.py").read_text(encoding="utf-8") == "# changed\n"
    assert sorted(p.name for p in cache.glob("deps-*")) == [deps.name]


def test_an_excluded_package_never_reaches_the_asset(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    (project / "fanout" / "ops").mkdir(exist_ok=True)
    (project / "fanout" / "ops" / "secret_tool.py").write_text("import typer\n", encoding="utf-8")
    files = {p.as_posix() for p in code_files(project)}
    assert "fanout/ops/secret_tool.py" not in files
    assert "fanout/router/handler.py" in files


def test_concurrent_builders_of_one_target_leave_one_complete_copy(tmp_path: Path) -> None:
    target = tmp_path / "asset-same"
    errors: list[BaseException] = []

    def build(worker: int) -> None:
        try:
            with packaging._building(tmp_path, target) as work:
                for i in range(50):
                    (work / f"file-{i}.txt").write_text(f"{i}", encoding="utf-8")
                (work / "builder").write_text(str(worker), encoding="utf-8")
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(list(target.glob("file-*.txt"))) == 50
    assert [p.name for p in tmp_path.iterdir()] == ["asset-same"]  # no temporary directory left behind


def test_a_failed_build_leaves_no_partial_cache(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text("not a valid requirement !!\n", encoding="utf-8")
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(PackagingError, match="pip could not install the locked Lambda dependencies"):
        packaging.install_dependencies(lock, cache_dir=cache, python=packaging.find_lambda_python())
    assert list(cache.iterdir()) == []


def test_a_dependency_whose_hash_differs_from_the_lock_is_refused(tmp_path: Path) -> None:
    pinned = packaging.LOCK_FILE.read_text(encoding="utf-8")
    six = next(line for line in pinned.splitlines() if line.startswith("six=="))
    lock = tmp_path / "lock.txt"
    lock.write_text(f"{six} \\\n    --hash=sha256:{'0' * 64}\n", encoding="utf-8")
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(PackagingError, match=r"(?i)hash"):
        packaging.install_dependencies(lock, cache_dir=cache, python=packaging.find_lambda_python())
    assert list(cache.iterdir()) == []


# --- the lock -------------------------------------------------------------------------------------------


def _dist_info(asset: LambdaAsset) -> dict[str, tuple[str, list[Requirement]]]:
    """name -> (version, requirements) of every distribution installed in the asset."""
    out = {}
    for metadata in asset.path.glob("*.dist-info/METADATA"):
        fields = [
            line.split(": ", 1) for line in metadata.read_text(encoding="utf-8").splitlines() if ": " in line
        ]
        name = next(v for k, v in fields if k == "Name")
        version = next(v for k, v in fields if k == "Version")
        reqs = [Requirement(v) for k, v in fields if k == "Requires-Dist"]
        out[canonical(name)] = (version, reqs)
    return out


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_the_lock_pins_every_shipped_distribution_with_a_hash_and_nothing_else(asset: LambdaAsset) -> None:
    text = packaging.LOCK_FILE.read_text(encoding="utf-8")
    pins = packaging.locked_names()
    assert len(pins) == text.count("--hash=sha256:")  # one hash per pin
    installed = _dist_info(asset)
    assert {name: version for name, (version, _) in installed.items()} == {
        canonical(n): v for n, v in pins.items()
    }


def test_the_lock_satisfies_pyproject_and_closes_over_the_requirements(asset: LambdaAsset) -> None:
    pins = {canonical(n): v for n, v in packaging.locked_names().items()}
    for declared in map(Requirement, runtime_requirements()):
        assert pins[canonical(declared.name)] in declared.specifier, declared
    environment = {"python_version": "3.13", "python_full_version": "3.13.0", "sys_platform": "linux",
                   "platform_machine": "aarch64", "implementation_name": "cpython", "extra": ""}  # fmt: skip
    for name, (_, requirements) in _dist_info(asset).items():
        for req in requirements:
            if req.marker is not None and not req.marker.evaluate(environment):
                continue
            assert canonical(req.name) in pins, f"{name} needs {req} and the lock does not pin it"
            assert pins[canonical(req.name)] in req.specifier, f"{name} needs {req}"


# --- bytecode for the runtime ---------------------------------------------------------------------------


def test_every_shipped_module_has_unchecked_bytecode_for_the_runtime_and_no_other(asset: LambdaAsset) -> None:
    sources = [p for p in asset.path.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 500
    missing = [
        p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.{packaging.CACHE_TAG}.pyc").is_file()
    ]
    assert missing == []
    assert packaging.foreign_bytecode(asset.path) == []
    assert not list(asset.path.rglob("*.cpython-311.pyc"))
    pyc = asset.path / "fanout" / "router" / "__pycache__" / f"handler.{packaging.CACHE_TAG}.pyc"
    data = pyc.read_bytes()
    assert int.from_bytes(data[4:8], "little") == 1  # hash-based, unchecked: no stat, no source read
    lambda_python = packaging.find_lambda_python()
    code = subprocess.run(
        [
            str(lambda_python),
            "-I",
            "-c",
            f"import marshal,sys; print(marshal.loads(open({str(pyc)!r},'rb').read()[16:]).co_filename)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()  # fmt: skip (3.11's marshal cannot read 3.13 code objects: read it in the runtime's)
    assert code == "/var/task/fanout/router/handler.py"  # where Lambda unpacks it, for tracebacks


def test_two_builds_from_scratch_ship_the_same_bytes(tmp_path: Path, asset: LambdaAsset) -> None:
    project = copy_project(tmp_path / "project")
    first = build_asset(root=project, cache_dir=tmp_path / "one")
    second = build_asset(root=project, cache_dir=tmp_path / "two")
    assert first.asset_hash == second.asset_hash == asset.asset_hash


def test_bytecode_another_interpreter_writes_into_the_cache_never_ships(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    cache = seeded_cache(tmp_path / "cache")
    built = build_asset(root=project, cache_dir=cache)
    # This interpreter (3.11) importing from the asset writes its own bytecode next to the runtime's.
    subprocess.run(
        [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import fanout.events, six",
         str(built.path)],
        check=True,
    )  # fmt: skip
    written = list(built.path.rglob("*.cpython-311.pyc"))
    assert written  # the leak this guards against
    again = build_asset(root=project, cache_dir=cache)
    assert again == built
    assert not list(built.path.rglob("*.cpython-311.pyc"))


def test_the_asset_hash_covers_every_file_that_ships(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    cache = seeded_cache(tmp_path / "cache")
    built = build_asset(root=project, cache_dir=cache)
    extra = built.path / "fanout" / "notes.txt"
    extra.write_text("shipped too\n", encoding="utf-8")
    assert build_asset(root=project, cache_dir=cache).asset_hash != built.asset_hash
    extra.unlink()
    assert build_asset(root=project, cache_dir=cache).asset_hash == built.asset_hash


# --- finding the runtime's Python -----------------------------------------------------------------------


def _script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_a_python313_on_path_that_cannot_run_is_passed_over_for_pyenvs(tmp_path: Path) -> None:
    real = packaging.find_lambda_python()
    # pyenv's shim: on PATH, but it refuses when 3.13 is not the selected version.
    _script(tmp_path / "bin" / "python3.13", "echo 'pyenv: python3.13: command not found' >&2; exit 127")
    pyenv_root = tmp_path / "pyenv"
    (pyenv_root / "versions" / "3.13.0" / "bin").mkdir(parents=True)
    os.symlink(real, pyenv_root / "versions" / "3.13.0" / "bin" / "python3.13")
    env = {"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path), "PYENV_ROOT": str(pyenv_root)}
    assert packaging.find_lambda_python(env) == pyenv_root / "versions" / "3.13.0" / "bin" / "python3.13"


def test_another_version_is_not_taken_for_the_runtimes(tmp_path: Path) -> None:
    os.symlink(sys.executable, _ensure_dir(tmp_path / "bin") / "python3.13")  # a 3.11 under the name
    env = {"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path)}
    with pytest.raises(PackagingError) as raised:
        packaging.find_lambda_python(env)
    message = str(raised.value)
    assert "Python 3.13" in message
    assert "pyenv install 3.13" in message
    assert "uv python install 3.13" in message
    assert str(tmp_path / "bin" / "python3.13") in message


def test_a_synth_without_the_runtimes_python_fails_with_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(_ensure_dir(tmp_path / "bin")))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PYENV_ROOT", raising=False)
    monkeypatch.delenv(packaging.LAMBDA_PYTHON_ENV, raising=False)
    project = copy_project(tmp_path / "project")
    with pytest.raises(PackagingError, match=r"no CPython 3\.13 was found.*pyenv install 3\.13"):
        build_asset(root=project, cache_dir=seeded_cache(tmp_path / "cache"))


def test_an_explicit_interpreter_is_checked_like_the_others(tmp_path: Path) -> None:
    env = {"PATH": str(_ensure_dir(tmp_path / "bin")), "HOME": str(tmp_path),
           packaging.LAMBDA_PYTHON_ENV: str(packaging.find_lambda_python())}  # fmt: skip
    assert packaging.find_lambda_python(env) == packaging.find_lambda_python()
    with pytest.raises(PackagingError):
        packaging.find_lambda_python({**env, packaging.LAMBDA_PYTHON_ENV: sys.executable})


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
