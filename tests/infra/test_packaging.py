"""The Lambda asset: platform wheels of exactly the runtime dependencies, plus only the Lambda code."""

from __future__ import annotations

import os
import shutil
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
    assert not list((root / "fanout").rglob("__pycache__"))
    assert not list((root / "consumers").rglob("*.pyc"))
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
    cache = tmp_path / "cache"
    cache.mkdir()
    deps = packaging.DEFAULT_CACHE / packaging.dependencies_dir_name(runtime_requirements())
    shutil.copytree(deps, cache / deps.name, copy_function=os.link)  # seed the cache: no pip run here
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
    with pytest.raises(PackagingError, match="pip could not install the Lambda dependencies"):
        packaging.install_dependencies(["not a valid requirement !!"], cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
