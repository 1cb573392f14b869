"""The wheel holds the one ``lightkeeper`` namespace and nothing else: no training code, test
fixtures or experiments; migrations and detector artifacts ship as package data; pyproject's
explicit package list covers every package folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COPY_IGNORED = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".lightkeeper")
NOT_SHIPPED = ("training", "testing", "_support", "tests", "bench", "_tox_token_pool")


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    # Built from a clean copy: setuptools keeps build/lib between builds, and a stale module
    # there would end up in the wheel.
    src = tmp_path_factory.mktemp("src") / "lightkeeper"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*COPY_IGNORED))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
        ],
        check=True,
        cwd=out,
    )
    (wheel,) = out.glob("lightkeeper-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_top_level_is_lightkeeper_only(wheel_names: list[str]) -> None:
    top = {name.split("/", 1)[0] for name in wheel_names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert top - dist_info == {"lightkeeper"}


def test_no_training_fixtures_or_experiments(wheel_names: list[str]) -> None:
    parts = {part.removesuffix(".py") for name in wheel_names for part in name.split("/")}
    assert not parts & set(NOT_SHIPPED)
    assert not [
        n for n in wheel_names if "/experiments/" in n or Path(n).name.startswith(("train_", "augment_"))
    ]


def test_migrations_and_artifacts_are_package_data(wheel_names: list[str]) -> None:
    names = set(wheel_names)
    for sql in sorted((ROOT / "schemas" / "clickhouse").glob("*.sql")):
        assert f"lightkeeper/schemas/clickhouse/{sql.name}" in names
    assert any(n.startswith("lightkeeper/schemas/clickhouse/0001") for n in names)
    artifacts = [
        p.name
        for p in (ROOT / "processors" / "artifacts").iterdir()
        if p.suffix in {".joblib", ".json", ".onnx"}
    ]
    assert artifacts
    for name in artifacts:
        assert f"lightkeeper/processors/artifacts/{name}" in names
    assert "lightkeeper/processors/pricing/" in {
        n.rsplit("/", 1)[0] + "/" for n in names if n.endswith(".yaml")
    }


def test_every_package_folder_is_listed() -> None:
    tool = _pyproject()["tool"]["setuptools"]
    listed = set(tool["packages"])
    found: set[str] = set()
    for package, folder in tool["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join([package, *rel.parts]) if rel.parts else package)
    assert found - listed == set(), "package folders missing from [tool.setuptools] packages"
    assert listed - found == set(), "listed packages without a folder"


def test_wheel_modules_match_the_source(wheel_names: list[str]) -> None:
    """Every module of the mapped folders is in the wheel (a package left out of the list would
    silently drop its modules)."""
    tool = _pyproject()["tool"]["setuptools"]
    expected = set()
    for package, folder in tool["package-dir"].items():
        base = ROOT / folder
        for py in base.rglob("*.py"):
            if "__pycache__" in py.parts:
                continue
            rel = py.relative_to(base)
            expected.add("/".join([*package.split("."), *rel.parts]))
    shipped = {n for n in wheel_names if n.endswith(".py")}
    assert expected - shipped == set()
