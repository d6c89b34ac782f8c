"""Persistence: modes, user variables and contactor times survive restarts; writes are
atomic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evse_rules.chargers.base import ChargerState
from evse_rules.engine import CommandKind, Engine, Guard
from evse_rules.engine.engine import ContactorTimes
from evse_rules.engine.persist import (
    LoadResult,
    SavedState,
    StateFile,
    restore,
    restore_contactor,
    snapshot,
)
from evse_rules.engine.settings import ChargerSettings
from evse_rules.engine.store import StateStore
from evse_rules.language.program import Kind, ValueType, VariableDecl
from evse_rules.language.units import ENERGY
from tests.engine_fakes import START, FakeProgram, action, minutes, status

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
    assert result.problem is not None and "corrupt state file" in result.problem
    assert result.kept_as is not None and result.kept_as.read_text() == content
    assert result.kept_as.name.startswith("state.json.corrupt-")
    assert not path.exists()
    assert "corrupt state file" in caplog.text


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


# -- contactor times: the minimum on and off times across restarts ------------------------

def _engine(program: FakeProgram | None = None) -> Engine:
    settings = ChargerSettings("evse", min_on=600.0, min_off=300.0)
    return Engine(program or FakeProgram(), [settings])


def test_contactor_times_round_trip_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    engine = _engine()
    engine.restore_contactor_times({"evse": ContactorTimes(minutes(0), minutes(3))}, minutes(4))
    assert StateFile(path).save(snapshot(engine.store, engine.contactor_times()))
    document = json.loads(path.read_text())
    assert document["contactor"] == {"evse": {"last_start": "2026-06-21T12:00:00+00:00",
                                              "last_stop": "2026-06-21T12:03:00+00:00"}}
    loaded = StateFile(path).load()
    assert loaded.problem is None
    fresh = _engine()
    assert restore_contactor(fresh, loaded.state, minutes(4)) == []
    assert fresh.contactor_times() == {"evse": ContactorTimes(minutes(0), minutes(3))}


def test_a_charger_never_switched_is_not_saved_and_an_old_file_has_no_times(
    tmp_path: Path,
) -> None:
    engine = _engine()
    assert snapshot(engine.store, engine.contactor_times()).contactor == {}
    path = tmp_path / "state.json"
    path.write_text('{"format": 1, "modes": {"evse": "auto"}, "variables": {}}')
    assert StateFile(path).load() == LoadResult(SavedState({"evse": "auto"}, {}, {}))


def test_restored_times_hold_a_start_until_min_off_after_the_stop() -> None:
    program = FakeProgram(decide=lambda now, values: [action(START)])
    engine = _engine(program)
    engine.store.set_charger("evse", status(ChargerState.SLEEPING), minutes(5))
    engine.restore_contactor_times({"evse": ContactorTimes(None, minutes(3))}, minutes(5))
    held = engine.step(minutes(5))
    assert held.commands == [] and held.held[0].guard is Guard.MIN_OFF
    assert held.held[0].why == "min_off 5 min not reached (stopped 2 min ago)"
    assert [c.kind for c in engine.step(minutes(8)).commands] == [CommandKind.START]


def test_a_time_in_the_future_counts_as_now() -> None:
    # The clock went back an hour (NTP after a start without network): the saved stop is
    # an hour ahead. The start waits min_off from now, not an hour and five minutes.
    program = FakeProgram(decide=lambda now, values: [action(START)])
    engine = _engine(program)
    engine.store.set_charger("evse", status(ChargerState.SLEEPING), minutes(0))
    unknown = engine.restore_contactor_times(
        {"evse": ContactorTimes(minutes(59), minutes(60)), "shed": ContactorTimes()},
        minutes(0))
    assert unknown == ["shed"]
    assert engine.contactor_times() == {"evse": ContactorTimes(minutes(0), minutes(0))}
    assert engine.step(minutes(4)).commands == []
    assert [c.kind for c in engine.step(minutes(5)).commands] == [CommandKind.START]


def test_restore_contactor_names_unknown_chargers() -> None:
    problems = restore_contactor(_engine(), SavedState(contactor={
        "shed": ContactorTimes(minutes(0), None)}), minutes(1))
    assert problems == ["saved start and stop times of charger 'shed' ignored: no such charger"]


@pytest.mark.parametrize(("contactor", "why"), [
    ('[]', "'contactor' must map charger names"),
    ('{"evse": {"last_stop": 5}}', "5 is not a time"),
    ('{"evse": {"last_stop": "yesterday"}}', "'yesterday' is not an ISO time"),
    ('{"evse": {"last_stop": "2026-06-21T12:00:00"}}', "has no UTC offset"),
    ('{"evse": {"stopped": "2026-06-21T12:00:00+00:00"}}', "must hold last_start and last_stop"),
])
def test_bad_contactor_times_set_the_file_aside(tmp_path: Path, contactor: str, why: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(f'{{"format": 1, "modes": {{}}, "contactor": {contactor}}}')
    result = StateFile(path).load()
    assert result.problem is not None and why in result.problem
    assert result.state == SavedState()
