"""`check` accepts only what runs: what it refuses is an error at its place, never a crash;
what it accepts compiles in linear time and space, and ticks without raising."""

from __future__ import annotations

import gc
import importlib
import math
import random
import tracemalloc
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evse_rules.cli import main
from evse_rules.errors import SourceError
from evse_rules.language import (
    DEFAULT_ENVIRONMENT,
    ActionKind,
    CompiledProgram,
    Value,
    check_texts,
    declared_chargers,
    load_program_text,
    runtime,
)
from evse_rules.language import checked as checked_module
from evse_rules.language import compile as compile_module
from evse_rules.language import types as types_module
from evse_rules.language.parse import MAX_INTERPOLATIONS

# The module, not the function `check` that evse_rules.language exports under its name.
check_module = importlib.import_module("evse_rules.language.check")
ROOT = Path(__file__).resolve().parent.parent
CLOUDY = str(ROOT / "data" / "cloudy-day.csv")
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
INPUTS = "input pv: W\ninput house: W\n"


def errors(text: str) -> list[SourceError]:
    program, found = check_texts([("t.evr", text)], DEFAULT_ENVIRONMENT)
    assert program is None and found, "expected errors"
    return found


def place(error: SourceError) -> tuple[int, int, str]:
    return error.location.line, error.location.col, error.message


def rendered_at(error: SourceError, text: str) -> None:
    """The error renders as FILE:LINE:COL, the source line, a caret under the place."""
    head, shown, caret = error.render().split("\n")
    loc = error.location
    assert head.startswith(f"t.evr:{loc.line}:{loc.col}: error: ")
    assert shown.strip() == text.splitlines()[loc.line - 1].strip()
    assert caret.strip().startswith("^")


def run_ticks(program: CompiledProgram, ticks: int, step: timedelta,
              start: datetime = T0) -> int:
    """Tick with values that change, go unknown, huge and tiny; return the actions."""
    samples: list[Value] = [0.0, 1500.0, None, 1e15, -1e15, 1e-300, 3.0, math.inf, None, 250.0]
    proposed = 0
    for i in range(ticks):
        values: list[Value] = [
            samples[(i + k) % len(samples)] if e.type.kind.value == "number" else None
            for k, e in enumerate(program.externals)]
        proposed += len(program.tick(start + i * step, values).actions)
    return proposed


# ---- cron expressions that never fire ----------------------------------------------------------


def test_a_cron_that_never_fires_is_an_error_at_its_place() -> None:
    text = 'cron "0 0 31 2 *": log "never"\ncron "0 0 31 4,6,9,11 *": start\n'
    found = errors(text)
    assert [place(e) for e in found] == [
        (1, 6, 'invalid cron expression "0 0 31 2 *": it gives no time in 5 years: no month '
               "has that day"),
        (2, 6, 'invalid cron expression "0 0 31 4,6,9,11 *": it gives no time in 5 years: no '
               "month has that day")]
    for error in found:
        rendered_at(error, text)


@pytest.mark.parametrize("expression", ["0 0 29 2 *", "0 0 31 2 mon", "*/15 * * * *",
                                        "0 22 * * 1-5"])
def test_a_cron_that_fires_rarely_or_by_weekday_is_accepted(expression: str) -> None:
    program, found = check_texts([("t.evr", f'cron "{expression}": start\n')])
    assert found == [] and program is not None


def test_a_cron_trigger_without_a_next_time_never_fails_a_tick() -> None:
    # The checker refuses this expression; the trigger must not fail a tick all the same.
    trigger = runtime.Cron("0 0 31 2 *")
    now = T0
    fired = 0
    for _ in range(3 * 24 * 60):
        n = now.timestamp()
        if n >= trigger.next_n:
            fired += trigger.due(now, n, False)
        now += timedelta(minutes=1)
    assert fired == 0


def test_a_cron_trigger_asks_again_a_day_after_finding_nothing() -> None:
    trigger = runtime.Cron("0 0 31 2 *")
    assert trigger.due(T0, T0.timestamp(), True) is False
    assert trigger.next_n == pytest.approx(T0.timestamp() + runtime.CRON_RETRY)
    later = T0 + timedelta(hours=1)
    assert trigger.next_n > later.timestamp()      # the tick function does not ask it now


