"""The checker: what must hold, names, units, types, and every error message it gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evse_rules.errors import RuleFileErrors, SourceError
from evse_rules.language import (
    DEFAULT_ENVIRONMENT,
    Environment,
    ExternalKind,
    Kind,
    Program,
    ValueType,
    check_files,
    check_texts,
    declared_chargers,
    load_program,
    load_program_text,
)
from evse_rules.language.units import CURRENT, ENERGY, POWER

TWO = Environment(chargers=("garage", "carport"))
NONE = Environment(chargers=())
CONFIG = Environment(inputs={"pv": ValueType(Kind.NUMBER, POWER),
                             "house": ValueType(Kind.NUMBER, POWER)},
                     chargers=("garage",), chargers_from_config=True)


def errors(text: str, env: Environment = DEFAULT_ENVIRONMENT) -> list[SourceError]:
    program, found = check_texts([("t.evr", text)], env)
    assert program is None and found, "expected errors"
    return found


def clean(text: str, env: Environment = DEFAULT_ENVIRONMENT) -> None:
    program, found = check_texts([("t.evr", text)], env)
    assert found == [], "\n".join(e.render() for e in found)
    assert program is not None


# ---- what must hold ---------------------------------------------------------------------------

def test_must_hold_design_card_file_checks_clean_without_config() -> None:
    clean("input pv: W\ninput surplus: W\n"
          "if mode is auto and pv > 1400W then set amps to surplus/voltage\n")


def test_must_hold_power_compared_with_current_is_rejected_at_its_line() -> None:
    with pytest.raises(RuleFileErrors) as caught:
        load_program_text("input pv: W\nif pv > 16A then stop\n", "x.evr")
    (error,) = caught.value.errors
    assert error.location.line == 2
    assert "power" in error.message and "current" in error.message
    assert error.render() == ("x.evr:2:9: error: cannot compare power (W) with current (A)\n"
                              "    if pv > 16A then stop\n"
                              "            ^^^")


def test_spaced_and_glued_units_and_dimension_algebra() -> None:
    clean("input pv: W\ninput surplus: W\ninput e: kWh\n"
          "if pv > 1400 W and pv > 1.4kW then set amps to surplus / voltage\n"
          "if current * voltage > 1 kW then stop\n"        # A*V is W
          "if pv * 2 h > e then stop\n"                     # W*h is energy
          "if pv / voltage > 6 A then start\n")             # W/V is A


def test_all_errors_of_a_file_are_reported_together() -> None:
    found = errors("input pv: W\nif pv > 16 A then stop\nif pvv > 1 kW then start\n"
                   "set amps to pv\n")
    assert [e.location.line for e in found] == [2, 3, 4]


def test_a_program_satisfies_the_program_protocol() -> None:
    program: Program = load_program_text("input pv: W\nif pv > 1 kW then start\n")
    assert [e.name for e in program.externals] == ["pv"]
    assert program.files == ("<rules>",)
    assert [r.line for r in program.rules] == [2]
    assert program.variables == ()


# ---- names ----------------------------------------------------------------------------------

def test_config_inputs_and_chargers_are_names() -> None:
    clean("if garage.power > pv - house then stop\nif power > 3 kW then stop\n", CONFIG)


def test_every_charger_property_and_builtin_checks() -> None:
    clean("if state is charging and vehicle and charging and online then stop\n"
          "if current < amps and min_amps < max_amps and voltage > 200 V then stop\n"
          "if power > 1 kW and session_energy > 1 kWh and total_energy > 1 kWh then stop\n"
          "if temp > 50 and mode is manual and phases == 3 then stop\n"
          "if time > 22:00 and hour >= 22 and weekday is sat then stop\n"
          'if date is "2026-12-24" and now is "x" then stop\n')


def test_with_several_chargers_properties_are_qualified() -> None:
    clean("if garage.power > 1 kW and carport.state is charging then stop garage\n", TWO)


def test_a_file_declares_its_chargers_without_config() -> None:
    program = load_program_text("charger garage, carport\nif garage.charging then stop carport\n")
    assert program.chargers == ("garage", "carport")
    assert [e.name for e in program.externals] == ["garage.charging"]


def test_externals_are_inputs_then_charger_properties_then_variables() -> None:
    program = load_program_text("input pv: W\nvar boost: boolean = false\n"
                                "if boost and pv > 1 kW then set amps to current\n")
    assert [(e.name, e.kind) for e in program.externals] == [
        ("pv", ExternalKind.INPUT), ("evse.current", ExternalKind.CHARGER),
        ("boost", ExternalKind.VARIABLE)]
    assert program.externals[1].type == ValueType(Kind.NUMBER, CURRENT)


def test_variables_carry_type_and_canonical_default() -> None:
    program = load_program_text('var target: kWh = 20 kWh\nvar note: text = "hi"\n'
                                "var boost: boolean = true\nvar n: number = 0\n")
    decls = {v.name: (v.type, v.default) for v in program.variables}
    assert decls == {
        "target": (ValueType(Kind.NUMBER, ENERGY), 72_000_000.0),
        "note": (ValueType(Kind.TEXT), "hi"),
        "boost": (ValueType(Kind.BOOLEAN), True),
        "n": (ValueType(Kind.NUMBER), 0.0),
    }


def test_same_input_declared_in_two_files_is_one_input(tmp_path: Path) -> None:
    a = tmp_path / "a.evr"
    b = tmp_path / "b.evr"
    a.write_text("input pv: W\nif pv > 1 kW then start\n")
    b.write_text("input pv: kW\nif pv < 1 kW then stop\n")
    program = load_program([a, b])
    assert [e.name for e in program.externals] == ["pv"]
    assert check_files([a, b]) == []


def test_lets_use_lets_above_them() -> None:
    clean("input pv: W\nlet a = pv * 2\nlet b = a + pv\nif b > 1 kW then stop\n")


def test_zero_needs_no_unit() -> None:
    clean("input pv: W\nif pv > 0 then start\nlet x = max(pv, 0)\nvar e: kWh = 0\n")


def test_time_between_and_number_between() -> None:
    clean("input battery: %\nif between 22:00 and 06:00 and battery between 20% and 80% "
          "then start\nif soc between 20% and 80% then stop\n"
          "if time between 06:00 and 07:00 then stop\n")


def test_windowed_min_max_and_plain_min_max() -> None:
    clean("input pv: W\nlet a = min(pv, 10 min)\nlet b = max(pv, 1 kW, 2 kW)\n"
          "let c = min(10 min, 20 min)\nlet d = avg(pv, 1 h)\n")


def test_check_files_reports_an_unreadable_file(tmp_path: Path) -> None:
    (error,) = check_files([tmp_path / "missing.evr"])
    assert error.message.startswith("cannot read the file")
    bad = tmp_path / "bad.evr"
    bad.write_bytes(b"\xff\xfe")
    (error,) = check_files([bad])
    assert error.message.startswith("not a UTF-8 text file")
    with pytest.raises(RuleFileErrors):
        load_program([bad])


# ---- the catalogue of checker errors ----------------------------------------------------------
# (source, env, message, line, column): every message the checker can give.

CATALOGUE: list[tuple[str, Environment, str, int, int]] = [
    ("charger garage, garage\n", Environment(),
     "charger garage is listed twice", 1, 17),
    ("charger garge\n", CONFIG,
     "charger garge is not in the config (chargers: garage); did you mean garage?", 1, 9),
    ("let time = 3\n", Environment(), "let time would hide the built-in time", 1, 5),
    ("var power: W = 1 W\n", Environment(),
     "var power would hide the charger property power", 1, 5),
    ("input garage: W\n", CONFIG, "input garage would hide the charger garage", 1, 7),
    ("let avg = 3\n", Environment(), "let avg would hide the function avg", 1, 5),
    ("let a = 1\nlet a = 2\n", Environment(),
     "a is already declared as let, first declared at t.evr:1:5", 2, 5),
    ("let pv = 1 W\n", CONFIG, "pv is already declared as input by the config", 1, 5),
    ("input pv: Wats\n", Environment(),
     "unknown type Wats: write a unit (mA, A, V, W, kW, Wh, kWh, ms, s, min, h, %), number, "
     "boolean or text", 1, 11),
    ("input pv: kw\n", Environment(),
     "unknown type kw: write a unit (mA, A, V, W, kW, Wh, kWh, ms, s, min, h, %), number, "
     "boolean or text; did you mean kW?", 1, 11),
    ("let pv = 1 W\ninput pv: W\n", Environment(),
     "pv is already declared as let, at t.evr:1:5", 2, 7),
    ("input pv: W\ninput pv: W\n", Environment(), "input pv is declared twice in this file",
     2, 7),
    ("input pv: A\n", CONFIG, "input pv is power (W) by the config, not current (A)", 1, 11),
    ("input pv: W\nvar x: W = pv\n", Environment(),
     "a variable's default must be a plain value, like 20 kWh, true or \"text\"", 2, 12),
    ("var target: kWh = 3 W\n", Environment(),
     "the default of target must be energy (Wh), found power (W)", 1, 19),
    ("var target: kWh = 3\n", Environment(),
     "the default of target must be energy (Wh), found number; write 3 Wh", 1, 19),
    ("at 22:00 on mon, tuesdays:\n    start\n", Environment(),
     "unknown day tuesdays: write mon, tue, wed, thu, fri, sat, sun, weekdays or weekend; "
     "did you mean tuesday?", 1, 18),
    ('cron "0 22 *": start\n', Environment(),
     "a cron expression has 5 fields (minute hour day month weekday), found 3", 1, 6),
    ('cron "0 25 * * *": start\n', Environment(),
     'invalid cron expression "0 25 * * *": [0 25 * * *] is not acceptable, out of range',
     1, 6),
    ("start garge\n", TWO,
     "unknown charger garge (chargers: garage, carport); did you mean garage?", 1, 7),
    ("stop\n", NONE, "stop needs a charger, and none is configured", 1, 1),
    ("start\n", TWO,
     "start must name its charger when there are several: start garage or start carport",
     1, 1),
    ("set amps to 6 A\n", TWO, "set amps must name its charger when there are several: "
     "set amps of garage or set amps of carport", 1, 1),
    ("set power of garage to 1 kW\n", TWO,
     "power of a charger cannot be set: rules set amps and mode", 1, 5),
    ("set garage.ampz to 6 A\n", TWO,
     "unknown charger setting ampz: rules set amps and mode; did you mean amps?", 1, 12),
    ("set voltage to 230 V\n", Environment(),
     "voltage of a charger cannot be set: rules set amps and mode", 1, 5),
    ("set hour to 3\n", Environment(),
     "cannot set hour: it is a built-in; only variables declared with var can be set", 1, 5),
    ("var boost: boolean = false\nset bost to true\n", Environment(),
     "unknown variable bost: declare it with `var bost: TYPE = DEFAULT`; did you mean boost?",
     2, 5),
    ("input pv: W\nset pv to 3 W\n", Environment(),
     "cannot set pv: it is an input; only variables declared with var can be set", 2, 5),
    ("let x = 3\nset x to 4\n", Environment(),
     "cannot set x: it is a let; only variables declared with var can be set", 2, 5),
    ("var target: kWh = 20 kWh\ninput pv: W\nset target to pv\n", Environment(),
     "cannot set target (energy (Wh)) to power (W)", 3, 15),
    ("input pv: W\nset amps to pv\n", Environment(),
     "set amps to needs a current (A), found power (W)", 2, 13),
    ("set amps to 16\n", Environment(),
     "set amps to needs a current (A), found number; write 16 A", 1, 13),
    ('set mode to "auto"\n', Environment(), "set mode to takes auto or manual", 1, 13),
    ("set mode to automatic\n", Environment(),
     "automatic is not a mode: expected auto or manual; did you mean auto?", 1, 13),
    ("input pv: W\nif pv then stop\n", Environment(),
     "a condition must be true or false, found power (W)", 2, 4),
    ("input pv: W\nlet x = 5 Kw\n", Environment(),
     "unknown unit Kw (units: mA, A, V, W, kW, Wh, kWh, ms, s, min, h, %); did you mean kW?",
     2, 9),
    ("let x = 16 amps\n", Environment(),
     "unknown unit amps (units: mA, A, V, W, kW, Wh, kWh, ms, s, min, h, %); write A", 1, 9),
    ("if time > 25:00 then stop\n", Environment(),
     "25:00 is not a time of day (00:00 to 23:59)", 1, 11),
    ("every 5:\n    start\n", Environment(),
     "every takes a duration (like 5 min or 30 s), found the number 5", 1, 7),
    ("every 5 W:\n    start\n", Environment(),
     "every takes a duration (like 5 min or 30 s), found power (W)", 1, 7),
    ("every 0 min:\n    start\n", Environment(), "a duration must be positive, found 0 min",
     1, 7),
    ("if charging for 0 s then stop\n", Environment(),
     "a duration must be positive, found 0 s", 1, 17),
    ("let x = avg(current, -5 min)\n", Environment(),
     "a duration must be positive, found -5 min", 1, 22),
    ("input pv: W\nif pv.power > 1 kW then stop\n", Environment(),
     "pv is not a charger, so pv.power means nothing (chargers: evse)", 2, 4),
    ("if garge.power > 1 kW then stop\n", CONFIG,
     "unknown charger garge (chargers: garage); did you mean garage?", 1, 4),
    ("if garage.powr > 1 kW then stop\n", CONFIG,
     "unknown charger property powr (properties: state, vehicle, charging, online, current, "
     "amps, min_amps, max_amps, voltage, power, session_energy, total_energy, temp, mode, "
     "phases, soc); did you mean power?", 1, 4),
    ("let x = x + 1\n", Environment(), "let x cannot use itself", 1, 9),
    ("let a = b\nlet b = 1\n", Environment(),
     "b is defined further down, at t.evr:2:5: a let can only use lets defined above it",
     1, 9),
    ("if power > 1 kW then log \"x\"\n", NONE,
     "power is a charger property, and no charger is configured", 1, 4),
    ("if power > 1 kW then stop garage\n", TWO,
     "power is ambiguous with several chargers: write garage.power or carport.power", 1, 4),
    ("input pv: W\nif pvv > 1 kW then stop\n", Environment(),
     "unknown name pvv; did you mean pv?", 2, 4),
    ("if solar > 1 kW then stop\n", Environment(),
     "unknown name solar (declare it with `input solar: UNIT`, or define it with let or var)",
     1, 4),
    ("if powr > 1 kW then stop garage\n", TWO,
     "unknown name powr; did you mean garage.power or carport.power?", 1, 4),
    ("input pv: W\nif not pv then stop\n", Environment(),
     "not takes a condition (true or false), found power (W)", 2, 8),
    ("let x = -true\n", Environment(), "- takes a number, found boolean", 1, 10),
    ('let x = smooth("a", rise 1 s, fall 1 s)\n', Environment(),
     "smooth takes a number, found text", 1, 16),
    ("input pv: W\nif pv and charging then stop\n", Environment(),
     "and takes conditions (true or false), found power (W)", 2, 4),
    ('let x = "a" + 1\n', Environment(), "+ takes numbers, found text", 1, 9),
    ("let x = time + 1\n", Environment(),
     "+ takes numbers, found a time of day; compare times with <, > or between", 1, 9),
    ("input pv: W\nlet x = pv + current\n", Environment(),
     "cannot add power (W) and current (A)", 2, 9),
    ("input pv: W\nlet x = pv - current\n", Environment(),
     "cannot subtract current (A) from power (W)", 2, 9),
    ("input pv: W\nif pv > current then stop\n", Environment(),
     "cannot compare power (W) with current (A)", 2, 4),
    ("input pv: W\nif pv > 1400 then stop\n", Environment(),
     "cannot compare power (W) with number; write 1400 W", 2, 9),
    ("input pv: W\nif pv < time then stop\n", Environment(),
     "cannot compare power (W) with a time of day", 2, 4),
    ('input t: text\nif t < "a" then stop\n', Environment(),
     "< compares numbers or times, found text; use is for choices and texts", 2, 4),
    ('if charging == "yes" then stop\n', Environment(),
     "cannot compare boolean with text", 1, 4),
    ('if mode is "auto" then stop\n', Environment(),
     "mode is a choice: write mode is auto (without quotes)", 1, 12),
    ("if mode is automatic then stop\n", Environment(),
     "automatic is not a mode: expected auto or manual; did you mean auto?", 1, 12),
    ("if mode is on_demand then stop\n", Environment(),
     "on_demand is not a mode: expected auto or manual", 1, 12),
    ("if state is chargin then stop\n", Environment(),
     "chargin is not a state: expected starting, not_connected, connected, charging, "
     "sleeping, disabled, error or offline; did you mean charging?", 1, 13),
    ("input tariff: text\nif tariff is HC then stop\n", Environment(),
     'tariff is a text: quote the value, tariff is "HC"', 2, 14),
    ("if vehicle is yes then stop\n", Environment(),
     "vehicle is true or false: write vehicle or not vehicle", 1, 4),
    ("input pv: W\nif pv is high then stop\n", Environment(),
     "is compares choices and texts, found power (W); use ==, < or > for numbers", 2, 4),
    ("if between 22:00 and 6 then stop\n", Environment(),
     "between times takes times of day like 22:00, found number", 1, 22),
    ('input t: text\nif t between "a" and "b" then stop\n', Environment(),
     "between compares numbers or times, found text", 2, 4),
    ("input pv: W\nif pv between 1 kW and 6 A then stop\n", Environment(),
     "cannot compare power (W) with current (A)", 2, 24),
    ("input pv: W\nlet x = avgg(pv, 5 min)\n", Environment(),
     "unknown function avgg; did you mean avg?", 2, 9),
    ("let x = xyz(1)\n", Environment(),
     "unknown function xyz (functions: min, max, avg, clamp, round, floor, ceil, abs, known, "
     "today, smooth, cheapest, offpeak)", 1, 9),
    ("let x = avg(charging, 5 min)\n", Environment(),
     "avg over a time window takes a number, found boolean", 1, 13),
    ("input pv: W\nlet x = avg(pv, pv)\n", Environment(),
     "avg takes a value and a time window: avg(x, DURATION)", 2, 9),
    ("let x = round(1, 2)\n", Environment(), "round takes one argument: round(x), found 2",
     1, 9),
    ("let x = clamp(1, 2)\n", Environment(),
     "clamp takes 3 arguments: clamp(x, low, high), found 2", 1, 9),
    ("let x = min(1)\n", Environment(),
     "min takes at least 2 arguments: min(a, b, ...) or min(x, DURATION)", 1, 9),
    ('let x = clamp("a", 1, 2)\n', Environment(), "clamp takes numbers, found text", 1, 15),
    ("input pv: W\nlet x = max(pv, 6 A)\n", Environment(),
     "max mixes power (W) with current (A)", 2, 17),
    ("input pv: W\nlet x = max(pv, 6)\n", Environment(),
     "max mixes power (W) with number; write 6 W", 2, 17),
    ('let x = floor("a")\n', Environment(), "floor takes a number, found text", 1, 15),
    ("let x = " + "+".join(["hour"] * 60) + "\n", Environment(),
     "this expression is nested too deeply (more than 40 levels): split it with let", 1, 9),
    ('cron "0 0 31 2 *": start\n', Environment(),
     'invalid cron expression "0 0 31 2 *": it gives no time in 5 years: no month has that day',
     1, 6),
    ("every 0.5 ms:\n    start\n", Environment(),
     "a duration must be at least 1 ms, found 0.5 ms", 1, 7),
    ("if charging for 9000 h then stop\n", Environment(),
     "a duration must be at most 366 days (8784 h), found 9000 h", 1, 17),
    ("let x = 1234567890123456789012345678901\n", Environment(),
     "the number 12345678...45678901 has 31 digits: a number has at most 30", 1, 9),
    ("every 5 min:\n    at 22:00:\n        start\n", Environment(),
     "a trigger block cannot hold another trigger block (a statement has one trigger): put "
     "it at the outer level, or use a condition block (if, while, between) inside", 2, 5),
    ("let x = 6 A if true else 5 W\n", Environment(),
     "both values of `A if C else B` must have one type: found current (A) and power (W)",
     1, 9),
    ("input pv: W\nlet x = pv in (a, b)\n", Environment(),
     "in takes a choice (like weekday or state), found power (W)", 2, 9),
    ("let x = weekday in (sat, sunday, holiday)\n", Environment(),
     "holiday is not one of mon, tue, wed, thu, fri, sat or sun", 1, 34),
    ("let x = hour until 07:00\n", Environment(),
     "until follows time: write time until 07:00, found hour until", 1, 9),
    ("let x = time until 7\n", Environment(),
     "time until takes a time of day like 07:00, found number", 1, 20),
    ("set amps to 40 A\n", Environment(),
     "40 A is outside evse's 6..32 A (the default min_amps..max_amps): the engine would "
     "clamp it to 32 A at every tick", 1, 13),
    ("set amps to 20 A\n", Environment(limits={"evse": (6.0, 16.0)}),
     "20 A is outside evse's 6..16 A (the config's min_amps..max_amps): the engine would "
     "clamp it to 16 A at every tick", 1, 13),
    ("if mode == auto then stop\n", Environment(),
     "unknown name auto: auto is a choice of mode; compare with is, like `mode is auto`",
     1, 12),
    ("let x = today(1 W, 2 W)\n", Environment(),
     "today takes one argument: today(x), like today(total_energy), found 2", 1, 9),
    ("let x = today(true)\n", Environment(), "today takes a number, found boolean", 1, 15),
    ("input pv: W\n", Environment(inputs={"pv": ValueType(Kind.NUMBER, CURRENT)},
                                   origins={"pv": "column pv of day.csv"}),
     "input pv is current (A) by column pv of day.csv, not power (W)", 1, 11),
    ("".join("    " * i + "if true:\n" for i in range(21)) + "    " * 21 + "stop\n",
     Environment(), "blocks nest too deeply (more than 20 levels): join conditions with and",
     21, 81),
    ("let x = 2000000000000000 W\n", Environment(),
     "the number 2000000000000000 is too large: numbers are at most 1,000,000,000,000,000 "
     "(1e15)", 1, 9),
    # share EXPR among CHARGERS (tests/test_share_language.py has the rest)
    ("charger garage, carport\ninput pv: W\nshare pv among garage, shed\n", Environment(),
     "unknown charger shed (chargers: garage, carport)", 3, 24),
    ("charger garage, carport\ninput pv: W\nshare pv among garage, garage\n", Environment(),
     "charger garage is listed twice in this share", 3, 24),
    ("charger garage, carport\ninput pv: W\nshare pv among garage\n"
     "share pv among carport, garage\n", Environment(),
     "charger garage already takes part in the share at t.evr:3:16: a charger is in one "
     "share only", 4, 25),
    ("charger garage, carport\ninput pv: W\nshare pv / 230 V among garage, carport\n",
     Environment(), "share divides a power (W), like pv - house; found current (A)", 3, 7),
    ("charger garage, carport\nshare 3000 among garage, carport\n", Environment(),
     "share divides a power (W), like pv - house; found number; write 3000 W", 2, 7),
    ("charger garage, carport\ninput pv: W\nshare pv among garage, carport\n"
     "if share > 6 A then start garage\n", Environment(),
     "share is ambiguous with several chargers: write garage.share or carport.share", 4, 4),
    ("charger garage, carport\ninput pv: W\nshare pv among garage\n"
     "if carport.share > 6 A then start carport\n", Environment(),
     "carport.share means nothing: no share lists carport (declare one, like "
     "`share pv - house among carport`)", 4, 4),
    ("charger garage, carport\ninput pv: W\nlet early = garage.share\n"
     "share pv among garage, carport\n", Environment(),
     "garage.share comes from the share at t.evr:4:16, which is computed after this: a let "
     "or a share reads only the shares declared above it", 3, 13),
    ("input pv: W\nlet spare = share\n", Environment(chargers=()),
     "share is a charger's part of a share, and no charger is configured", 2, 13),
    # charge plans
    ("plan 20 by 07:00\n", Environment(),
     "plan takes an energy, like 20 kWh; found number; write 20 kWh", 1, 6),
    ("plan -5 kWh by 07:00\n", Environment(),
     "a plan takes more than 0 and at most 1000 kWh, found -5 kWh", 1, 6),
    ("plan 2000 kWh by 07:00\n", Environment(),
     "a plan takes more than 0 and at most 1000 kWh, found 2000 kWh", 1, 6),
    ("var target: kWh = 20 kWh\nplan target by 20 kWh\n", Environment(),
     "the deadline after by must be a time of day, like 07:00; found energy (Wh)", 2, 16),
    ("plan garge 20 kWh by 07:00\n", TWO,
     "unknown charger garge (chargers: garage, carport); did you mean garage?", 1, 6),
    ("plan 20 kWh by 07:00\n", TWO,
     "plan must name its charger when there are several: plan garage 20 kWh by 07:00 or "
     "plan carport 20 kWh by 07:00", 1, 1),
    ("plan garage by 07:00\n", TWO,
     "plan garage needs an energy before by, like plan garage 20 kWh by 07:00", 1, 6),
    ("cancel plan\n", TWO,
     "cancel plan must name its charger when there are several: cancel plan garage or "
     "cancel plan carport", 1, 1),
    ("plan 20 kWh by 07:00\n", NONE, "plan needs a charger, and none is configured", 1, 1),
]


@pytest.mark.parametrize(("source", "env", "message", "line", "col"), CATALOGUE,
                         ids=[c[2][:50] for c in CATALOGUE])
def test_error_catalogue(source: str, env: Environment, message: str, line: int,
                         col: int) -> None:
    found = errors(source, env)
    assert [e.message for e in found] == [message]
    (error,) = found
    assert (error.location.line, error.location.col) == (line, col)
    # Every error renders as FILE:LINE:COL: error: message, the line and a caret under it.
    head, shown, caret = error.render().split("\n")
    assert head == f"t.evr:{line}:{col}: error: {message}"
    assert shown.strip() == source.splitlines()[line - 1].strip()
    assert caret.index("^") == shown.index(shown.strip()) + col - 1 - (
        len(source.splitlines()[line - 1]) - len(source.splitlines()[line - 1].lstrip()))


def test_a_charger_missing_from_the_config_is_reported_once() -> None:
    found = errors("charger garage, carport\nif carport.charging then stop carport\n"
                   "set amps of carport to 6 A\n", CONFIG)
    assert [(e.location.line, e.message) for e in found] == [
        (1, "charger carport is not in the config (chargers: garage)")]


def test_a_config_with_one_charger_named_evse_still_refuses_other_chargers() -> None:
    config = Environment(chargers=("evse",), chargers_from_config=True)
    found = errors("charger garage\nif garage.charging then stop garage\n", config)
    assert [(e.location.line, e.message) for e in found] == [
        (1, "charger garage is not in the config (chargers: evse)")]


def test_declared_chargers_are_read_without_checking(tmp_path: Path) -> None:
    first = tmp_path / "a.evr"
    first.write_text("charger garage, carport\nif nothing then stop garage\n")
    second = tmp_path / "b.evr"
    second.write_text("charger carport, shed\n")
    assert declared_chargers([first, second]) == ("garage", "carport", "shed")
    second.write_text("charger\n")  # a syntax error: loading the files will say so
    assert declared_chargers([first, second, tmp_path / "missing.evr"]) == ("garage", "carport")


def test_an_error_in_a_let_is_not_repeated_where_the_let_is_used() -> None:
    found = errors("let x = nothing + 1\nif x > 3 then stop\nif x then stop\n")
    assert [e.message for e in found] == [
        "unknown name nothing (declare it with `input nothing: UNIT`, or define it with let "
        "or var)"]


# The reference's syntax examples show one line of their file; the whole file is here.
SYNTAX_CATALOGUE: list[tuple[str, str, int, int]] = [
    ("input pv: W\nif pv > then stop\n", "expected an expression, found 'then'", 2, 9),
    ("input pv W\n", "expected ':', found 'W'", 1, 10),
    ("if x then\n", "expected an action (start, stop, set, log, plan or cancel), found end "
     "of line", 1, 10),
    ("if x ! 3 then stop\n", "unexpected character '!'", 1, 6),
    ("every 5 min:\n        start\n    stop\n",
     "this line's indentation matches no enclosing block", 3, 1),
    ("start\n    stop\n", "this line is indented, but the line above opens no block (blocks "
     "open with a trigger and a colon, like `every 5 min:`)", 2, 1),
    ("every 5 min:\nstart\n", "expected an indented block, found 'start'", 2, 1),
    ("let if = 3\n", "expected a name, found 'if'", 1, 5),
    ('log "a } b"\n', "a '}' without its '{' in the log text (write '}}' for a brace)", 1, 8),
    ('log "a { b"\n', "a '{' without its '}' in the log text (write '{{' for a brace)", 1, 8),
    ('log "a {  } b"\n', "empty '{}' in the log text: put a name inside", 1, 8),
    ('log "a {pv +} b"\n', "expected an expression, found '}'", 1, 13),
    ('log "' + "{pv}" * 1001 + '"\n',
     "a log text shows at most 1,000 values: split it into several logs", 1, 4006),
    ("stop garage later\n", "expected 'now' or end of line after stop garage, found 'later'",
     1, 13),
    ("input pv: W\nif mode = auto then stop\n", "expected an operator, ':' or 'then', found "
     "'='; to compare, write is for a choice (mode is auto) or == for numbers", 2, 9),
    ("set amps to 6,5 A\n", "expected an action (start, stop, set, log, plan or cancel), "
     "found '5'; write decimals with a point (6.5): a comma separates actions and arguments",
     1, 15),
    ("input pv: W\nif pv > 1 kW for 3 min and mode is auto then start\n",
     "expected ':' or 'then', found 'and'; for applies to the whole condition before it: put "
     "it in parentheses, like (pv > 1 kW for 3 min) and ...", 2, 24),
    ('log "abc\n', 'a quoted text opens here and is not closed on this line (end it with ")',
     1, 5),
    ("every 5 min:\n\tstart\n    stop\n", "this line's indentation matches no enclosing "
     "block; a tab counts as 8 spaces: indent with spaces only", 3, 1),
    ("plan 20 kWh 07:00\n", "expected an operator or 'by', found '07:00'", 1, 13),
]


@pytest.mark.parametrize(("source", "message", "line", "col"), SYNTAX_CATALOGUE,
                         ids=[c[1][:50] for c in SYNTAX_CATALOGUE])
def test_syntax_error_catalogue(source: str, message: str, line: int, col: int) -> None:
    found = errors(source)
    assert [(e.message, e.location.line, e.location.col) for e in found] == [
        (message, line, col)]


def _reading_errors(tmp_path: Path) -> list[str]:
    """The messages of the reference's 'Reading a file' section, as the checker gives them."""
    latin = tmp_path / "latin.evr"
    latin.write_bytes(b"\xff\xfe")
    found = [check_files([path], DEFAULT_ENVIRONMENT)
             for path in (tmp_path / "missing.evr", latin)]
    return [error.message for errors_of_file in found for error in errors_of_file]


