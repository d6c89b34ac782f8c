"""Persistence: modes and user variables survive restarts; writes are atomic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evse_rules.engine.persist import SavedState, StateFile, restore, snapshot
from evse_rules.engine.settings import ChargerSettings
from evse_rules.engine.store import StateStore
from evse_rules.language.program import Kind, ValueType, VariableDecl
from evse_rules.language.units import ENERGY

NUMBER_KWH = ValueType(Kind.NUMBER, ENERGY)
TEXT = ValueType(Kind.TEXT)
FLAG = ValueType(Kind.BOOLEAN)


def _store() -> StateStore:
    store = StateStore()
    store.add_charger(ChargerSettings("garage"))
    store.add_charger(ChargerSettings("carport", initial_mode="auto"))
    store.declare_variables([VariableDecl("target", NUMBER_KWH, 0.0),
                             VariableDecl("note", TEXT, ""),
                             VariableDecl("boost", FLAG, False)])
    return store


def test_round_trip_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    store = _store()
    store.set_mode("garage", "auto")
    store.set_variable("target", 36e6)
    store.set_variable("note", "away until friday")
    store.set_variable("boost", True)
    assert StateFile(path).save(snapshot(store))

    fresh = _store()
    loaded = StateFile(path).load()
    assert loaded.problem is None
    assert restore(fresh, loaded.state) == []
    assert fresh.modes() == {"garage": "auto", "carport": "auto"}
    assert fresh.variables() == {"target": 36e6, "note": "away until friday", "boost": True}
    assert not fresh.dirty
    document = json.loads(path.read_text())
    assert document["format"] == 1 and document["modes"]["garage"] == "auto"


def test_an_unchanged_state_is_not_written_again(tmp_path: Path) -> None:
    file = StateFile(tmp_path / "state.json")
    state = SavedState({"garage": "auto"}, {"x": 1.0})
    assert file.save(state)
    assert not file.save(SavedState({"garage": "auto"}, {"x": 1.0}))
    assert file.save(SavedState({"garage": "manual"}, {"x": 1.0}))


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    file = StateFile(tmp_path / "state.json")
    for n in range(5):
        file.save(SavedState({}, {"n": float(n)}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    assert json.loads((tmp_path / "state.json").read_text())["variables"] == {"n": 4.0}


@pytest.mark.parametrize("content", [
    "{not json",
    '{"format": 99, "modes": {}}',
    '{"format": 1, "modes": {"garage": "turbo"}}',
    '{"format": 1, "variables": {"x": [1, 2]}}',
    "[]",
])
def test_a_corrupt_file_is_kept_aside_and_defaults_are_used(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    result = StateFile(path).load()
    assert result.state == SavedState()
    assert result.problem is not None and "unreadable state file" in result.problem
    assert result.kept_as is not None and result.kept_as.read_text() == content
    assert result.kept_as.name.startswith("state.json.bad-")
    assert not path.exists()
    assert "unreadable state file" in caplog.text


def test_a_missing_file_is_an_empty_state(tmp_path: Path) -> None:
    result = StateFile(tmp_path / "absent.json").load()
    assert result == result.__class__(SavedState())


def test_restore_skips_unknown_chargers_and_values_of_the_wrong_type() -> None:
    store = _store()
    problems = restore(store, SavedState({"shed": "auto", "garage": "auto"},
                                         {"boost": "yes", "note": "hi", "gone": 3.0}))
    assert store.mode("garage") == "auto"
    assert store.variable("note") == "hi"
    assert store.variable("boost") is False
    assert any("'shed'" in p and "no such charger" in p for p in problems)
    assert any("'boost'" in p for p in problems)
    assert len(problems) == 2