def test_a_reload_after_a_refused_cron_keeps_refusing_it(tmp_path: Path) -> None:
    # What a SIGHUP reload does: load the files again; the never-firing cron is refused each
    # time, so the running program is never replaced by one whose ticks would fail.
    path = tmp_path / "rules.evr"
    path.write_text('cron "0 0 30 2 *": start\n')
    for _ in range(2):
        (error,) = check_texts([("t.evr", path.read_text())])[1]
        assert error.message.startswith('invalid cron expression "0 0 30 2 *"')


def test_simulate_with_a_never_firing_cron_prints_the_error_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "never.evr"
    rules.write_text('cron "0 0 31 2 *": log "never"\n')
    code = main(["simulate", str(rules), "--data", CLOUDY])
    out, err = capsys.readouterr()
    assert code != 0
    assert "never.evr:1:6: error: invalid cron expression" in out + err
    assert "Traceback" not in out + err


# ---- durations and numbers -------------------------------------------------------------------

TOO_LONG = "a duration must be at most 366 days (8784 h), found"
TOO_SHORT = "a duration must be at least 1 ms, found"


@pytest.mark.parametrize(("text", "col", "message"), [
    ("every 9000 h: start\n", 7, f"{TOO_LONG} 9000 h"),
    ("every 0.5 ms: start\n", 7, f"{TOO_SHORT} 0.5 ms"),
    ("if pv > 1 W for 1000000000000000 h then stop\n", 17,
     f"{TOO_LONG} 1000000000000000 h"),
    ("if pv > 1 W for 0.0001 s then stop\n", 17, f"{TOO_SHORT} 0.0001 s"),
    ("let x = avg(pv, 527041 min)\n", 17, f"{TOO_LONG} 527041 min"),
    ("let x = smooth(pv, rise 0.9 ms, fall 10 s)\n", 25, f"{TOO_SHORT} 0.9 ms"),
    ("let x = smooth(pv, rise 1 s, fall 31622400.001 s)\n", 35,
     f"{TOO_LONG} 31622400.001 s"),
])
def test_a_duration_outside_1_ms_to_366_days_is_an_error(text: str, col: int,
                                                         message: str) -> None:
    (error,) = errors(INPUTS + text)
    assert place(error) == (3, col, message)
    rendered_at(error, INPUTS + text)


def test_the_longest_and_shortest_durations_run() -> None:
    text = INPUTS + (
        "every 8784 h: start\n"
        "every 1 ms: log \"often\"\n"
        "if pv > 1 W for 31622400 s then stop\n"
        "let a = avg(pv, 527040 min) + smooth(house, rise 1 ms, fall 8784 h)\n"
        "if min(pv, 1 ms) > max(house, 8784 h) then set amps to 6 A\n")
    program = load_program_text(text, "t.evr")
    assert run_ticks(program, 3000, timedelta(seconds=17)) > 0


@pytest.mark.parametrize(("literal", "message"), [
    ("9" * 5000, "the number 99999999...99999999 has 5,000 digits: a number has at most 30"),
    ("1" + "0" * 300, "the number 10000000...00000000 has 301 digits: a number has at most 30"),
    ("0." + "0" * 300 + "1",
     "the number 0.000000...00000001 has 302 digits: a number has at most 30"),
    ("1000000000000001", "the number 1000000000000001 is too large: numbers are at most "
                         "1,000,000,000,000,000 (1e15)"),
])
def test_a_number_too_long_or_too_large_is_an_error_not_a_crash(literal: str,
                                                                 message: str) -> None:
    for text, col in ((f"if pv > {literal} W then stop\n", 9),
                      (f"every {literal} h: start\n", 7),
                      (f"let x = -{literal}\n", 9)):
        (error,) = errors(INPUTS + text)
        assert place(error) == (3, col, message)
        rendered_at(error, INPUTS + text)


def test_the_largest_numbers_run() -> None:
    text = INPUTS + (
        "var big: W = 999999999999999 kW\n"
        "let x = 1000000000000000 kW * 1000000000000000 * 1000000000000000\n"
        "let y = 0.00000000000000000000000000001 W\n"
        "if pv > x / y * 1 W or pv < -1000000000000000 kW then set big to x\n"
        "if pv + x > 0 W then set amps to x / 1 V\n"
        "log \"{x} {y} {big} {round(x / 1 W)} {floor(y / 1 W)}\"\n")
    program = load_program_text(text, "t.evr")
    run_ticks(program, 500, timedelta(minutes=1))


