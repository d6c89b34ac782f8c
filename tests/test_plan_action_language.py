"""The `plan ENERGY by TIME` and `cancel plan` actions: syntax, checks, and what a tick
proposes (the engine's side is in test_plan_action_engine.py)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from evse_rules.language import Environment, load_program_text
from evse_rules.language import ast as tree
from evse_rules.language.parse import parse_text
from evse_rules.language.program import MAX_PLAN_KWH, ActionKind, Kind, Value, ValueType
from evse_rules.language.units import ENERGY

TWO = Environment(chargers=("garage", "carport"))
NOW = datetime(2026, 1, 12, 19, 0, tzinfo=timezone(timedelta(hours=1)))
KWH = 3.6e6


def _actions(text: str) -> tuple[tree.Action, ...]:
    parsed, errors = parse_text(text, "t.evr")
    assert errors == [], [e.render() for e in errors]
    (statement,) = parsed.items
    assert isinstance(statement, tree.DoStmt)
    return statement.actions


@pytest.mark.parametrize(("text", "charger"), [
    ("plan 20 kWh by 07:00\n", None),
    ("plan garage 20 kWh by 07:00\n", "garage"),
    ("plan garage target * 2 by 07:00\n", "garage"),
    ("plan target by 07:00\n", None),
    ("plan garage max(a, b) - 1 kWh by leave\n", "garage"),
])
def test_plan_reads_an_energy_a_deadline_and_maybe_a_charger(text: str,
                                                             charger: str | None) -> None:
    (action,) = _actions(text)
    assert isinstance(action, tree.PlanAction)
    assert (action.charger.name if action.charger else None) == charger
    assert action.energy is not None and action.deadline is not None
    assert action.loc.col == 1 and action.loc.end_col == len(text)


@pytest.mark.parametrize(("text", "charger"), [
    ("cancel plan\n", None), ("cancel plan garage\n", "garage"),
    ("cancel plan of garage\n", "garage")])
def test_cancel_plan_reads_maybe_a_charger(text: str, charger: str | None) -> None:
    (action,) = _actions(text)
    assert isinstance(action, tree.PlanAction)
    assert (action.charger.name if action.charger else None) == charger
    assert action.energy is None and action.deadline is None


def test_plan_is_an_action_among_others() -> None:
    first, second, third = _actions("stop, plan 20 kWh by 07:00, cancel plan garage\n")
    assert isinstance(first, tree.RunAction)
    assert isinstance(second, tree.PlanAction) and isinstance(third, tree.PlanAction)


def test_a_tick_proposes_the_energy_in_joules_and_the_deadline_in_seconds() -> None:
    program = load_program_text("plan garage 20 kWh by 07:30\ncancel plan carport\n",
                                "t.evr", TWO)
    values: list[Value] = [None] * len(program.externals)
    plan, cancel = program.tick(NOW, values).actions
    assert (plan.kind, plan.charger, plan.value, plan.deadline) == (
        ActionKind.PLAN, "garage", 20 * KWH, 7.5 * 3600)
    assert plan.target == ("plan", "garage")
    assert (cancel.kind, cancel.charger, cancel.value, cancel.deadline) == (
        ActionKind.PLAN, "carport", None, None)


@pytest.mark.parametrize(("want", "proposed"), [
    (None, False), (math.nan, False), (math.inf, False), (5 * KWH, True)])
def test_an_unknown_or_infinite_energy_proposes_no_plan(want: float | None,
                                                        proposed: bool) -> None:
    env = Environment(inputs={"want": ValueType(Kind.NUMBER, ENERGY)})
    program = load_program_text("plan want by 07:00\n", "t.evr", env)
    values: list[float | None] = [None] * len(program.externals)
    values[[e.name for e in program.externals].index("want")] = want
    actions = program.tick(NOW, list(values)).actions
    assert [a.value for a in actions] == ([want] if proposed else [])


def test_a_plan_reads_its_chargers_session_energy() -> None:
    # The plan counts its energy from it: whatever gives the statuses must give it too.
    program = load_program_text("plan carport 20 kWh by 07:00\n", "t.evr", TWO)
    assert [e.name for e in program.externals] == ["carport.session_energy"]


def test_a_constant_at_the_limit_checks_and_one_above_does_not() -> None:
    load_program_text(f"plan {MAX_PLAN_KWH:g} kWh by 07:00\n", "t.evr")
    with pytest.raises(Exception, match="at most 1000 kWh"):
        load_program_text(f"plan {MAX_PLAN_KWH + 1:g} kWh by 07:00\n", "t.evr")


def test_the_reference_example_plans_once_per_plug_in() -> None:
    reference = (Path(__file__).resolve().parent.parent / "docs" / "language.md").read_text()
    section = reference[reference.index("### Charge plans: `plan ENERGY by TIME`"):]
    block = section[section.index("\n\n    "):].split("\n\n")[1]
    example = "\n".join(line[4:] for line in block.split("\n")) + "\n"
    assert example.startswith("when vehicle:\n    plan 20 kWh by 07:00\n")
    program = load_program_text(example, "language.md")
    vehicle = [e.name for e in program.externals].index("evse.vehicle")

    def tick(minute: int, plugged: bool) -> list[tuple[ActionKind, float | None]]:
        values: list[bool | None] = [None] * len(program.externals)
        values[vehicle] = plugged
        actions = program.tick(NOW + timedelta(minutes=minute), list(values)).actions
        return [(a.kind, a.value if isinstance(a.value, float) else None) for a in actions]

    assert tick(0, False) == [(ActionKind.PLAN, None)]          # cancel: nothing to end
    assert tick(1, True) == [(ActionKind.PLAN, 20 * KWH)]       # plugged in: the plan
    assert tick(2, True) == []                                  # once
    assert tick(3, False) == [(ActionKind.PLAN, None)]
