"""Property tests: whatever the text, loading it gives a program or RuleFileErrors, never
another exception; and a program that loads ticks without raising, whatever it is fed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Lark

from evse_rules.errors import RuleFileErrors
from evse_rules.language import Environment, Kind, Value, ValueType, load_program_text
from evse_rules.language.parse import build_reference_parser, parse_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = [p.read_text() for p in sorted((ROOT / "rules").glob("*.evr"))]
ENVS = [Environment(), Environment(chargers=("garage", "carport")),
        Environment(inputs={"pv": ValueType(Kind.NUMBER)}, chargers=())]

WORDS = [
    "input", "let", "var", "charger", "if", "then", "else", "start", "stop", "set", "to", "of",
    "log", "every", "at", "on", "cron", "change", "for", "and", "or", "not", "is", "between",
    "true", "false", "smooth", "rise", "fall", "pv", "house", "mode", "auto", "manual", "amps",
    "state", "charging", "voltage", "power", "garage", "carport", "time", "weekday", "mon",
    "avg", "min", "max", "clamp", "round", "known", "W", "kW", "A", "V", "min", "h", "s", "%",
    "kWh", "text", "boolean", "number", "1400", "0", "6.5", "22:00", "06:00", "99:99",
    '"HC"', '"0 22 * * 1-5"', '"* *"', '"{pv}"', '"{"', ":", ",", ".", "=", "==", "<", ">=",
    "+", "-", "*", "/", "(", ")", "\n", "\n    ", "\n        ", "#", "\\\n", "!", "\t",
]

# Local to these tests (a loaded profile would change every other module's settings too).
LANGUAGE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _values_for(kind: Kind, data: st.DataObject) -> Value:
    draw = data.draw
    if kind is Kind.BOOLEAN:
        return draw(st.one_of(st.none(), st.booleans()))
    if kind in (Kind.TEXT, Kind.ENUM):
        return draw(st.one_of(st.none(), st.sampled_from(["auto", "manual", "charging", "x"])))
    return draw(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)))


def load_or_refuse(text: str, env: Environment, data: st.DataObject | None = None) -> bool:
    """Load `text`: either it loads and ticks (True), or its errors are well formed (False)."""
    try:
        program = load_program_text(text, "p.evr", env)
    except RuleFileErrors as errors:
        assert errors.errors
        lines = max(1, len(text.splitlines()))
        for error in errors.errors:
            rendered = error.render()
            assert rendered.startswith(f"{error.location.file}:{error.location.line}:")
            # Every error points into the file (a missing end may point just past it).
            assert 1 <= error.location.line <= lines + 1, rendered
            assert error.location.col >= 1, rendered
        return False
    # A program that loads must tick, whatever its values (unknown, NaN, infinite, ...).
    now = datetime(2026, 6, 6, 21, 58, tzinfo=UTC)
    for step in range(3):
        if data is None:
            row: list[Value] = [None] * len(program.externals)
        else:
            row = [_values_for(e.type.kind, data) for e in program.externals]
        program.tick(now + timedelta(minutes=step), row)
    return True


@LANGUAGE
@given(st.lists(st.sampled_from(WORDS), max_size=40), st.sampled_from(ENVS), st.data())
def test_random_token_soup_loads_or_raises_rule_file_errors(words: list[str], env: Environment,
                                                             data: st.DataObject) -> None:
    load_or_refuse(" ".join(words), env, data)


@LANGUAGE
@given(st.text(max_size=200), st.sampled_from(ENVS))
def test_random_text_loads_or_raises_rule_file_errors(text: str, env: Environment) -> None:
    load_or_refuse(text, env)


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(EXAMPLES))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        at = draw(st.integers(0, len(text) - 1))
        how = draw(st.sampled_from(["delete", "insert", "replace", "word"]))
        if how == "delete":
            end = at + draw(st.integers(1, 8))
            text = text[:at] + text[end:]
        elif how == "insert":
            text = text[:at] + draw(st.sampled_from(WORDS)) + text[at:]
        elif how == "replace":
            text = text[:at] + draw(st.characters()) + text[at + 1:]
        else:
            text = text[:at] + " " + draw(st.sampled_from(WORDS)) + " " + text[at:]
    return text


@LANGUAGE
@given(mutated_example(), st.sampled_from(ENVS[:2]), st.data())
def test_mutated_examples_load_or_raise_rule_file_errors(text: str, env: Environment,
                                                          data: st.DataObject) -> None:
    load_or_refuse(text, env, data)


@LANGUAGE
@given(st.sampled_from(EXAMPLES), st.data())
def test_examples_tick_on_any_values(text: str, data: st.DataObject) -> None:
    # The examples must load: a refused example would pass without a single tick.
    assert load_or_refuse(text, Environment(), data)


@lru_cache(maxsize=1)
def _reference_parser() -> Lark:
    return build_reference_parser()


@LANGUAGE
@given(st.one_of(mutated_example(), st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join)))
def test_the_fast_lexer_accepts_nothing_the_grammar_rejects(text: str) -> None:
    """The production parser scans with its own lexer (for speed): whatever it accepts, the
    grammar read through Lark's contextual lexer and indenter accepts too. (Not the other
    way round: the contextual lexer splits a keyword glued to a name, `mode isauto`, which
    the fast lexer refuses on purpose: keywords are whole words.)"""
    text += "\n"
    _tree, errors = parse_text(text, "p.evr")
    if errors:
        return
    _reference_parser().parse(text, start="start")   # raises if the grammar rejects it
