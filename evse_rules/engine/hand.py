"""A person's commands (DESIGN.md section 11): ON, OFF, the current, the mode, a variable.

One path for every face (the dashboard, the API, the CLI, MQTT): the same checks, the same
clamping, the same bookkeeping in the guards. What differs from a rule's proposal:

- ON, OFF and a current switch the charger to manual and act at once: a person pressed a
  button, so the contactor guards (min_on, min_off) do not hold it back, and OFF is always
  sent, even when the engine believes the charger is off already (a person's OFF is never
  lost to a stale belief);
- a current outside the charger's limits is refused, not clamped, and nothing is sent: the
  person asked for something else than what would happen (fractions are floored: 10.7 A is
  10 A, as for rules);
- a charger whose limits leave no current (its hard minimum above our max_amps) takes no ON
  and no current, only OFF.

The engine does no I/O here either: `hand` returns the commands; the caller sends them and
reports each outcome with `Engine.commit`, as for a step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine.results import Command, CommandKind, Reason
from evse_rules.engine.settings import ChargerSettings
from evse_rules.language.program import MODES, Kind, Value, VariableDecl
from evse_rules.language.units import (
    DISPLAY_UNITS,
    ENERGY,
    NUMBER,
    UNITS,
    Dimension,
    Unit,
    UnitError,
    parse_quantity,
)

# The unit of a bare number a person gives or sees (a dashboard field, an API value): energy
# in kWh, as chargers and cars count it; the rest in the display units.
PERSON_UNITS: dict[Dimension, Unit] = {**DISPLAY_UNITS, ENERGY: UNITS["kWh"]}

# A person's text or number beyond these is a slip (or an attack), not a setting.
MAX_TEXT = 1000
MAX_NUMBER = 1e15


class HandProblem(StrEnum):
    """Why a hand command is refused (a face maps it to its own answer, e.g. HTTP 404)."""

    UNKNOWN = "unknown"        # no such charger or variable
    INVALID = "invalid"        # a value of the wrong type, unit or range
    CONFLICT = "conflict"      # the charger cannot take it now (offline, faulted)


class HandRefused(Exception):
    """A hand command that was not carried out; nothing was changed."""

    def __init__(self, problem: HandProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


@dataclass(slots=True)
class HandPlan:
    """What a hand command does: commands to send, and what it changed in the store."""

    commands: list[Command] = field(default_factory=list)
    mode: tuple[str, str] | None = None          # (old, new) when the mode changed
    notes: list[str] = field(default_factory=list)


def hand_reason(source: str) -> Reason:
    """The journal's reason of a command a person gave."""
    return Reason(None, (("source", source),), f"by hand ({source})")


def whole_amps(value: object, low: int, high: int, charger: str) -> int:
    """A person's current as whole amperes within [low, high], or HandRefused saying why."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise HandRefused(HandProblem.INVALID, f"{charger}: the current must be a number of "
                          f"amperes, not {value!r}")
    amps = math.floor(value + 1e-6)
    if low > high:
        raise HandRefused(HandProblem.CONFLICT, f"{charger}: no current is possible: its "
                          f"limits leave nothing between {low} A and {high} A (nothing sent)")
    if amps < low:
        raise HandRefused(HandProblem.INVALID, f"{charger}: {value:g} A is below its minimum "
                          f"of {low} A (min_amps; nothing sent)")
    if amps > high:
        raise HandRefused(HandProblem.INVALID, f"{charger}: {value:g} A is above its maximum "
                          f"of {high} A (max_amps; nothing sent)")
    return amps


def check_mode(value: object) -> str:
    if value not in MODES:
        raise HandRefused(HandProblem.INVALID, "the mode is auto or manual, not "
                          f"{value!r}")
    return str(value)


def offline_refusal(settings: ChargerSettings, status: ChargerStatus | None) -> str | None:
    """Why a charger cannot take a command now, or None."""
    if status is None:
        return f"{settings.name} has not been read yet (nothing sent)"
    if status.state is ChargerState.OFFLINE:
        why = f" ({status.error})" if status.error else ""
        return f"{settings.name} is offline{why}: nothing sent"
    return None


def hand_command(
    kind: CommandKind, settings: ChargerSettings, value: float | None, source: str,
    now: datetime,
) -> Command:
    return Command(settings.name, kind, value, hand_reason(source), now)


def variable_value(decl: VariableDecl, value: object) -> Value:
    """A person's value for a declared variable, canonical, or HandRefused saying what is
    expected. Booleans: true/false (yes/no, on/off, 1/0 as text); numbers: a number in the
    variable's person unit (`PERSON_UNITS`: 20 for an energy is 20 kWh) or a text with its unit
    ("20 kWh", "16 A"); texts: any text."""
    kind = decl.type.kind
    name = decl.name
    if kind is Kind.BOOLEAN:
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise HandRefused(HandProblem.INVALID, f"{name} is a boolean: give true or false, "
                          f"not {value!r}")
    if kind is Kind.TEXT or kind is Kind.ENUM:
        if not isinstance(value, str):
            raise HandRefused(HandProblem.INVALID, f"{name} is a text: give a text, not "
                              f"{value!r}")
        if len(value) > MAX_TEXT:
            raise HandRefused(HandProblem.INVALID, f"{name}: a text of at most {MAX_TEXT} "
                              f"characters, not {len(value)}")
        if kind is Kind.ENUM and value not in decl.type.choices:
            raise HandRefused(HandProblem.INVALID, f"{name} is one of "
                              f"{', '.join(decl.type.choices)}, not {value!r}")
        return value
    expected = decl.type.dimension
    unit = PERSON_UNITS.get(expected)
    if isinstance(value, bool):
        raise HandRefused(HandProblem.INVALID, f"{name} is {_a(expected.name)}: give a "
                          f"number, not {value!r}")
    if isinstance(value, int | float):
        number = float(value)
        canonical = unit.to_canonical(number) if unit is not None else number
    elif isinstance(value, str):
        try:
            quantity = parse_quantity(value)
        except UnitError as error:
            raise HandRefused(HandProblem.INVALID, f"{name}: {error}") from None
        if quantity.dimension != expected:
            if quantity.dimension == NUMBER and unit is not None:
                raise HandRefused(HandProblem.INVALID, f"{name} is {_a(expected.name)}: give "
                                  f"the unit, like '{value.strip()} {unit.symbol}'")
            raise HandRefused(HandProblem.INVALID, f"{name} is {_a(expected.name)}, {value!r} "
                              f"is {_a(quantity.dimension.name)}")
        canonical = quantity.value
    else:
        raise HandRefused(HandProblem.INVALID, f"{name}: expected a number, not {value!r}")
    if not math.isfinite(canonical) or abs(canonical) > MAX_NUMBER:
        raise HandRefused(HandProblem.INVALID, f"{name}: {value!r} is not a plausible value")
    return canonical


def _a(noun: str) -> str:
    """`noun` with its indefinite article: 'a power', 'an energy'."""
    return ("an " if noun[:1] in "aeiou" else "a ") + noun