def test_the_language_reference_shows_every_error_message() -> None:
    reference = (Path(__file__).resolve().parent.parent / "docs" / "language.md").read_text()
    missing = [message for _, _, message, _, _ in CATALOGUE
               if message.replace("t.evr", "rules.evr") not in reference]
    assert missing == []


def test_every_error_in_the_language_reference_is_one_the_checker_gives(tmp_path: Path) -> None:
    reference = (Path(__file__).resolve().parent.parent / "docs" / "language.md").read_text()
    catalogue = reference[reference.index("\n## Errors\n"):]
    documented = [(int(line), int(col), message) for line, col, message in re.findall(
        r"^\S+:(\d+):(\d+): error: (.*)$", catalogue, re.MULTILINE)]
    given = {(line, col, message.replace("t.evr", "rules.evr"))
             for _, _, message, line, col in CATALOGUE}
    given |= {(line, col, message) for _, message, line, col in SYNTAX_CATALOGUE}
    given |= {(1, 1, message) for message in _reading_errors(tmp_path)}
    assert len(documented) > 90
    assert [error for error in documented if error not in given] == []


def test_a_byte_order_mark_is_not_part_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notepad.evr"
    path.write_bytes(b"\xef\xbb\xbfinput pv: W\nif pv > 1 kW then start\n")
    assert check_files([path], DEFAULT_ENVIRONMENT) == []


