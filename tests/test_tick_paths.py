"""The fast paths of a tick give what the plain ones give: reasons formatted when read,
lets built when read, the seconds a replay passes, the common engine step."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from evse_rules.engine import ChargerSettings, Engine, Guard, HeldBack, Reason
from evse_rules.language import load_program_text
from evse_rules.language.program import ActionKind, ProposedAction, RuleRef, TickResult
from evse_rules.simulate import prepare, run
from tests.engine_fakes import SET_AMPS, STOP, FakeProgram, rule, status

ZONE = timezone(timedelta(hours=-5))
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=ZONE)
RULES = """input pv: W
input house: W
let surplus = pv - house
let trend = smooth(surplus, rise 20 s, fall 600 s)
if mode is auto and trend / voltage > 6.5 A for 2 min then start
if mode is auto then set amps to surplus / voltage
if mode is auto and trend / voltage < 5.5 A for 3 min then stop
"""


def test_raw_reasons_read_as_text_and_equal_given_text() -> None:
    program = load_program_text(RULES, "t.evr")
    result = program.tick(T0, [2400.0, 300.0, "auto", 240.0])
    amps = next(a for a in result.actions if a.kind is ActionKind.SET_AMPS)
    assert amps.values == (("mode", "auto"), ("surplus", "2100 W"), ("voltage", "240 V"))
    given = ProposedAction(amps.kind, amps.rule, amps.charger, value=amps.value,
                           values=amps.values)
    assert given.values == amps.values and str(Reason.of(amps)) == str(Reason.of(given))


def test_a_reason_without_as_many_values_as_names_is_refused() -> None:
    with pytest.raises(ValueError, match="2 names read but 1 raw values"):
        ProposedAction(ActionKind.STOP, rule(0), "evse", reads=(("a", str), ("b", str)),
                       raw=(1.0,))


def test_lets_are_a_dict_when_read_and_given_lets_win() -> None:
    result = load_program_text(RULES, "t.evr").tick(T0, [2400.0, 300.0, "auto", 240.0])
    assert result.lets == {"surplus": 2100.0, "trend": 2100.0}
    assert TickResult([], [], {"x": 1.0}).lets == {"x": 1.0}
    with pytest.raises(ValueError, match="1 let names but 0 values"):
        TickResult([], [], None, ("x",), ())


def test_tick_and_tick_at_agree_over_random_days() -> None:
    plain = load_program_text(RULES, "t.evr")
    timed = load_program_text(RULES, "t.evr")
    rng = random.Random(5)
    for minute in range(600):
        now = T0 + timedelta(minutes=minute)
        values = [rng.choice([None, rng.uniform(0, 6000)]), rng.uniform(0, 1500),
                  rng.choice(["auto", "manual"]), 240.0]
        a = plain.tick(now, values)
        b = timed.tick_at(now, now.timestamp(), values)
        assert [shown(x) for x in a.actions] == [shown(x) for x in b.actions]
        assert (a.fired, a.lets) == (b.fired, b.lets)


def shown(action: ProposedAction) -> tuple[object, ...]:
    """An action as people see it (the formatters of two programs are not the same
    objects)."""
    return (action.kind, action.rule, action.charger, action.name, action.value,
            action.values)


def test_tick_checks_what_tick_at_leaves_to_its_caller() -> None:
    program = load_program_text(RULES, "t.evr")
    with pytest.raises(ValueError, match="needs 4 values"):
        program.tick(T0, [1.0])
    with pytest.raises(ValueError, match="timezone-aware"):
        program.tick_at(T0.replace(tzinfo=None), 0.0, [None] * 4)
    program.tick_at(T0, T0.timestamp(), [None] * 4)
    with pytest.raises(ValueError, match="time went backwards"):
        program.tick_at(T0 - timedelta(minutes=1), T0.timestamp() - 60, [None] * 4)


def test_statements_sharing_a_test_each_see_it() -> None:
    program = load_program_text("input pv: W\nif mode is auto then start\n"
                                "if mode is auto and pv > 1 kW then set amps to 10 A\n"
                                "if not (mode is auto) then stop\n", "t.evr")
    assert "k0 = " in program.source
    auto = program.tick(T0, [2000.0, "auto"])
    assert [a.kind for a in auto.actions] == [ActionKind.START, ActionKind.SET_AMPS]
    manual = program.tick(T0 + timedelta(minutes=1), [2000.0, "manual"])
    assert [a.kind for a in manual.actions] == [ActionKind.STOP]
    assert program.rule_function(1)(program.slot_values([2000.0, "auto"]), 0.0) == (0, (10.0,))


def test_a_clamped_current_held_back_says_so_when_read() -> None:
    engine = Engine(FakeProgram(lambda now, values: [
        ProposedAction(SET_AMPS, rule(0), "evse", value=-3.5),
        ProposedAction(STOP, rule(1), "evse")]), [ChargerSettings("evse")])
    engine.store.set_charger("evse", status(amps=6.0), T0)
    held = engine.step(T0, T0.timestamp()).held
    assert [(h.guard, h.why) for h in held] == [
        (Guard.UNCHANGED, "unchanged (clamped -3.5 A to 6 A)")]
    assert HeldBack(held[0].action, Guard.CLAMP, "", (40.0, 32)).why == "clamped 40 A to 32 A"


def test_the_replay_gives_the_engine_the_seconds_of_now(tmp_path: Path) -> None:
    rows = ["time,pv[W],house[W]"]
    start = datetime(2026, 3, 28, 23, 0, tzinfo=timezone(timedelta(hours=1)))
    for minute in range(0, 180, 7):
        moment = start + timedelta(minutes=minute)
        if minute > 90:      # the offset changes in the middle
            moment = moment.astimezone(timezone(timedelta(hours=2)))
        rows.append(f"{moment.isoformat()},{1000 + minute},{200}")
    data = tmp_path / "d.csv"
    data.write_text("\n".join(rows) + "\n")
    rules = tmp_path / "r.evr"
    rules.write_text(RULES)
    setup = prepare([rules], data)
    seen: list[tuple[datetime, float]] = []
    tick_at = setup.program.tick_at  # type: ignore[attr-defined]

    def spy(now: datetime, timestamp: float, values: list[object]) -> TickResult:
        seen.append((now, timestamp))
        return tick_at(now, timestamp, values)  # type: ignore[no-any-return]

    setup.program.tick_at = spy  # type: ignore[attr-defined]
    run(setup)
    assert len(seen) == 176 and all(now.timestamp() == n for now, n in seen)
    assert {now.utcoffset() for now, _ in seen} == {timedelta(hours=1), timedelta(hours=2)}


def test_unknown_chargers_and_conflicts_take_the_general_path() -> None:
    proposals = [ProposedAction(SET_AMPS, rule(0), "evse", value=10.0),
                 ProposedAction(SET_AMPS, rule(1), "evse", value=12.0),
                 ProposedAction(STOP, rule(2), "garage")]
    engine = Engine(FakeProgram(lambda now, values: list(proposals)),
                    [ChargerSettings("evse")])
    engine.store.set_charger("evse", status(amps=6.0), T0)
    result = engine.step(T0)
    assert [c.value for c in result.commands] == [12.0]
    assert [(x.action.rule.index, x.beaten_by.rule.index) for x in result.lost] == [(0, 1)]
    assert [(h.guard, h.why) for h in result.held] == [
        (Guard.OFFLINE, "no charger named 'garage' is configured")]


def test_rule_refs_in_results_are_the_programs() -> None:
    program = load_program_text(RULES, "t.evr")
    fired = program.tick(T0, [2400.0, 300.0, "auto", 240.0]).fired
    assert all(isinstance(ref, RuleRef) and ref in program.rules for ref in fired)


def test_a_statement_function_compiled_on_demand_shares_the_ticks_state() -> None:
    program = load_program_text("input pv: W\nif pv > 1 kW for 2 min then start\n", "t.evr")
    assert "def rule_0(" in program.source          # generated with the rest...
    program.tick(T0, [2000.0])                      # ...its `for` clock starts here
    rule = program.rule_function(0)                 # ...and compiled only now
    assert rule is program.rule_function(0)
    later = T0.timestamp() + 120.0
    assert rule(program.slot_values([2000.0]), later) == (0, (None,))


def test_line_numbers_of_generated_code_are_lines_of_its_source() -> None:
    program = load_program_text("input pv: W\nif pv > 1 kW then set amps to pv / voltage\n",
                                "t.evr")
    lines = program.source.splitlines()
    for function in (program.tick_at, program.rule_function(0)):
        first = function.__code__.co_firstlineno
        assert lines[first - 1].startswith(f"def {function.__name__}("), function.__name__