# ---- log texts -------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3000, 100_000])
def test_a_log_text_with_too_many_values_is_an_error_at_the_first_one_too_many(
        count: int) -> None:
    text = INPUTS + 'log "' + "{pv}" * count + '"\n'
    (error,) = errors(text)
    # The 1,001st `{`: after `log "` (5 columns) and 1,000 `{pv}`.
    assert place(error) == (3, 6 + 4 * MAX_INTERPOLATIONS, "a log text shows at most 1,000 "
                                                           "values: split it into several logs")
    rendered_at(error, text)


def test_a_log_text_with_the_most_values_shows_them_all() -> None:
    text = INPUTS + 'if pv > 0 W then log "' + "{pv}," * MAX_INTERPOLATIONS + ' long ' + \
        "x" * 100_000 + '"\n'
    program = load_program_text(text, "t.evr")
    (action,) = program.tick(T0, [1500.0, None]).actions
    assert action.kind is ActionKind.LOG
    assert action.value == "1500 W," * MAX_INTERPOLATIONS + " long " + "x" * 100_000


def test_a_log_value_nested_too_deeply_is_an_error_at_its_place() -> None:
    text = INPUTS + 'log "value: {' + "not " * 3000 + "true}\"\n"
    (error,) = errors(text)
    assert error.message.startswith("this expression is nested too deeply")
    assert error.location.line == 3 and error.location.col > len('log "value: {')
    rendered_at(error, text)


# ---- nesting ---------------------------------------------------------------------------------


def test_parentheses_ten_thousand_deep_are_only_parentheses() -> None:
    text = INPUTS + "if " + "(" * 10_000 + "pv > 1 W" + ")" * 10_000 + " then start\n"
    program = load_program_text(text, "t.evr")
    assert len(program.tick(T0, [1500.0, None]).actions) == 1


@pytest.mark.parametrize(("expression", "col"), [
    ("not " * 10_000 + "(pv > 1 W)", 4),
    ("+".join(["1 W"] * 50_000) + " > pv", 4),
    ("-(" * 10_000 + "pv" + ")" * 10_000 + " > 1 W", 4),
    ("(not " * 5_000 + "true" + ")" * 5_000, 4),
])
def test_deep_nesting_is_an_error_at_its_place(expression: str, col: int) -> None:
    text = INPUTS + f"if {expression} then start\n"
    (error,) = errors(text)
    assert error.message == ("this expression is nested too deeply (more than 40 levels): "
                             "split it with let")
    assert error.location.line == 3 and error.location.col >= col


@pytest.mark.parametrize("tail", [" )\n", " +\n", " then\n"])
def test_a_syntax_error_after_deep_nesting_is_reported(tail: str) -> None:
    text = INPUTS + "let x = " + "not " * 10_000 + "true" + tail
    (error,) = errors(text)
    assert error.location.line == 3
    assert error.message.startswith("expected")


def test_declared_chargers_of_a_deeply_nested_file_are_read(tmp_path: Path) -> None:
    path = tmp_path / "deep.evr"
    path.write_text("charger garage\nlog \"{" + "+".join(["pv"] * 3000) + "}\"\n")
    assert declared_chargers([path]) == ("garage",)


CHAINS = [
    ("-({})", "pv"), ("min({}, pv)", "pv"), ("clamp({}, house, pv)", "pv"),
    ("round({})", "pv"), ("(pv / ({} / house))", "pv"), ("(pv - {})", "pv"),
    ("smooth({}, rise 1 s, fall 2 s)", "pv"), ("avg({}, 1 min)", "pv"),
    ("(pv > 1 W and ({}))", "house > 2 W"), ("(pv > 1 W) == ({})", "house > 2 W"),
    ("(({}) for 1 min)", "pv > 0 W"), ("known(pv) == ({})", "true"),
]


@pytest.mark.parametrize(("wrap", "leaf"), CHAINS, ids=[c[0] for c in CHAINS])
def test_the_deepest_expressions_check_accepts_compile_and_tick(wrap: str, leaf: str) -> None:
    def nested(levels: int) -> str:
        expression = leaf
        for _ in range(levels):
            expression = wrap.format(expression)
        return expression

    levels = 1
    while check_texts([("t.evr", INPUTS + f"let x = {nested(levels + 1)}\n")])[0] is not None:
        levels += 1
    assert levels >= 13     # each level of the chain is one to three levels of expression
    boolean = leaf.endswith("W") or leaf == "true"
    text = INPUTS + (f"let x = {nested(levels)}\n"
                     f"if {'x' if boolean else 'x > 0 W'} then start else stop\n"
                     "log \"{x}\"\n")
    program = load_program_text(text, "t.evr")
    run_ticks(program, 300, timedelta(seconds=30))


