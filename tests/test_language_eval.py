"""Evaluating compiled programs: values, unknowns, `for`, windows, smoothing, triggers,
actions and their reasons."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from evse_rules.language import (
    ActionKind,
    CompiledProgram,
    Environment,
    ProposedAction,
    TickResult,
    load_program_text,
)

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)       # a Monday
MINUTE = timedelta(minutes=1)


class Runner:
    """Ticks a program with values given by name (qualified or bare charger names)."""

    def __init__(self, text: str, env: Environment | None = None) -> None:
        self.program: CompiledProgram = (load_program_text(text, "t.evr", env)
                                         if env is not None else load_program_text(text, "t.evr"))
        self.names = [e.name for e in self.program.externals]

    def tick(self, now: datetime, **values: Any) -> TickResult:
        row: list[Any] = []
        for name in self.names:
            short = name.split(".", 1)[1] if name.startswith("evse.") else name
            row.append(values.get(short, values.get(name)))
        return self.program.tick(now, row)

    def logs(self, now: datetime, **values: Any) -> list[Any]:
        return [a.value for a in self.tick(now, **values).actions if a.kind is ActionKind.LOG]


def kinds(result: TickResult) -> list[tuple[str, Any]]:
    return [(a.kind.value, a.value) for a in result.actions]


# ---- the design-card sentence -----------------------------------------------------------------

SENTENCE = ("input pv: W\ninput surplus: W\n"
            "if mode is auto and pv > 1400W then set amps to surplus/voltage\n")


def test_design_card_sentence_proposes_amps_with_its_reasons() -> None:
    run = Runner(SENTENCE)
    result = run.tick(T0, pv=2000.0, surplus=2300.0, mode="auto", voltage=230.0)
    (action,) = result.actions
    assert action.kind is ActionKind.SET_AMPS and action.charger == "evse"
    assert action.value == pytest.approx(10.0)
    assert action.values == (("mode", "auto"), ("pv", "2000 W"), ("surplus", "2300 W"),
                             ("voltage", "230 V"))
    assert action.rule.line == 3 and action.rule.text.startswith("if mode is auto")
    assert action.target == ("amps", "evse")
    assert result.fired == [action.rule]


@pytest.mark.parametrize("state", [
    {"pv": 2000.0, "surplus": 2300.0, "mode": "manual", "voltage": 230.0},
    {"pv": 1400.0, "surplus": 2300.0, "mode": "auto", "voltage": 230.0},
    {"pv": None, "surplus": 2300.0, "mode": "auto", "voltage": 230.0},
    {"pv": 2000.0, "surplus": 2300.0, "mode": None, "voltage": 230.0},
])
def test_design_card_sentence_does_not_fire(state: dict[str, Any]) -> None:
    result = Runner(SENTENCE).tick(T0, **state)
    assert result.actions == [] and result.fired == []


@pytest.mark.parametrize("state", [
    {"pv": 2000.0, "surplus": None, "mode": "auto", "voltage": 230.0},
    {"pv": 2000.0, "surplus": 2300.0, "mode": "auto", "voltage": 0.0},
    {"pv": 2000.0, "surplus": 2300.0, "mode": "auto", "voltage": None},
])
def test_a_set_with_an_unknown_value_proposes_nothing(state: dict[str, Any]) -> None:
    result = Runner(SENTENCE).tick(T0, **state)
    assert result.actions == []
    assert len(result.fired) == 1          # the condition held; the value was unknown


def test_a_set_with_a_value_that_is_not_a_finite_number_proposes_nothing() -> None:
    run = Runner("input pv: W\nvar v: W = 0 W\nset amps to pv / voltage, set v to pv\n")
    for pv in (math.inf, -math.inf, math.nan):
        result = run.tick(T0, pv=pv, voltage=230.0, v=0.0)
        assert result.actions == []


def test_compiled_rule_function_matches_the_statement() -> None:
    program = Runner(SENTENCE).program
    rule = program.rule_function(0)
    assert rule(program.slot_values([2000.0, 2300.0, "auto", 230.0]), 0.0) == (0, (10.0,))
    assert rule(program.slot_values([None, 2300.0, "auto", 230.0]), 0.0) is None
    assert "eval" not in program.source and "v[" in program.source


# ---- unknown values: Kleene logic ------------------------------------------------------------

K = [True, False, None]


def kleene_and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def kleene_or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


LOGIC = ("input a: boolean\ninput b: boolean\n"
         "let both = a and b\nlet either = a or b\nlet neither = not (a or b)\n"
         "let cmp = (a and b) == (a or b)\n"
         'if a and b then log "and"\nif not (a and b) then log "nand"\n'
         'if a or b then log "or"\nif not (a or b) then log "nor"\n'
         'if not a then log "not"\n')


@pytest.mark.parametrize("a", K)
@pytest.mark.parametrize("b", K)
def test_and_or_not_follow_kleene_logic(a: bool | None, b: bool | None) -> None:
    run = Runner(LOGIC)
    result = run.tick(T0, a=a, b=b)
    assert result.lets["both"] == kleene_and(a, b)
    assert result.lets["either"] == kleene_or(a, b)
    neither = kleene_or(a, b)
    assert result.lets["neither"] == (None if neither is None else not neither)
    both, either = kleene_and(a, b), kleene_or(a, b)
    assert result.lets["cmp"] == (None if both is None or either is None else both == either)
    logs = [action.value for action in result.actions]
    # A condition that ends unknown counts as false: neither branch of `not` fires.
    expected = []
    if kleene_and(a, b) is True:
        expected.append("and")
    if kleene_and(a, b) is False:
        expected.append("nand")
    if kleene_or(a, b) is True:
        expected.append("or")
    if kleene_or(a, b) is False:
        expected.append("nor")
    if a is False:
        expected.append("not")
    assert logs == expected


def test_arithmetic_and_comparison_with_unknown_are_unknown() -> None:
    run = Runner("input pv: W\ninput house: W\nlet s = pv - house\nlet d = pv / house\n"
                 "let big = pv > 1 kW\nlet m = max(pv, house)\nlet k = known(pv)\n"
                 "let neg = -pv\nlet r = round(pv)\n")
    lets = run.tick(T0, pv=None, house=300.0).lets
    assert lets == {"s": None, "d": None, "big": None, "m": None, "k": False, "neg": None,
                    "r": None}
    lets = run.tick(T0 + MINUTE, pv=2000.0, house=0.0).lets
    assert lets == {"s": 2000.0, "d": None, "big": True, "m": 2000.0, "k": True,
                    "neg": -2000.0, "r": 2000.0}


def test_else_runs_when_the_condition_is_false_or_unknown() -> None:
    run = Runner('input pv: W\nif pv > 1 kW then log "yes" else log "no"\n')
    assert run.logs(T0, pv=2000.0) == ["yes"]
    assert run.logs(T0 + MINUTE, pv=500.0) == ["no"]
    assert run.logs(T0 + 2 * MINUTE, pv=None) == ["no"]


# ---- functions --------------------------------------------------------------------------------

def test_functions() -> None:
    run = Runner("input x: W\nlet r1 = round(x)\nlet r2 = round(-x)\nlet f = floor(x)\n"
                 "let c = ceil(x)\nlet a = abs(-x)\nlet cl = clamp(x, 1 W, 2 W)\n"
                 "let mn = min(x, 2 W, 3 W)\nlet mx = max(x, 2 W)\n")
    lets = run.tick(T0, x=2.5).lets
    assert lets == {"r1": 3.0, "r2": -3.0, "f": 2.0, "c": 3.0, "a": 2.5, "cl": 2.0,
                    "mn": 2.0, "mx": 2.5}


def test_between_times_wraps_midnight() -> None:
    run = Runner('if between 22:00 and 06:00 then log "night"\n'
                 'if time between 06:00 and 22:00 then log "day"\n')
    day = datetime(2026, 6, 1, tzinfo=UTC)
    seen = {}
    for hh, mm in ((21, 59), (22, 0), (23, 30), (0, 0), (5, 59), (6, 0), (12, 0)):
        run.program.reset()
        seen[f"{hh:02d}:{mm:02d}"] = run.logs(day.replace(hour=hh, minute=mm))
    assert seen == {"21:59": ["day"], "22:00": ["night"], "23:30": ["night"],
                    "00:00": ["night"], "05:59": ["night"], "06:00": ["day"], "12:00": ["day"]}


def test_number_between_is_inclusive() -> None:
    run = Runner('if soc between 20% and 80% then log "in"\n')
    assert [run.logs(T0 + i * MINUTE, soc=s) for i, s in enumerate((19.9, 20.0, 80.0, 80.1))] \
        == [[], ["in"], ["in"], []]


def test_builtins_use_the_time_zone_of_now() -> None:
    run = Runner('log "{now} {date} {weekday} {hour} {time}"\n')
    paris = timezone(timedelta(hours=2))
    (message,) = run.logs(datetime(2026, 6, 7, 23, 30, 15, tzinfo=paris))
    assert message == "2026-06-07T23:30:15+02:00 2026-06-07 sun 23 23:30:15"


def test_log_interpolation_formats_values_as_people_read_them() -> None:
    run = Runner('input pv: kW\ninput tariff: text\nvar full: boolean = false\n'
                 'log "pv {pv} energy {session_energy} at {22:00} {tariff} {full} {pv / 2} '
                 '{{braces}} {state}"\n')
    (message,) = run.logs(T0, pv=1500.0, session_energy=3600.0 * 12_500, tariff="HC",
                          full=True, state=None)
    assert message == ("pv 1500 W energy 12.5 kWh at 22:00 HC true 750 W {braces} unknown")


# ---- `for` ---------------------------------------------------------------------------------------

def test_for_holds_after_the_duration_of_continuous_truth() -> None:
    run = Runner('input pv: W\nif pv > 1 kW for 3 min then log "go"\n')
    seen = [run.logs(T0 + i * MINUTE, pv=pv) for i, pv in
            enumerate([2000.0, 2000.0, 2000.0, 2000.0, 2000.0, 500.0, 2000.0, 2000.0])]
    assert seen == [[], [], [], ["go"], ["go"], [], [], []]


def test_an_unknown_value_breaks_for() -> None:
    run = Runner('input pv: W\nif pv > 1 kW for 2 min then log "go"\n')
    values = [2000.0, 2000.0, None, 2000.0, 2000.0, 2000.0]
    seen = [run.logs(T0 + i * MINUTE, pv=pv) for i, pv in enumerate(values)]
    assert seen == [[], [], [], [], [], ["go"]]


def test_for_counts_only_evaluations_of_its_statement() -> None:
    # In an `every 5 min` block the condition is seen at 0, 5, 10 min: true at 0 and 5 is
    # five minutes of truth.
    run = Runner('input pv: W\nevery 5 min:\n    if pv > 1 kW for 4 min then log "go"\n')
    seen = [run.logs(T0 + i * MINUTE, pv=2000.0) for i in range(11)]
    assert [i for i, s in enumerate(seen) if s] == [5, 10]


def test_for_in_parentheses_applies_to_its_part_only() -> None:
    run = Runner('input pv: W\nif (pv > 1 kW for 2 min) and mode is auto then log "go"\n')
    seen = [run.logs(T0 + i * MINUTE, pv=2000.0, mode=m)
            for i, m in enumerate(["manual", "manual", "manual", "auto"])]
    assert seen == [[], [], [], ["go"]]


# ---- windows and smoothing -----------------------------------------------------------------------

def test_avg_min_max_over_a_window_skip_unknown_samples() -> None:
    run = Runner("input pv: W\nlet a = avg(pv, 3 min)\nlet lo = min(pv, 3 min)\n"
                 "let hi = max(pv, 3 min)\n")
    values = [100.0, 200.0, None, 600.0, None, None, None]
    seen = [run.tick(T0 + i * MINUTE, pv=pv).lets for i, pv in enumerate(values)]
    # Samples at t with now - 3 min < t <= now.
    assert [s["a"] for s in seen] == [100.0, 150.0, 150.0, 400.0, 600.0, 600.0, None]
    assert [s["lo"] for s in seen] == [100.0, 100.0, 100.0, 200.0, 600.0, 600.0, None]
    assert [s["hi"] for s in seen] == [100.0, 200.0, 200.0, 600.0, 600.0, 600.0, None]


def test_smooth_rises_and_falls_with_its_own_time_constants() -> None:
    run = Runner("input pv: W\nlet s = smooth(pv, rise 20 s, fall 10 min)\n")
    first = run.tick(T0, pv=1000.0).lets["s"]
    assert first == 1000.0
    up = run.tick(T0 + MINUTE, pv=2000.0).lets["s"]
    assert isinstance(up, float)
    assert up == pytest.approx(1000.0 + 1000.0 * (1 - math.exp(-60 / 20)))
    down = run.tick(T0 + 2 * MINUTE, pv=0.0).lets["s"]
    assert isinstance(down, float)
    assert down == pytest.approx(up * math.exp(-60 / 600))
    assert run.tick(T0 + 3 * MINUTE, pv=None).lets["s"] is None
    # The next known sample steps from the last known one (2 minutes later).
    again = run.tick(T0 + 4 * MINUTE, pv=0.0).lets["s"]
    assert again == pytest.approx(down * math.exp(-120 / 600))


# ---- triggers -----------------------------------------------------------------------------------

def fired_at(run: Runner, times: list[datetime], **values: Any) -> list[datetime]:
    return [t for t in times if run.tick(t, **values).fired]


def test_every_tick_is_the_default() -> None:
    run = Runner("start\n")
    assert len(fired_at(run, [T0 + i * MINUTE for i in range(5)])) == 5


def test_every_fires_first_then_each_period() -> None:
    run = Runner("every 5 min:\n    start\n")
    times = [T0 + i * MINUTE for i in range(12)]
    assert fired_at(run, times) == [T0, T0 + 5 * MINUTE, T0 + 10 * MINUTE]


def test_at_fires_once_at_or_after_its_time_and_not_for_a_time_past() -> None:
    run = Runner("at 12:03:\n    start\n")
    times = [T0 + i * MINUTE for i in range(8)] + [T0 + timedelta(days=1, minutes=5)]
    assert fired_at(run, times) == [T0 + 3 * MINUTE, T0 + timedelta(days=1, minutes=5)]
    late = Runner("at 11:00:\n    start\n")
    assert fired_at(late, [T0, T0 + MINUTE]) == []


def test_at_with_coarse_ticks_fires_once() -> None:
    run = Runner("at 12:10:\n    start\n")
    times = [T0 + i * timedelta(minutes=15) for i in range(4)]
    assert fired_at(run, times) == [T0 + timedelta(minutes=15)]


def test_at_on_weekdays_only() -> None:
    run = Runner("at 12:00 on sat, sun:\n    start\n")
    days = [T0 + timedelta(days=d) for d in range(8)]        # Monday .. next Monday
    assert [t.strftime("%a") for t in fired_at(run, days)] == ["Sat", "Sun"]
    weekdays = Runner("at 12:00 on weekdays:\n    start\n")
    assert len(fired_at(weekdays, days)) == 6


def test_cron_never_misses_and_never_doubles() -> None:
    run = Runner('cron "*/10 * * * *":\n    start\n')
    # Ticks every 7 minutes: each tick that passed one or more cron times fires once.
    times = [T0 + timedelta(minutes=1 + 7 * i) for i in range(6)]    # 12:01, 12:08, ...
    assert fired_at(run, times) == [times[i] for i in (2, 3, 5)]   # 12:15 12:22 12:36
    exact = Runner('cron "0 12 * * *":\n    start\n')
    assert fired_at(exact, [T0]) == [T0]
    coarse = Runner('cron "* * * * *":\n    start\n')
    assert fired_at(coarse, [T0 + timedelta(seconds=30), T0 + timedelta(hours=1)]) \
        == [T0 + timedelta(hours=1)]


def test_on_change_fires_when_the_value_changes_not_on_the_first_tick() -> None:
    run = Runner('on change of state:\n    log "now {state}"\n')
    states = ["connected", "connected", "charging", None, None, "charging"]
    seen = [run.logs(T0 + i * MINUTE, state=s) for i, s in enumerate(states)]
    assert seen == [[], [], ["now charging"], ["now unknown"], [], ["now charging"]]


def test_on_start_fires_on_the_first_tick_and_after_reset() -> None:
    run = Runner("on start:\n    stop\n")
    assert fired_at(run, [T0, T0 + MINUTE]) == [T0]
    run.program.reset()
    assert fired_at(run, [T0, T0 + MINUTE]) == [T0]


def test_reset_forgets_for_and_windows() -> None:
    run = Runner('input pv: W\nlet a = avg(pv, 1 h)\nif pv > 1 kW for 1 min then log "go"\n')
    run.tick(T0, pv=2000.0)
    assert run.logs(T0 + MINUTE, pv=2000.0) == ["go"]
    run.program.reset()
    result = run.tick(T0, pv=3000.0)
    assert result.actions == [] and result.lets["a"] == 3000.0


# ---- actions ------------------------------------------------------------------------------------

def test_actions_in_order_with_their_targets() -> None:
    run = Runner("var boost: boolean = false\n"
                 "if true then start, set amps to 16 A, set mode to manual, set boost to true, "
                 'log "done" else stop\n')
    result = run.tick(T0, boost=False)
    assert kinds(result) == [("start", None), ("set_amps", 16.0), ("set_mode", "manual"),
                             ("set_var", True), ("log", "done")]
    assert [a.target for a in result.actions][:4] == [
        ("run", "evse"), ("amps", "evse"), ("mode", "evse"), ("var", "boost")]
    assert result.actions[3].name == "boost"


def test_actions_name_their_chargers() -> None:
    run = Runner("charger garage, carport\n"
                 "if true then start garage, stop carport, set amps of garage to 6 A, "
                 "set carport.amps to 7 A, set mode of carport to auto\n")
    result = run.tick(T0)
    assert [(a.kind.value, a.charger, a.value) for a in result.actions] == [
        ("start", "garage", None), ("stop", "carport", None), ("set_amps", "garage", 6.0),
        ("set_amps", "carport", 7.0), ("set_mode", "carport", "auto")]


def test_actions_do_not_change_values_within_a_tick() -> None:
    run = Runner("var boost: boolean = false\n"
                 "if not boost then set boost to true\n"
                 'if boost then log "boosted"\n')
    result = run.tick(T0, boost=False)
    assert kinds(result) == [("set_var", True)]
    assert run.logs(T0 + MINUTE, boost=True) == ["boosted"]


def test_statements_run_in_file_order_across_blocks() -> None:
    run = Runner('log "a"\nevery 1 min:\n    log "b"\nlog "c"\n')
    assert run.logs(T0) == ["a", "b", "c"]


def test_reasons_name_what_the_condition_and_actions_read() -> None:
    run = Runner("input pv: W\ninput house: W\nlet s = pv - house\n"
                 "if between 10:00 and 14:00 and garage_free then set amps to s / voltage\n"
                 "var garage_free: boolean = true\n")
    (action,) = run.tick(T0, pv=3000.0, house=700.0, voltage=230.0, garage_free=True).actions
    assert isinstance(action, ProposedAction)
    assert action.values == (("time", "12:00"), ("garage_free", "true"), ("s", "2300 W"),
                             ("voltage", "230 V"))


def test_reasons_of_a_change_show_the_value_that_changed() -> None:
    run = Runner("on change of vehicle:\n    if vehicle then start\non change of state: stop\n")
    run.tick(T0, vehicle=False, state="connected")
    result = run.tick(T0 + MINUTE, vehicle=True, state="charging")
    assert [(a.kind.value, a.values) for a in result.actions] == [
        ("start", (("vehicle", "true"),)), ("stop", (("state", "charging"),))]


def test_lets_are_reported_each_tick() -> None:
    run = Runner("input pv: W\nlet half = pv / 2\n")
    assert run.tick(T0, pv=3000.0).lets == {"half": 1500.0}
    assert run.program.lets == ("half",)


# ---- the tick contract --------------------------------------------------------------------------

def test_tick_refuses_a_naive_time_a_wrong_row_and_time_going_back() -> None:
    program = load_program_text("input pv: W\nif pv > 1 kW then start\n")
    with pytest.raises(ValueError, match="timezone-aware"):
        program.tick(datetime(2026, 6, 1, 12, 0), [1.0])
    with pytest.raises(ValueError, match="1 values"):
        program.tick(T0, [])
    program.tick(T0, [1.0])
    with pytest.raises(ValueError, match="backwards"):
        program.tick(T0 - MINUTE, [1.0])
    program.reset()
    program.tick(T0 - MINUTE, [1.0])


@pytest.mark.parametrize("unit", ["A", "mA", "V", "W", "kW", "Wh", "kWh", "s", "min", "%"])
@pytest.mark.parametrize("number", [0.0, 1.5, -2.0, 1234.5678, 25_000.0])
def test_reasons_show_values_like_units_format_quantity(unit: str, number: float) -> None:
    from evse_rules.language.compile import formatter
    from evse_rules.language.program import Kind, ValueType
    from evse_rules.language.units import format_quantity, parse_quantity

    quantity = parse_quantity(f"{number} {unit}")
    show = formatter(ValueType(Kind.NUMBER, quantity.dimension))
    assert show(quantity.value) == format_quantity(quantity.value, quantity.dimension)
    assert show(None) == "unknown"


def test_on_change_of_a_builtin_and_of_a_let() -> None:
    run = Runner('input pv: W\nlet sunny = pv > 1 kW\non change of hour:\n    log "hour {hour}"\n'
                 'on change of sunny:\n    log "sunny {sunny}"\n')
    seen = [run.logs(T0 + i * timedelta(minutes=30), pv=pv)
            for i, pv in enumerate([0.0, 2000.0, 2000.0, 0.0])]
    assert seen == [[], ["sunny true"], ["hour 13"], ["sunny false"]]
