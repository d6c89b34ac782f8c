"""The SQLite journal: one transaction per tick; history and the last decision read back."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evse_rules.engine.journal import Event, Journal, Sent, TickRecord
from evse_rules.engine.results import (
    Command,
    CommandKind,
    Guard,
    HeldBack,
    Reason,
    StepResult,
)
from evse_rules.language.program import ActionKind, ProposedAction, RuleRef

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RULE = RuleRef(0, "rules/solar.evr", 4, 1,
               "if mode is auto and pv > 1400W then set amps to surplus/voltage")
START = RuleRef(1, "rules/solar.evr", 6, 1, "if pv > 1400W then start")
VALUES = (("mode", "auto"), ("pv", "3000 W"), ("surplus", "2700 W"), ("voltage", "230 V"))


def _step(at: datetime, *, commands: list[Command] | None = None,
          held: list[HeldBack] | None = None) -> StepResult:
    return StepResult(at, commands or [], held or [], [], [], [RULE], {"surplus": 2700.0}, [],
                      [], [])


def _amps(at: datetime, amps: float) -> Command:
    return Command("garage", CommandKind.SET_CURRENT, amps, Reason(RULE, VALUES), at)


def _held(guard: Guard, why: str, kind: ActionKind = ActionKind.START) -> HeldBack:
    return HeldBack(ProposedAction(kind, START, charger="garage", values=VALUES), guard, why)


def _fill(journal: Journal) -> None:
    c1 = _amps(T0, 11)
    journal.record(TickRecord(T0, _step(T0, commands=[c1]), [Sent(c1, True)],
                              {"pv": 3000.0, "garage.state": "connected"}))
    t1 = T0 + timedelta(minutes=1)
    journal.record(TickRecord(
        t1, _step(t1, held=[_held(Guard.MIN_OFF, "stopped 2 min ago; min_off is 5 min"),
                            _held(Guard.UNCHANGED, "already 11 A", ActionKind.SET_AMPS)]),
        samples={"pv": 3000.0}))
    t2 = T0 + timedelta(minutes=2)
    c2 = _amps(t2, 12)
    journal.record(TickRecord(
        t2, _step(t2, commands=[c2]), [Sent(c2, False, "garage: no answer within 5 s")],
        samples={"pv": None}, stale=["pv"],
        events=[Event("warning", "inputs.pv", "inputs.pv: HTTP 500")]))


def test_ticks_commands_held_and_events_read_back(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        _fill(journal)
        counts = journal.counts()
        entries = journal.entries()
    assert counts["ticks"] == 3 and counts["commands"] == 2 and counts["fires"] == 3
    assert counts["held"] == 2 and counts["events"] == 1
    kinds = [(e.type, e.kind) for e in entries]
    # The unchanged hold is left out by default; the event comes first within its tick.
    assert kinds == [("command", "set_current"), ("held", "start"), ("event", "warning"),
                     ("command", "set_current")]
    first, held, event, failed = entries
    assert first.ok and first.value == "11 A" and first.rule == "rules/solar.evr:4"
    assert first.values == VALUES and first.rule_text == RULE.text
    assert held.guard == "min_off" and held.detail == "stopped 2 min ago; min_off is 5 min"
    assert event.source == "inputs.pv" and event.detail == "inputs.pv: HTTP 500"
    assert failed.ok is False and failed.detail == "garage: no answer within 5 s"


def test_history_filters(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        _fill(journal)
        assert len(journal.entries(since=T0 + timedelta(seconds=90))) == 2
        assert [e.type for e in journal.entries(charger="carport")] == ["event"]
        with_all = journal.entries(fires=True, unchanged=True)
        assert sum(e.type == "fired" for e in with_all) == 3
        assert any(e.guard == "unchanged" for e in with_all)
        assert len(journal.entries(limit=1)) == 1


def test_last_tick_and_last_decision(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        _fill(journal)
        last = journal.last_tick()
        assert last is not None and last.stale == ("pv",) and last.samples == {"pv": None}
        assert last.lets == {"surplus": 2700.0}
        decided = journal.last_decision_tick("garage")
        assert decided == last.id
        kinds = [e.type for e in journal.tick_entries(decided, "garage")]
        assert kinds == ["event", "fired", "command"]
        command = journal.last_command("garage")
        assert command is not None and command.value == "12 A" and command.ok is False
        assert journal.last_decision_tick("carport") is None


def test_requests_are_taken_once(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as daemon, Journal(path) as person:
        first = person.add_request("mode", "garage", "auto", T0)
        person.add_request("set", "target", 36e6, T0)
        pending = daemon.pending_requests()
        assert [(r.kind, r.target, r.value) for r in pending] == [
            ("mode", "garage", "auto"), ("set", "target", 36e6)]
        daemon.finish_request(first, T0, "done")
        assert person.request_result(first) == (T0, "done")
        assert [r.kind for r in daemon.pending_requests()] == ["set"]


def test_committed_ticks_survive_reopening_and_prune(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path)
    _fill(journal)
    del journal     # no close: like a process that died
    with Journal(path) as again:
        assert again.counts()["ticks"] == 3
        assert again.prune(T0 + timedelta(seconds=30)) == 1
        assert again.counts()["ticks"] == 2 and again.counts()["commands"] == 1


def test_naive_times_are_refused(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal, pytest.raises(ValueError, match="aware"):
        journal.record(TickRecord(datetime(2026, 1, 1), None))


def test_the_database_is_in_wal_mode(tmp_path: Path) -> None:
    Journal(tmp_path / "j.sqlite").close()
    mode = sqlite3.connect(tmp_path / "j.sqlite").execute("PRAGMA journal_mode").fetchone()
    assert mode == ("wal",)


def test_an_unchanged_action_repeated_tick_after_tick_is_journaled_once(tmp_path: Path) -> None:
    same = _held(Guard.UNCHANGED, "already 11 A", ActionKind.SET_AMPS)
    with Journal(tmp_path / "j.sqlite") as journal:
        for minute in range(5):
            at = T0 + timedelta(minutes=minute)
            journal.record(TickRecord(at, _step(at, held=[same])))
        at = T0 + timedelta(minutes=5)
        journal.record(TickRecord(at, _step(at)))
        at = T0 + timedelta(minutes=6)
        journal.record(TickRecord(at, _step(at, held=[same])))
        held = journal.entries(unchanged=True)
    assert [e.at for e in held] == [T0, T0 + timedelta(minutes=6)]


def test_a_tick_without_rules_keeps_the_first_rule_file_error(tmp_path: Path) -> None:
    error = "rules/solar.evr:4:26: error: cannot compare power (W) with current (A)"
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.record(TickRecord(T0, None, samples={"pv": 3000.0}, rules_error=error))
        without = journal.last_tick()
        journal.record(TickRecord(T0 + timedelta(minutes=1), _step(T0), samples={"pv": 1.0}))
        with_rules = journal.last_tick()
    assert without is not None and without.rules_error == error
    assert without.samples == {"pv": 3000.0}
    assert with_rules is not None and with_rules.rules_error is None


def test_fires_and_held_actions_name_the_blocks_of_their_rule(tmp_path: Path) -> None:
    import dataclasses

    blocked = dataclasses.replace(RULE, block="between 22:00 and 06:00 (rules/solar.evr:3)")
    step = StepResult(T0, [], [], [], [], [blocked], {}, [], [], [])
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.record(TickRecord(T0, step, [], {}, []))
        [fired] = [e for e in journal.entries(fires=True) if e.type == "fired"]
    assert fired.rule_text is not None
    assert fired.rule_text.endswith("[in between 22:00 and 06:00 (rules/solar.evr:3)]")
