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
from evse_rules.language.program import MODES


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