def test_a_boolean_value_compiles_to_code_linear_in_its_depth() -> None:
    def source(levels: int) -> int:
        expression = "p"
        for _ in range(levels):
            expression = f"(p == {expression})"
        program = load_program_text(f"var p: boolean = true\nlet x = {expression}\n", "t.evr")
        assert program.tick(T0, [True]).lets["x"] is True
        return len(program.source)

    # Written in place, each level held its operand's code twice: 2**levels.
    assert source(12) < 3 * source(6)


# ---- whatever check accepts runs: a replay of it finishes --------------------------------------

EDGES = INPUTS + (
    'cron "0 0 29 2 *": log "leap day"\n'
    'cron "*/7 * * * *": log "pv {pv} {smooth(pv, rise 1 ms, fall 8784 h)} '
    '{avg(pv, 8784 h)}"\n'
    "every 8784 h: start\n"
    "every 1 ms: log \"{999999999999999 kWh}\"\n"
    "if pv > 999999999999999 kW for 8784 h then stop\n"
    "if (pv > 0 W) == ((house > 0 W) == (pv > house)) then set amps to 6 A\n"
    "let ratio = pv / house\n"
    "if ratio > 1000000000000000 or ratio < -1000000000000000 then log \"{ratio}\"\n")


def test_a_replay_of_the_edges_check_accepts_finishes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "edges.evr"
    rules.write_text(EDGES)
    code = main(["simulate", str(rules), "--data", CLOUDY, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert '"ticks": 1440' in out


@pytest.mark.parametrize("zone", [UTC, ZoneInfo("Europe/Paris"), timezone(timedelta(hours=5))],
                         ids=str)
def test_many_ticks_of_the_edges_raise_nothing(zone: timezone | ZoneInfo) -> None:
    program = load_program_text(EDGES, "t.evr")
    start = datetime(2027, 10, 30, 0, 0, tzinfo=zone)     # over a change of the clock
    assert run_ticks(program, 5000, timedelta(minutes=1), start) > 0
    program.reset()
    run_ticks(program, 500, timedelta(days=3), start)     # past a 29th of February


# ---- a linear compiler -------------------------------------------------------------------------

TEMPLATES = [
    "if mode is auto and pv > {w} W then set amps to (pv - house) / voltage",
    "if avg(pv, {m} min) < {w} W for {m} min then stop",
    "if state is charging and power > {w} W then log \"power {{power}}\"",
    "every {m} min:\n    if pv > {w} W for {m} min then start",
    "cron \"*/{m} * * * *\": log \"pv is {{pv}}\"",
]


def generated(statements: int) -> str:
    lines = [INPUTS.rstrip("\n")]
    for i in range(statements):
        lines.append(TEMPLATES[i % len(TEMPLATES)].format(w=500 + i % 2000, m=1 + i % 29))
    return "\n".join(lines) + "\n"


def retained_per_statement(statements: int) -> float:
    """Bytes a compiled program keeps per statement (tracemalloc, after collection)."""
    text = generated(statements)
    gc.collect()
    tracemalloc.start()
    try:
        program = load_program_text(text, "t.evr")
        gc.collect()
        size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(program.rules) == statements
    return size / statements


def test_a_compiled_program_keeps_memory_linear_in_its_statements() -> None:
    # A statement's function compiled on first use once kept the program's whole source
    # before it (as padding for line numbers): memory grew with the square of the length.
    small = retained_per_statement(200)
    large = retained_per_statement(1000)
    assert large < 1.3 * small, (small, large)


def test_a_tick_in_parts_gives_what_one_tick_function_gives(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A long file's statements run in parts the tick calls; the results are the same.
    text = generated(60) + "let s = pv - house\nif s > 100 W then set amps to s / voltage\n"
    whole = load_program_text(text, "t.evr")
    monkeypatch.setattr(compile_module, "_PART_STATEMENTS", 7)
    parts = load_program_text(text, "t.evr")
    assert "def part_0(" in parts.source and "def part_0(" not in whole.source
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for i in range(400):
        values: list[Value] = [
            [0.0, 1500.0, None, 3000.0][(i + k) % 4] if e.type.kind.value == "number" else
            ["auto", "charging", None][(i + k) % 3] for k, e in enumerate(whole.externals)]
        now = start + timedelta(minutes=7 * i)
        one, other = whole.tick(now, values), parts.tick(now, values)
        # The formatters of the reasons are each program's own: compare what they show.
        assert [(a.kind, a.rule, a.charger, a.name, a.value, a.values) for a in one.actions] \
            == [(a.kind, a.rule, a.charger, a.name, a.value, a.values) for a in other.actions]
        assert one.fired == other.fired and one.lets == other.lets


def test_line_numbers_are_lines_of_the_source_when_compiled_in_batches(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compile_module, "_BATCH_LINES", 10)
    monkeypatch.setattr(compile_module, "_PART_STATEMENTS", 5)
    text = generated(40) + "let s = pv - house\nlet t = s * 2\n"
    program = load_program_text(text, "t.evr")
    lines = program.source.splitlines()
    namespace = program.tick_at.__globals__
    functions = [f for name, f in namespace.items()
                 if name.startswith(("part_", "let_", "tick")) and callable(f)]
    functions += [program.rule_function(i) for i in (0, 17, 39)]
    assert len(functions) > 10
    for function in functions:
        code = function.__code__
        assert lines[code.co_firstlineno - 1].startswith(f"def {function.__name__}(")
        # Every line of its code is a line of its own body.
        end = next((j for j in range(code.co_firstlineno, len(lines))
                    if lines[j].startswith("def ")), len(lines))
        assert all(code.co_firstlineno <= line <= end
                   for _, _, line in code.co_lines() if line is not None)


def test_many_misspelt_names_among_many_names_are_checked_with_bounded_hints(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # "Did you mean" compared each misspelling with every declared name: 4,000 of each took
    # over two minutes. The comparisons of a check are bounded; the first errors keep hints.
    compared: list[int] = []
    real = checked_module.did_you_mean

    def counting(word: str, candidates: Iterable[str]) -> str:
        pool = list(candidates)
        compared.append(len(pool))
        return real(word, pool)

    monkeypatch.setattr(types_module, "did_you_mean", counting)
    monkeypatch.setattr(check_module, "did_you_mean", counting)
    names = 4000
    text = "".join(f"input meter{i}: W\n" for i in range(names)) + "".join(
        f"if meterx{i} > 0 W then stop\n" for i in range(names))
    found = errors(text)
    assert len(found) == names
    assert sum(compared) <= types_module.HINT_BUDGET
    assert found[0].message == "unknown name meterx0; did you mean meter0?"
    assert found[-1].message == (f"unknown name meterx{names - 1} (declare it with `input "
                                 f"meterx{names - 1}: UNIT`, or define it with let or var)")


def test_ticks_through_the_last_day_a_datetime_holds_raise_nothing() -> None:
    program = load_program_text('at 22:00: start\ncron "0 22 * * *": stop\n'
                                'every 1 min: log "x"\n', "t.evr")
    start = datetime(9999, 12, 31, 21, 0, tzinfo=UTC)
    kinds = [action.kind for i in range(170)
             for action in program.tick(start + timedelta(minutes=i),
                                        [None] * len(program.externals)).actions]
    assert kinds.count(ActionKind.START) == 1 and kinds.count(ActionKind.STOP) == 1
    assert kinds.count(ActionKind.LOG) == 170


def test_loading_pauses_the_collector_and_leaves_it_as_it_was(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The cyclic collector pauses while a program is built (it rescanned the growing tree
    # again and again); afterwards it runs again, whatever the outcome.
    language = importlib.import_module("evse_rules.language")
    running: list[bool] = []
    real_check = language.check

    def check(*args: Any) -> Any:
        running.append(gc.isenabled())
        return real_check(*args)

    monkeypatch.setattr(language, "check", check)
    for text in ("input pv: W\nif pv > 1 W then start\n", "if nothing then start\n"):
        check_texts([("t.evr", text)])
        assert gc.isenabled()
    check_texts([("t.evr", "let x = (\n")])        # a syntax error: never checked
    assert gc.isenabled()
    assert running == [False, False]
    gc.disable()
    try:
        check_texts([("t.evr", "input pv: W\n")])
        assert not gc.isenabled()
    finally:
        gc.enable()


# ---- property: whatever check accepts ticks without raising ------------------------------------

CRON_FIELDS = (["*", "*/15", "0", "59", "0-59/7"], ["*", "0", "23", "*/5"],
               ["*", "1", "29", "30", "31"], ["*", "2", "4,6,9,11", "12", "1-12/5"],
               ["*", "*", "*", "mon", "sat,sun"])
# Durations and numbers check accepts, and (rarely drawn) some it refuses.
DURATIONS = ["1 ms", "1 s", "5 min", "8784 h", "527040 min", "31622400 s"]
BAD_DURATIONS = ["0.5 ms", "8785 h", "0 s", "31622401 s"]
NUMBERS = ["0", "1", "0.00000000000000000000000000001", "999999999999999", "1000000000000000",
           "1234567890.12345678901234567890", "12.5"]
BAD_NUMBERS = ["1000000000000001", "1" + "0" * 40]
VALUES: list[Value] = [None, 0.0, -0.0, 1.0, -1.0, 1500.0, 1e15, -1e15, 1e300, 1e-300,
                       math.inf, -math.inf, math.nan]
POWER = ["pv", "house", "(pv - house)", "smooth(pv, rise {d}, fall {d})", "avg(pv, {d})",
         "max(house, {d})", "{n} W", "-{n} kW", "(pv * {n} / house) * 1 W",
         "round(pv / {n} W) * 1 W", "clamp(pv, -house, {n} W)", "abs(house / pv) * 1 W"]
CONDITIONS = ["{p} > {p}", "{p} == {p}", "not ({p} <= 0)", "({p} > 0 for {d})",
              "({c}) == ({c})", "{p} between {p} and {p}", "known({p})", "({c}) or ({c})"]


def _filled(rng: random.Random, template: str, depth: int = 0) -> str:
    out = template
    while any(hole in out for hole in ("{p}", "{c}", "{d}", "{n}")):
        out = out.replace("{d}", rng.choice(BAD_DURATIONS if rng.random() < 0.02
                                            else DURATIONS), 1)
        out = out.replace("{n}", rng.choice(BAD_NUMBERS if rng.random() < 0.02 else NUMBERS), 1)
        if "{p}" in out:
            out = out.replace("{p}", _filled(rng, rng.choice(POWER[:3] if depth > 2 else POWER),
                                             depth + 1), 1)
        if "{c}" in out:
            out = out.replace("{c}", _filled(rng, rng.choice(CONDITIONS[:3] if depth > 2
                                                             else CONDITIONS), depth + 1), 1)
    return out


def random_file(rng: random.Random) -> str:
    lines = [INPUTS.rstrip("\n"), "var flag: boolean = false"]
    for i in range(rng.randint(1, 6)):
        cron = " ".join(rng.choice(field) for field in CRON_FIELDS)
        trigger = rng.choice(["", f'cron "{cron}": ', f"every {_filled(rng, '{d}')}: ",
                              "at 23:59: ", "on change of flag: "])
        condition = _filled(rng, rng.choice(CONDITIONS))
        action = rng.choice(["start", "stop", "set amps to pv / voltage",
                             f"set flag to ({condition})", 'log "{pv} {flag} {time}"',
                             f"log \"{{{_filled(rng, '{p}')}}}\""])
        lines.append(f"{trigger}if {condition} then {action}")
        if rng.random() < 0.3:
            lines.append(f"let v{i} = {_filled(rng, '{p}')}")
    return "\n".join(lines) + "\n"


@settings(max_examples=100, deadline=None)
@given(st.randoms(use_true_random=False))
def test_whatever_check_accepts_ticks_without_raising(rng: random.Random) -> None:
    text = random_file(rng)
    program, found = check_texts([("t.evr", text)])
    for error in found:           # refused: each at a place of the file, with its line
        assert 0 < error.location.line <= len(text.splitlines()) and error.source_line
    if program is None:
        return
    zone = rng.choice([UTC, ZoneInfo("Europe/Paris"), timezone(timedelta(hours=-5))])
    now = datetime(2028, 2, 28, 23, 0, tzinfo=zone)
    for _ in range(150):
        values = [rng.choice(VALUES if e.type.kind.value == "number" else
                             [None, *e.type.choices] if e.type.kind.value == "enum" else
                             [None, True, False]) for e in program.externals]
        program.tick(now, values)
        now += timedelta(seconds=rng.choice([1, 59, 3600, 86400 * 30]))
