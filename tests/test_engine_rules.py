"""The engine with real rule files: every trigger kind, `for`, staleness, guards, arbitration.

Each test drives the one engine exactly as the replay and the daemon do: inputs and the
charger's status into the store, `step(now)`, commands applied to a simulated charger and
committed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evse_rules.chargers.simulated import SimulatedCharger
from evse_rules.engine import ChargerSettings, CommandKind, Engine, Guard, StepResult
from evse_rules.language import load_program_text
from evse_rules.simulate import apply_command

NOON = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)
HEAD = "input pv: W\n"


class Rig:
    """One engine, one simulated charger, a rule text."""

    def __init__(self, text: str, *, vehicle: bool = True, min_on: float = 0.0,
                 min_off: float = 0.0, stale_after: float | None = None) -> None:
        self.program = load_program_text(HEAD + text, "t.evr")
        settings = ChargerSettings("evse", min_on=min_on, min_off=min_off,
                                   initial_mode="auto")
        self.engine = Engine(self.program, [settings])
        self.engine.store.declare_input("pv", stale_after=stale_after)
        self.charger = SimulatedCharger(vehicle=vehicle)

    def tick(self, at: datetime, pv: float | None = 2000.0) -> StepResult:
        store = self.engine.store
        if pv is not None:
            store.set_input("pv", pv, at)
        store.set_charger("evse", self.charger.read_status(), at)
        result = self.engine.step(at)
        for command in result.commands:
            apply_command(self.charger, command.kind, command.value)
            self.engine.commit(command, ok=True)
        return result

    def fires(self, times: list[datetime], pvs: list[float | None] | None = None) -> list[int]:
        """The positions of the ticks at which some statement fired."""
        pvs = pvs or [2000.0] * len(times)
        return [i for i, (at, pv) in enumerate(zip(times, pvs, strict=True))
                if self.tick(at, pv).fired]


def every(minutes: float, count: int, start: datetime = NOON) -> list[datetime]:
    return [start + timedelta(minutes=minutes * i) for i in range(count)]


def line(result: StepResult) -> list[int]:
    return [ref.line for ref in result.fired]


# ---- triggers ---------------------------------------------------------------------------


def test_a_statement_outside_blocks_runs_every_tick() -> None:
    rig = Rig('log "pv is {pv}"\n')
    results = [rig.tick(at) for at in every(1, 3)]
    assert [len(r.logs) for r in results] == [1, 1, 1]
    assert "pv is 2000" in str(results[0].logs[0].value)


def test_every_duration() -> None:
    rig = Rig('every 5 min:\n    log "now"\n')
    assert rig.fires(every(1, 11)) == [0, 5, 10]


def test_every_duration_with_coarser_ticks_fires_once_per_tick() -> None:
    rig = Rig('every 1 min:\n    log "now"\n')
    assert rig.fires(every(3, 4)) == [0, 1, 2, 3]


def test_time_of_day_is_not_missed_by_coarse_ticks() -> None:
    rig = Rig('at 22:00:\n    log "night"\n')
    start = NOON.replace(hour=21, minute=50)
    # Ticks 21:50, 21:57, 22:04, 22:11, ...: the 22:00 fire lands on 22:04, once.
    assert rig.fires(every(7, 6, start)) == [2]


def test_time_of_day_on_weekdays_only() -> None:
    # 2026-06-20 is a Saturday, 2026-06-22 a Monday.
    rig = Rig('at 08:00 on mon:\n    log "monday"\n')
    start = datetime(2026, 6, 20, 7, 0, tzinfo=UTC)
    days = every(60 * 24, 3, start)
    ticks = sorted(day + timedelta(hours=h) for day in days for h in (0, 1, 2))
    fired = rig.fires(ticks)
    assert [ticks[i] for i in fired] == [datetime(2026, 6, 22, 8, 0, tzinfo=UTC)]


@pytest.mark.parametrize("step", [1, 10])
def test_cron_neither_misses_nor_doubles(step: int) -> None:
    rig = Rig('cron "*/15 * * * *":\n    log "quarter"\n')
    start = NOON + timedelta(minutes=1)
    ticks = every(step, 60 // step + 1, start)      # 12:01 .. 13:01
    # 12:15, 12:30, 12:45 and 13:00 fall in the hour: four fires, whatever the tick.
    assert len(rig.fires(ticks)) == 4


def test_on_change_of_an_input() -> None:
    rig = Rig('on change of pv:\n    log "changed"\n')
    fired = rig.fires(every(1, 5), [1.0, 1.0, 2.0, 2.0, 3.0])
    assert {2, 4} <= set(fired) and not {1, 3} & set(fired)


def test_on_start_fires_on_the_first_tick_only() -> None:
    rig = Rig('on start:\n    log "hello"\n')
    assert rig.fires(every(1, 4)) == [0]


# ---- for, staleness ---------------------------------------------------------------------

FOR_RULE = "if pv > 1000 W for 3 min then start\n"


def started_at(rig: Rig, pvs: list[float | None]) -> int | None:
    for i, (at, pv) in enumerate(zip(every(1, len(pvs)), pvs, strict=True)):
        result = rig.tick(at, pv)
        if any(c.kind is CommandKind.START for c in result.commands):
            return i
    return None


def test_for_holds_after_the_duration() -> None:
    assert started_at(Rig(FOR_RULE), [2000.0] * 6) == 3


def test_a_single_false_sample_restarts_for() -> None:
    pvs: list[float | None] = [2000.0, 2000.0, 500.0, 2000.0, 2000.0, 2000.0, 2000.0, 2000.0]
    assert started_at(Rig(FOR_RULE), pvs) == 6


def test_a_stale_input_breaks_for_and_makes_conditions_false() -> None:
    # pv goes stale 90 s after its last reading: at minute 2 it was read at minute 0.
    rig = Rig(FOR_RULE, stale_after=90.0)
    pvs: list[float | None] = [2000.0, None, None, 2000.0, 2000.0, 2000.0, 2000.0, 2000.0]
    assert started_at(rig, pvs) == 6
    assert rig.engine.store.reading("pv").stale is False


def test_stale_input_takes_the_else_branch() -> None:
    rig = Rig("if pv > 1000 W then start else stop\n", stale_after=90.0)
    rig.tick(NOON, 2000.0)
    assert rig.charger.enabled
    rig.tick(NOON + timedelta(minutes=1), None)
    result = rig.tick(NOON + timedelta(minutes=2), None)
    assert [c.kind for c in result.commands] == [CommandKind.STOP]


# ---- guards, end to end ---------------------------------------------------------------------


def test_amps_clamped_and_rounded_down() -> None:
    rig = Rig("var asked: A = 40 A\nset amps to asked\n")
    rig.charger.apply_current(10)
    result = rig.tick(NOON)
    assert [(c.kind, c.value) for c in result.commands] == [(CommandKind.SET_CURRENT, 32.0)]
    assert result.adjusted[0].why == "clamped 40 A to 32 A"
    rig2 = Rig("set amps to pv / 240 V\n")
    result = rig2.tick(NOON, 3839.0)                 # 15.996 A
    assert [c.value for c in result.commands] == [15.0]


def test_no_start_without_vehicle() -> None:
    rig = Rig("start\n", vehicle=False)
    result = rig.tick(NOON)
    assert result.commands == [] and result.held[0].guard is Guard.NO_VEHICLE


def test_minimum_on_and_off_times() -> None:
    rig = Rig("if pv > 1000 W then start else stop\n", min_on=600.0, min_off=300.0)
    pvs = [2000.0, 500.0] + [500.0] * 9 + [2000.0] * 6
    kinds = [[c.kind.value for c in rig.tick(at, pv).commands]
             for at, pv in zip(every(1, len(pvs)), pvs, strict=True)]
    assert kinds[0] == ["start"]
    assert kinds.index(["stop"]) == 10                 # held back until 10 min on
    assert kinds.index(["start"], 1) == 15             # then 5 min off


def test_unchanged_commands_are_not_sent() -> None:
    rig = Rig("set amps to 10 A, start\n")
    assert len(rig.tick(NOON).commands) == 2
    again = rig.tick(NOON + timedelta(minutes=1))
    assert again.commands == []
    assert {h.guard for h in again.held} == {Guard.UNCHANGED}


def test_last_writer_wins_and_the_trace_names_both() -> None:
    rig = Rig("set amps to 10 A\nset amps to 16 A\n")
    result = rig.tick(NOON)
    assert [c.value for c in result.commands] == [16.0]
    assert result.commands[0].reason.rule is not None
    assert result.commands[0].reason.rule.line == 3
    assert [(lost.action.rule.line, lost.beaten_by.rule.line) for lost in result.lost] == [
        (2, 3)]


def test_mode_is_read_by_rules() -> None:
    rig = Rig("if mode is auto then set mode to manual\nif mode is manual then start\n")
    first = rig.tick(NOON)
    assert [(m.old, m.new) for m in first.mode_changes] == [("auto", "manual")]
    assert first.commands == []                      # rules saw auto at this tick
    second = rig.tick(NOON + timedelta(minutes=1))
    assert [c.kind for c in second.commands] == [CommandKind.START]


def test_a_condition_with_arithmetic_on_a_charger_value() -> None:
    # 6.5 A x 240 V = 1560 W; the same comparison through a `let` works.
    rig = Rig("if pv > 6.5 A * voltage then start\n")
    assert [c.kind for c in rig.tick(NOON, 2000.0).commands] == [CommandKind.START]


def test_an_offline_charger_is_not_sent_commands_and_rules_see_it() -> None:
    from evse_rules.chargers.base import offline_status

    rig = Rig("if online then start\nif state is offline then log \"gone\"\nstart\n")
    store = rig.engine.store
    store.set_input("pv", 2000.0, NOON)
    store.set_charger("evse", offline_status("timeout", rig.charger.read_status()), NOON)
    result = rig.engine.step(NOON)
    assert result.commands == []
    assert [h.guard for h in result.held] == [Guard.OFFLINE]
    assert "charger offline (timeout)" in result.held[0].why
    assert [log.value for log in result.logs] == ["gone"]
