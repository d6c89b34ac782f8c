"""What one engine step decided: commands to send, and why everything else was not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from evse_rules.language.program import ProposedAction, RuleRef, Value


class CommandKind(StrEnum):
    START = "start"
    STOP = "stop"
    SET_CURRENT = "set_current"
    SET_VOLTAGE = "set_voltage"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a command is sent: the rule that asked, the values that decided, guard notes."""

    rule: RuleRef | None                       # None for the reference voltage
    values: tuple[tuple[str, str], ...] = ()
    note: str | None = None                    # e.g. "clamped 40 A to 32 A"

    def __str__(self) -> str:
        where = f"{self.rule} {self.rule.text}" if self.rule else "reference voltage"
        if self.values:
            where += " (" + ", ".join(f"{name}={shown}" for name, shown in self.values) + ")"
        if self.note:
            where += f"; {self.note}"
        return where


@dataclass(frozen=True, slots=True)
class Command:
    """One thing to send to one charger; `value` is whole amperes or volts."""

    charger: str
    kind: CommandKind
    value: float | None
    reason: Reason
    at: datetime

    def __str__(self) -> str:
        shown = ""
        if self.kind is CommandKind.SET_CURRENT:
            shown = f" {self.value:g} A"
        elif self.kind is CommandKind.SET_VOLTAGE:
            shown = f" {self.value:g} V"
        return f"{self.charger}: {self.kind.value}{shown} <- {self.reason}"


class Guard(StrEnum):
    """The guard that held an action back (or adjusted it)."""

    UNCHANGED = "unchanged"
    NO_VEHICLE = "no_vehicle"
    MIN_ON = "min_on"
    MIN_OFF = "min_off"
    OFFLINE = "offline"
    NO_VALUE = "no_value"
    CLAMP = "clamp"


class HeldBack(NamedTuple):
    """An action a guard did not send as proposed, and why (for people: 'why not charging?').

    A named tuple rather than a frozen dataclass: most ticks hold something back ("unchanged"),
    and a tuple is the cheapest immutable record to build.
    """

    action: ProposedAction
    guard: Guard
    why: str

    def __str__(self) -> str:
        return f"{self.action.rule}: {self.action.kind.value} held back: {self.why}"


@dataclass(frozen=True, slots=True)
class Lost:
    """A proposal overruled by a later rule on the same target in the same tick."""

    action: ProposedAction
    beaten_by: ProposedAction

    def __str__(self) -> str:
        return (f"{self.action.rule}: {self.action.kind.value} lost to "
                f"{self.beaten_by.rule}: {self.beaten_by.kind.value}")


@dataclass(frozen=True, slots=True)
class ModeChange:
    charger: str
    old: str
    new: str
    rule: RuleRef


@dataclass(frozen=True, slots=True)
class VarChange:
    name: str
    old: Value
    new: Value
    rule: RuleRef


@dataclass(slots=True)
class StepResult:
    """Everything one step decided, for the sender, the journal and the trace.

    `held` lists the actions not sent (with the guard and the reason); `adjusted` lists the
    ones sent with another value (clamped). Read-only sequences (an empty one may be shared
    between steps). Not frozen: one is built per tick, and building a frozen dataclass
    costs noticeably more in a year-long replay.
    """

    now: datetime
    commands: list[Command]                  # always a fresh list, the caller's to keep
    held: Sequence[HeldBack]
    adjusted: Sequence[HeldBack]
    lost: Sequence[Lost]
    fired: Sequence[RuleRef]
    lets: dict[str, Value]
    logs: Sequence[ProposedAction]
    mode_changes: Sequence[ModeChange]
    var_changes: Sequence[VarChange]
