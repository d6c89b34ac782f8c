"""Fuzzing the rules language: whatever the text, `check_texts` (the entry point of `check`,
`load_program` and the daemon's reload) gives a program or SourceErrors, and raises nothing;
`load_program_text` raises RuleFileErrors and nothing else; a text that checks runs 50 ticks
of `Program.tick` without raising, whatever its inputs read (unknown, NaN, infinite, huge).

Three sources of text: token soups from the language's own words and extreme numbers,
mutations of the example files in rules/ (tokens deleted, doubled, swapped, replaced,
numbers made extreme), and nestings thousands deep. Bounded for CI: FUZZ_SCALE=10 hunts
ten times longer.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from evse_rules.errors import RuleFileErrors
from evse_rules.language import (
    CompiledProgram,
    Environment,
    Kind,
    Value,
    ValueType,
    check_texts,
    load_program_text,
)

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
SOUPS, MUTANTS, COMMANDS = 150 * SCALE, 150 * SCALE, 40 * SCALE
NESTING_DEPTHS = (100, 1_000, 20_000)
TICKS = 50

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {p.name: p.read_text() for p in sorted((ROOT / "rules").glob("*.evr"))}
ENVS = (
    Environment(),
    Environment(chargers=("garage", "carport")),
    Environment(inputs={"pv": ValueType(Kind.NUMBER), "tariff": ValueType(Kind.TEXT)},
                chargers=()),
)

EXTREME_NUMBERS = ["1e400", "-1e400", "1e308", "99999999999999999999999999999999", "0",
                   "-0", "0.0000000001", "1" * 5000, "1e-400", "nan", "inf"]
WORDS = [
    "input", "let", "var", "charger", "if", "then", "else", "start", "stop", "set", "to", "of",
    "log", "every", "at", "on", "cron", "change", "for", "and", "or", "not", "is", "between",
    "when", "while", "true", "false", "smooth", "rise", "fall", "pv", "house", "mode", "auto",
    "manual", "amps", "state", "charging", "voltage", "power", "garage", "carport", "time",
    "weekday", "weekend", "avg", "min", "max", "clamp", "round", "floor", "ceil", "abs",
    "W", "kW", "A", "V", "h", "s", "%", "kWh", "Wh", "text", "boolean", "number", "1400",
    "6.5", "22:00", "06:00", "24:00", "99:99", '"HC"', '"0 22 * * 1-5"', '"* * * * * * *"',
    '"{pv}"', '"{"', '"}"', ":", ",", ".", "=", "==", "!=", "<", ">=", "+", "-", "*", "/",
    "(", ")", "\n", "\n    ", "\n        ", "#", "\\\n", "!", "\t", "\x00", "é", "\u202e",
    *EXTREME_NUMBERS,
]



def event(what: str) -> None:
    """Count `what` in hypothesis's statistics (the parametrized cases run outside it)."""
    if currently_in_test_context():
        hypothesis_event(what)


