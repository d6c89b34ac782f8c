"""What the new constructs do at run time: condition blocks, edges, changes of expressions,
safety stops, conditional values, sets, time until, minute, today, VA, texts with values,
and the countdown of `for` clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from evse_rules.engine import ChargerSettings, Engine
from evse_rules.language import load_program_text
from evse_rules.language.program import ActionKind, Environment, Kind, Value, ValueType
from evse_rules.language.units import POWER

MONDAY_NOON = datetime(2026, 6, 1, 12, tzinfo=UTC)
PV = Environment(inputs={"pv": ValueType(Kind.NUMBER, POWER)})


def run(text: str, ticks: list[tuple[datetime, list[Value]]],
        env: Environment = PV) -> list[list[tuple[str, Value]]]:
    program = load_program_text(text, "t.evr", env)
    out = []
    for now, values in ticks:
        result = program.tick(now, values)
        out.append([(a.kind.value, a.value) for a in result.actions])
    return out


def minutes(*values: Value) -> list[tuple[datetime, list[Value]]]:
    return [(MONDAY_NOON + timedelta(minutes=i), [v]) for i, v in enumerate(values)]


def test_a_condition_block_holds_its_rules_only_while_it_holds() -> None:
    text = "while pv > 1 kW:\n    log \"sunny\"\n    if pv > 3 kW then log \"very\"\n"
    assert run(text, minutes(500.0, 2000.0, 4000.0, None)) == [
        [], [("log", "sunny")], [("log", "sunny"), ("log", "very")], []]


def test_an_else_in_a_block_does_not_run_outside_it() -> None:
    text = "if pv > 1 kW:\n    if pv > 3 kW then log \"high\" else log \"low\"\n"
    assert run(text, minutes(0.0, 2000.0)) == [[], [("log", "low")]]


def test_a_for_clock_in_a_block_starts_again_when_the_block_holds_again() -> None:
    text = "input cheap: boolean\nwhile cheap:\n    if pv > 1 kW for 2 min then log \"go\"\n"
    env = Environment(inputs={"pv": ValueType(Kind.NUMBER, POWER),
                              "cheap": ValueType(Kind.BOOLEAN)})
    program = load_program_text(text, "t.evr", env)
    fired = []
    # pv is high all along; the block holds at minutes 0-1, not 2, again from 3.
    for i, cheap in enumerate([True, True, False, True, True, True]):
        result = program.tick(MONDAY_NOON + timedelta(minutes=i), [2000.0, cheap])
        fired.append(bool(result.actions))
    assert fired == [False, False, False, False, False, True]


def test_between_blocks_are_windows_of_the_day() -> None:
    text = "between 22:00 and 06:00:\n    log \"night\"\nbetween 06:00 and 22:00:\n" \
           "    log \"day\"\n"
    night = datetime(2026, 6, 1, 23, tzinfo=UTC)
    assert run(text, [(MONDAY_NOON, []), (night, [])], Environment()) == [
        [("log", "day")], [("log", "night")]]


def test_the_trace_names_the_blocks_a_rule_stands_in() -> None:
    program = load_program_text(
        "if mode is auto:\n    between 06:00 and 22:00:\n        set amps to 16 A\n", "t.evr")
    (rule,) = program.rules
    assert rule.block == "if mode is auto (t.evr:1) > between 06:00 and 22:00 (t.evr:2)"
    assert rule.described == ("set amps to 16 A [in if mode is auto (t.evr:1) > between "
                              "06:00 and 22:00 (t.evr:2)]")


def test_a_later_block_wins_and_the_loser_is_named() -> None:
    program = load_program_text("set amps to 10 A\nif true:\n    set amps to 16 A\n", "t.evr")
    engine = Engine(program, [ChargerSettings("evse")])
    from tests.engine_fakes import status

    engine.store.set_charger("evse", status(), MONDAY_NOON)
    step = engine.step(MONDAY_NOON)
    assert [c.value for c in step.commands] == [16.0]
    assert str(step.commands[0].reason) == "t.evr:3 set amps to 16 A; in if true (t.evr:2)"
    assert [str(item) for item in step.lost] == [
        "t.evr:1: set_amps lost to t.evr:3: set_amps [in if true (t.evr:2)]"]


def test_a_safety_stop_beats_a_later_start() -> None:
    program = load_program_text("input house: W\nif house > 9 kW then stop now\nstart\n",
                                "t.evr")
    engine = Engine(program, [ChargerSettings("evse", min_on=600)])
    from evse_rules.chargers.base import ChargerState
    from tests.engine_fakes import status

    engine.store.set_charger("evse", status(ChargerState.CHARGING), MONDAY_NOON)
    engine.store.set_input("house", 10000.0, MONDAY_NOON)
    step = engine.step(MONDAY_NOON)
    assert [c.kind.value for c in step.commands] == ["stop"]
    assert [str(item) for item in step.lost] == ["t.evr:3: start lost to t.evr:2: stop"]


def test_on_change_of_an_expression() -> None:
    text = "on change of known(pv):\n    log \"pv known: {known(pv)}\"\n"
    assert run(text, minutes(1.0, 2.0, None, None, 3.0)) == [
        [], [], [("log", "pv known: false")], [], [("log", "pv known: true")]]


def test_when_fires_on_each_rising_edge_and_counts_unknown_as_not_holding() -> None:
    text = "when pv > 1 kW:\n    start\n"
    assert [bool(a) for a in run(text, minutes(2000.0, 2000.0, None, 2000.0, 0.0, 5000.0))] \
        == [True, False, False, True, False, True]


def test_conditional_values_sets_until_minute_and_va() -> None:
    text = ("let a = 32 A if pv > 2 kVA else 6 A\n"
            "let weekend = weekday is weekend\n"
            "let midweek = weekday in (tue, wed, thu)\n"
            "let left = time until 07:00\n"
            "let m = minute\n")
    program = load_program_text(text, "t.evr", PV)
    saturday = datetime(2026, 6, 6, 6, 30, tzinfo=UTC)
    assert program.tick(saturday, [3000.0]).lets == {
        "a": 32.0, "weekend": True, "midweek": False, "left": 1800.0, "m": 30.0}
    wednesday = datetime(2026, 6, 10, 7, 0, tzinfo=UTC)
    assert program.tick(wednesday, [1000.0]).lets == {
        "a": 6.0, "weekend": False, "midweek": True, "left": 0.0, "m": 0.0}
    thursday = datetime(2026, 6, 11, 7, 1, tzinfo=UTC)
    lets = program.tick(thursday, [None]).lets
    assert lets["a"] is None and lets["left"] == 86340.0


def test_today_counts_the_energy_since_the_day_began() -> None:
    program = load_program_text("let charged = today(total_energy)\n", "t.evr")
    late = datetime(2026, 6, 1, 23, 58, tzinfo=UTC)
    kwh = 3_600_000.0
    seen = [program.tick(late + timedelta(minutes=i), [v]).lets["charged"]
            for i, v in enumerate([10 * kwh, 11 * kwh, 12 * kwh, 13 * kwh])]
    assert seen == [0.0, 1 * kwh, 0.0, 1 * kwh]     # midnight between the 2nd and 3rd


def test_a_text_variable_is_set_with_values() -> None:
    text = 'var status: text = ""\nset status to "at {pv} since {minute} min"\n'
    program = load_program_text(text, "t.evr", PV)
    (action,) = program.tick(MONDAY_NOON, [1500.0, ""]).actions
    assert (action.kind, action.value) == (ActionKind.SET_VAR, "at 1500 W since 0 min")


def test_waiting_counts_down_a_for_clock() -> None:
    program = load_program_text("if pv > 1 kW for 2 min then start\n", "t.evr", PV)
    program.tick(MONDAY_NOON, [2000.0])
    later = MONDAY_NOON + timedelta(seconds=80)
    program.tick(later, [2000.0])
    (waiting,) = program.waiting(later)
    assert (waiting.rule.line, waiting.actions, waiting.charger, waiting.seconds_left) == (
        1, (ActionKind.START,), "evse", 40.0)
    program.tick(later + timedelta(seconds=10), [0.0])
    assert program.waiting(later + timedelta(seconds=10)) == []
