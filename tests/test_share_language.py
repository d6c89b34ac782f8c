"""`share EXPR among garage, carport`: what each charger's share is at a tick, by priority,
with unknown values; the check-time errors; and an engine tick where a surplus that fits
one charger starts only the first."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from evse_rules.chargers.base import ChargerState
from evse_rules.engine import ChargerSettings, Engine
from evse_rules.engine.results import CommandKind
from evse_rules.language import check_texts, load_program_text
from evse_rules.language.parse import parse_text
from evse_rules.language.program import Environment, Value
from tests.engine_fakes import status

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TWO = "charger garage, carport\ninput pv: W\n"

# A charger plugged in, not charging, in auto mode, 230 V single phase, 6..32 A.
IDLE: dict[str, Value] = {"voltage": 230.0, "phases": 1.0, "min_amps": 6.0, "max_amps": 32.0,
                          "charging": False, "vehicle": True, "mode": "auto"}


def lets(source: str, pv: Value, **chargers: Mapping[str, Value]) -> dict[str, Value]:
    """The let values of one tick of `source` with input pv and each charger's properties
    (IDLE, changed by what is given)."""
    program = load_program_text(source, "t.evr")
    values: dict[str, Value] = {"pv": pv}
    for name in program.chargers:
        for prop, value in {**IDLE, **chargers.get(name, {})}.items():
            values[f"{name}.{prop}"] = value
    row = [values.get(external.name) for external in program.externals]
    return program.tick(NOW, row).lets


def shares(source: str, pv: Value, **chargers: Mapping[str, Value]) -> tuple[Value, ...]:
    found = lets(source, pv, **chargers)
    return tuple(found[f"{name}.share"] for name in ("garage", "carport"))


SHARED = TWO + "share pv among garage, carport\n"


def test_the_first_charger_has_first_claim_as_soon_as_its_minimum_fits() -> None:
    # 2300 W fits the garage's 6 A minimum (1380 W): it claims all 10 A, nothing is left.
    assert shares(SHARED, 2300.0) == (10.0, 0.0)
    # Below the garage's minimum it claims nothing: the carport is offered the same.
    assert shares(SHARED, 1150.0) == (5.0, 5.0)


def test_a_charger_takes_at_most_its_maximum_and_the_next_gets_the_rest() -> None:
    assert shares(SHARED, 9200.0, garage={"max_amps": 16.0}) == (40.0, 24.0)
    found = lets(SHARED, 9200.0, garage={"max_amps": 16.0})
    assert found["garage.available"] == 9200.0
    assert found["carport.available"] == pytest.approx(9200.0 - 16 * 230.0)


def test_a_charging_charger_keeps_its_share_even_below_its_minimum() -> None:
    # Charging on 4 A of surplus (its rules' stop hysteresis runs): it keeps all of it.
    assert shares(SHARED, 920.0, garage={"charging": True}) == (4.0, 0.0)


def test_a_charger_that_cannot_start_leaves_the_surplus_to_the_next() -> None:
    for garage in ({"vehicle": False}, {"mode": "manual"}, {"vehicle": None}):
        assert shares(SHARED, 2300.0, garage=garage) == (10.0, 10.0), garage
    # Charging by hand (manual mode): it keeps what it draws.
    assert shares(SHARED, 2300.0, garage={"mode": "manual", "charging": True}) == (10.0, 0.0)


def test_an_offline_charger_claims_nothing_and_an_unknown_surplus_shares_nothing() -> None:
    offline = {"voltage": None, "charging": None, "vehicle": None}
    assert shares(SHARED, 2300.0, garage=offline) == (None, 10.0)
    assert shares(SHARED, None) == (None, None)


def test_three_phases_and_the_defaults_of_a_program_ticked_alone() -> None:
    assert shares(SHARED, 6900.0, garage={"phases": 3.0, "max_amps": 8.0}) == (10.0, 6.0)
    # Without limits or phases (no engine gives them): 6 A, 32 A and one phase.
    unknown = {"min_amps": None, "max_amps": None, "phases": None}
    assert shares(SHARED, 9200.0, garage=unknown) == (40.0, 8.0)
    assert shares(SHARED, 1150.0, garage=unknown) == (5.0, 5.0)


def test_three_chargers_in_a_chain() -> None:
    source = ("charger a, b, c\ninput pv: W\nshare pv among a, b, c\n"
              "if c.share > 6 A then start c\n")
    limited = {"max_amps": 10.0}
    found = lets(source, 6900.0, a=limited, b=limited)
    assert [found[f"{n}.share"] for n in "abc"] == [30.0, 20.0, 10.0]


def test_the_share_expression_may_be_any_power_and_lets_read_the_shares() -> None:
    source = (TWO + "input house: W\nlet surplus = pv - house\nshare surplus among garage, "
              "carport\nlet spare = carport.share * carport.voltage\n"
              "if garage.share > 6 A then start garage\n")
    program = load_program_text(source, "t.evr")
    assert program.lets == ("surplus", "garage.available", "garage.share",
                            "carport.available", "carport.share", "spare")


def test_a_bare_share_with_one_charger() -> None:
    program = load_program_text("input pv: W\nshare pv among evse\nif share >= 6 A then start\n"
                                "set amps to share\n", "t.evr")
    values = {"pv": 2300.0, **{f"evse.{k}": v for k, v in IDLE.items()}}
    result = program.tick(NOW, [values.get(e.name) for e in program.externals])
    assert [(a.kind.value, a.value) for a in result.actions] == [("start", None),
                                                                 ("set_amps", 10.0)]


# ---- in an engine tick: a surplus that fits one starts one ------------------------------

NATURAL = """charger garage, carport
input pv: W
if garage.mode is auto:
    if pv / garage.voltage >= 6 A then start garage