def fuzz(cases: int) -> settings:
    """`cases` examples, no deadline (a loaded CI machine is slow, not wrong)."""
    return settings(max_examples=cases, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


NUMBERS: tuple[float | None, ...] = (None, float("nan"), float("inf"), float("-inf"), 0.0, -0.0,
                                    1e308, -1e308, 5e-324, 6.0, 16.0, 240.0, 3000.0, -3000.0)
TEXTS = (None, "auto", "manual", "charging", "sleeping", "HC", "", "x" * 1000)
STEPS = (timedelta(seconds=1), timedelta(minutes=1), timedelta(minutes=1), timedelta(minutes=5),
         timedelta(hours=1), timedelta(days=1))


def _value(kind: Kind, rnd: random.Random) -> Value:
    """An input's value as sources give them: unknown, extreme, ordinary."""
    if kind is Kind.BOOLEAN:
        return rnd.choice((None, True, False))
    if kind in (Kind.TEXT, Kind.ENUM):
        return rnd.choice(TEXTS)
    if rnd.random() < 0.3:
        return rnd.uniform(-5000.0, 5000.0)
    return rnd.choice(NUMBERS)


def _run(text: str, env: Environment, data: st.DataObject | random.Random) -> None:
    """Check `text`; when it checks, run TICKS ticks with drawn inputs. Anything raised that
    is not an EvseRulesError fails the test (hypothesis shows the text)."""
    program, errors = check_texts([("fuzz.evr", text)], env)
    event("checks, ticked" if program is not None else "refused")
    if program is None:
        assert errors, "no program and no error"
        for error in errors:
            assert error.location.line >= 1 and error.location.col >= 1, error.render()
        try:
            load_program_text(text, "fuzz.evr", env)
        except RuleFileErrors:
            pass
        else:
            raise AssertionError("check refused the text but load_program_text took it")
        return
    assert errors == []
    _ticks(program, data)


def _ticks(program: CompiledProgram, data: st.DataObject | random.Random) -> None:
    if isinstance(data, random.Random):
        rnd = data
        now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    else:
        now = data.draw(st.datetimes(min_value=datetime(2000, 1, 1),
                                     max_value=datetime(2090, 1, 1), timezones=st.just(UTC)),
                        label="start")
        rnd = data.draw(st.randoms(use_true_random=False), label="inputs")
    kinds = [e.type.kind for e in program.externals]
    for _ in range(TICKS):
        program.tick(now, [_value(kind, rnd) for kind in kinds])
        now += rnd.choice(STEPS)


@fuzz(SOUPS)
@given(st.lists(st.sampled_from(WORDS), max_size=60), st.sampled_from(ENVS), st.data())
def test_a_token_soup_checks_or_gives_source_errors(words: list[str], env: Environment,
                                                   data: st.DataObject) -> None:
    _run(" ".join(words), env, data)


TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z_0-9]*|\d+(?:\.\d+)?|\"[^\"\n]*\"|#[^\n]*|.")


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, str]:
    """An example file with a few of its tokens changed."""
    name = draw(st.sampled_from(sorted(EXAMPLES)))
    tokens = TOKEN.findall(EXAMPLES[name])
    for _ in range(draw(st.integers(1, 6))):
        if not tokens:
            break
        at = draw(st.integers(0, len(tokens) - 1))
        how = draw(st.sampled_from(["delete", "double", "replace", "swap", "number", "cut"]))
        if how == "delete":
            del tokens[at]
        elif how == "double":
            tokens.insert(at, tokens[at])
        elif how == "replace":
            tokens[at] = draw(st.sampled_from(WORDS))
        elif how == "swap":
            other = draw(st.integers(0, len(tokens) - 1))
            tokens[at], tokens[other] = tokens[other], tokens[at]
        elif how == "number":
            numbers = [i for i, t in enumerate(tokens) if t[:1].isdigit()]
            if numbers:
                tokens[draw(st.sampled_from(numbers))] = draw(st.sampled_from(EXTREME_NUMBERS))
        else:
            tokens = tokens[:at]
    return name, "".join(tokens)


def test_the_examples_check_as_they_are() -> None:
    # The mutants start from files that check: what breaks is the mutation.
    for name, text in EXAMPLES.items():
        assert any(check_texts([(name, text)], env)[0] is not None for env in ENVS), name


@fuzz(MUTANTS)
@given(mutants(), st.sampled_from(ENVS), st.data())
def test_a_mutated_example_checks_or_gives_source_errors(mutant: tuple[str, str],
                                                        env: Environment,
                                                        data: st.DataObject) -> None:
    _run(mutant[1], env, data)


NESTINGS_OF = {
    "parentheses": lambda n: "let x = " + "(" * n + "1" + ")" * n + "\n",
    "minus": lambda n: "let x = " + "-" * n + "1\n",
    "not": lambda n: "let x = " + "not " * n + "true\n",
    "sum": lambda n: "let x = " + " + ".join(["1 W"] * n) + "\n",
    "and": lambda n: "let x = " + " and ".join(["true"] * n) + "\n",
    "calls": lambda n: "let x = " + "abs(" * n + "1" + ")" * n + "\n",
    # Indented blocks grow as the square of the depth: 1,000 levels are 2 MB of text.
    "blocks": lambda n: "".join("    " * i + "if true:\n" for i in range(min(n, 1_000)))
    + "    " * min(n, 1_000) + "stop\n",
    "else": lambda n: "if true then stop " + "else if true then stop " * n + "\n",
}


@pytest.mark.parametrize("depth", NESTING_DEPTHS)
@pytest.mark.parametrize("kind", sorted(NESTINGS_OF))
def test_a_deep_nesting_checks_or_gives_source_errors(kind: str, depth: int) -> None:
    _run(NESTINGS_OF[kind](depth), ENVS[0], random.Random(depth))


@fuzz(COMMANDS)
@given(mutants())
def test_evse_rules_check_on_a_mutated_file_says_ok_or_errors_never_a_traceback(
        mutant: tuple[str, str]) -> None:
    from evse_rules.cli import main

    with tempfile.TemporaryDirectory(prefix="fuzz-check-") as folder:
        path = Path(folder) / mutant[0]
        path.write_text(mutant[1], encoding="utf-8", errors="surrogatepass")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["check", str(path)])
    said = out.getvalue() + err.getvalue()
    assert code in (0, 1), said
    assert "Traceback" not in said and "internal error" not in said, said
    assert (code == 0) == ("error:" not in err.getvalue()), said
