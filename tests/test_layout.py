"""The layout shows the pipeline: imports run one way, from the CLI down to the language."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "evse_rules"

# room -> modules it must never import (directly), whatever the import style.
FORBIDDEN = {
    "language": ("httpx", "evse_rules.engine", "evse_rules.chargers", "evse_rules.inputs",
                 "evse_rules.config", "evse_rules.cli", "evse_rules.simulate", "evse_rules.live",
                 "asyncio", "time"),
    "chargers": ("evse_rules.language", "evse_rules.engine", "evse_rules.cli",
                 "evse_rules.config", "evse_rules.simulate", "lark"),
    "inputs": ("evse_rules.engine", "evse_rules.cli", "evse_rules.chargers", "lark",
               "evse_rules.language.parse", "evse_rules.language.check"),
    "engine": ("evse_rules.cli", "httpx", "evse_rules.live", "evse_rules.simulate",
               "evse_rules.config", "asyncio"),
    "simulate": ("evse_rules.cli", "evse_rules.live", "httpx", "asyncio"),
    "live": ("evse_rules.cli", "evse_rules.simulate", "evse_rules.api"),
    "testing": ("evse_rules.language", "evse_rules.engine", "evse_rules.cli",
                "evse_rules.live", "evse_rules.simulate"),
    # MQTT's state out and commands in know the engine only through live/views.py too.
    "mqtt": ("evse_rules.engine", "evse_rules.chargers", "evse_rules.language",
             "evse_rules.simulate", "evse_rules.cli", "evse_rules.live.daemon",
             "evse_rules.live.face", "evse_rules.live.commands", "evse_rules.api"),
    # The API and the dashboard know the engine only through live/views.py (EngineFace).
    "api": ("evse_rules.engine", "evse_rules.chargers", "evse_rules.inputs",
            "evse_rules.config", "evse_rules.cli", "evse_rules.simulate",
            "evse_rules.language", "evse_rules.live.daemon", "evse_rules.live.face",
            "evse_rules.live.commands", "evse_rules.mqtt"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_room_imports_run_one_way(room: str) -> None:
    files = sorted((PACKAGE / room).rglob("*.py"))
    assert files, f"evse_rules/{room}/ has no modules"
    offences = []
    for path in files:
        for name in _imports(path):
            for banned in FORBIDDEN[room]:
                if name == banned or name.startswith(banned + "."):
                    offences.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert not offences, "\n".join(offences)


def test_the_architecture_guide_has_a_row_for_every_room() -> None:
    guide = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    rooms = {path.name for path in PACKAGE.iterdir()
             if path.is_dir() and (path / "__init__.py").exists()}
    assert rooms >= set(FORBIDDEN)
    assert [room for room in sorted(rooms) if f"| `evse_rules/{room}/` |" not in guide] == []