def _reference_rule_blocks() -> list[tuple[int, str]]:
    """The indented rule-file examples of docs/language.md, from 'A file' to 'Errors'."""
    reference = (Path(__file__).resolve().parent.parent / "docs" / "language.md").read_text()
    lines = reference.split("\n")
    first = lines.index("## A file")
    last = lines.index("## Errors")
    blocks: list[tuple[int, str]] = []
    current: list[str] = []
    for number, line in enumerate(lines[first:last], first + 1):
        if line.startswith("    ") or (current and not line.strip()):
            current.append(line[4:])
            continue
        if current:
            blocks.append((number - len(current), "\n".join(current).rstrip() + "\n"))
            current = []
    starts = ("input ", "let ", "var ", "charger ", "if ", "at ", "every ", "cron ", "on ",
              "between ", "while ", "when ")
    return [(number, text) for number, text in blocks if text.startswith(starts)]


@pytest.mark.parametrize(("line", "text"), _reference_rule_blocks(),
                         ids=lambda value: f"line {value}" if isinstance(value, int) else "")
def test_every_rule_example_of_the_language_reference_checks(line: int, text: str) -> None:
    inputs = {"pv": ValueType(Kind.NUMBER, POWER), "house": ValueType(Kind.NUMBER, POWER)}
    if "let surplus =" not in text:      # the examples build on the `let` section's surplus
        inputs["surplus"] = ValueType(Kind.NUMBER, POWER)
    declared = "charger " in text
    env = Environment(inputs=inputs, chargers=() if declared else ("evse",))
    program, found = check_texts([("language.md", text)], env)
    assert found == [], "\n".join(e.render() for e in found)
    assert program is not None


def test_the_language_reference_shows_rule_examples() -> None:
    assert len(_reference_rule_blocks()) >= 7
