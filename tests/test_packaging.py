"""A non-editable install works: the built wheel, installed into a fresh virtual environment,
checks the example rule files from outside the source tree (the grammar ships in the wheel)."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
    )
    (built,) = out.glob("evse_rules-*.whl")
    return built


def test_wheel_ships_the_grammar_and_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "evse_rules/grammar/evse_rules.lark" in names
    assert "evse_rules/cli/__init__.py" in names
    assert not any(name.startswith("tests/") for name in names)


@pytest.mark.slow
def test_wheel_install_checks_rules_outside_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)], check=True
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    rule_files = sorted(str(p) for p in (ROOT / "rules").glob("*.evr"))
    assert rule_files, "rules/ holds no example rule files"
    result = subprocess.run(
        [str(bin_dir / "evse-rules"), "check", *rule_files],
        cwd=outside, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout
    # The installed package, not the source tree, answered.
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import evse_rules; print(evse_rules.__file__)"],
        cwd=outside, capture_output=True, text=True, check=True,
    )
    assert str(env_dir) in where.stdout