if carport.mode is auto:
    if pv / carport.voltage >= 6 A then start carport
"""
WITH_SHARE = """charger garage, carport
input pv: W
share pv among garage, carport
if garage.mode is auto:
    if garage.share >= 6 A then start garage
if carport.mode is auto:
    if carport.share >= 6 A then start carport
"""


def started(source: str, pv: float) -> list[str]:
    program = load_program_text(source, "t.evr")
    engine = Engine(program, [ChargerSettings("garage"), ChargerSettings("carport")])
    for name in ("garage", "carport"):
        engine.store.set_mode(name, "auto")
        engine.store.set_charger(name, status(ChargerState.SLEEPING), NOW)
    engine.store.set_input("pv", pv, NOW)
    return [c.charger for c in engine.step(NOW).commands if c.kind is CommandKind.START]


def test_a_surplus_that_fits_one_charger_starts_only_the_first() -> None:
    one = 1.5 * 6 * 240.0          # status() reports 240 V: half again the minimum power
    assert started(NATURAL, one) == ["garage", "carport"]     # what `share` is for
    assert started(WITH_SHARE, one) == ["garage"]
    # Enough for both (the garage takes its 32 A, the carport the rest): both start.
    assert started(WITH_SHARE, (32 + 6) * 240.0) == ["garage", "carport"]


# ---- check-time errors ------------------------------------------------------------------

ERRORS = [
    (TWO + "share pv among garage, shed\n",
     "unknown charger shed (chargers: garage, carport)", 3, 24),
    (TWO + "share pv among garage, garage\n",
     "charger garage is listed twice in this share", 3, 24),
    (TWO + "share pv among garage\nshare pv among carport, garage\n",
     "charger garage already takes part in the share at t.evr:3:16: a charger is in one "
     "share only", 4, 25),
    (TWO + "share pv / 230 V among garage, carport\n",
     "share divides a power (W), like pv - house; found current (A)", 3, 7),
    ("charger garage, carport\nshare 3000 among garage, carport\n",
     "share divides a power (W), like pv - house; found number; write 3000 W", 2, 7),
    (TWO + "share pv among garage, carport\nif share > 6 A then start garage\n",
     "share is ambiguous with several chargers: write garage.share or carport.share", 4, 4),
    (TWO + "share pv among garage\nif carport.share > 6 A then start carport\n",
     "carport.share means nothing: no share lists carport (declare one, like "
     "`share pv - house among carport`)", 4, 4),
    (TWO + "let early = garage.share\nshare pv among garage, carport\n",
     "garage.share comes from the share at t.evr:4:16, which is computed after this: a let "
     "or a share reads only the shares declared above it", 3, 13),
    (TWO + "if garage.shar > 3 A then stop garage\n",
     "unknown charger property shar (properties: state, vehicle, charging, online, current, "
     "amps, min_amps, max_amps, voltage, power, session_energy, total_energy, temp, mode, "
     "phases, soc); did you mean share?", 3, 4),
    (TWO + "share pv among garage, carport\nset garage.share to 3 A\n",
     "unknown charger setting share: rules set amps and mode", 4, 12),
]


@pytest.mark.parametrize(("source", "message", "line", "col"), ERRORS,
                         ids=[e[1][:40] for e in ERRORS])
def test_share_errors_name_the_place(source: str, message: str, line: int, col: int) -> None:
    program, found = check_texts([("t.evr", source)], Environment())
    assert program is None
    assert [(e.message, e.location.line, e.location.col) for e in found] == [
        (message, line, col)]
    head, shown, caret = found[0].render().split("\n")
    assert head == f"t.evr:{line}:{col}: error: {message}"
    assert shown.strip() == source.splitlines()[line - 1]
    assert caret.index("^") - shown.index(shown.strip()) == col - 1


def test_an_error_in_the_shared_power_is_reported_once() -> None:
    _, found = check_texts([("t.evr", TWO + "share nothing among garage, carport\n"
                             "if garage.share > 6 A then start garage\n"
                             "set amps of carport to carport.share\n")], Environment())
    assert [e.message for e in found] == [
        "unknown name nothing (declare it with `input nothing: UNIT`, or define it with let "
        "or var)"]


def test_share_and_among_are_keywords() -> None:
    _, errors = parse_text("let share = 3\n", "t.evr")
    assert [e.message for e in errors] == ["expected a name, found 'share'"]
