"""The dashboard works offline: its files ship in the wheel, next to the API's modules."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "evse_rules" / "api" / "static"


@pytest.mark.slow
def test_the_wheel_ships_every_dashboard_file(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                    str(tmp_path), str(ROOT)], check=True)
    (wheel,) = tmp_path.glob("evse_rules-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    files = sorted(p.name for p in STATIC.iterdir())
    assert {"index.html", "app.js", "app.css", "chart.js"} <= set(files)
    assert [f for f in files if f"evse_rules/api/static/{f}" not in names] == []
    assert "evse_rules/api/app.py" in names
