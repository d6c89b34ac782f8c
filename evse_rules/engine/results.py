"""What one engine step decided: commands to send, and why everything else was not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from evse_rules.language.program import (
    Formatter,
    ProposedAction,
    RuleRef,
    TickResult,
    Value,
    shown_values,
)


class CommandKind(StrEnum):
    START = "start"
    STOP = "stop"
    SET_CURRENT = "set_current"
    SET_VOLTAGE = "set_voltage"


class _ReasonFields(NamedTuple):
    rule: RuleRef | None
    shown: tuple[tuple[str, str], ...]
    note: str | None
    reads: tuple[tuple[str, Formatter], ...]
    raw: tuple[Value, ...]


class Reason(_ReasonFields):
    """Why a command is sent: the rule that asked, the values that decided, guard notes.

    `rule` is None for the reference voltage; `note` says what a guard did (e.g. "clamped
    40 A to 32 A"). Like `ProposedAction`, the values come as text (`values=`) or raw
    (`reads` and `raw`, taken from the action), and `values` formats raw ones when read.
    A named tuple: the cheapest immutable record to build.
    """

    __slots__ = ()

    def __new__(
        cls, rule: RuleRef | None, values: tuple[tuple[str, str], ...] = (),
        note: str | None = None, reads: tuple[tuple[str, Formatter], ...] = (),
        raw: tuple[Value, ...] = (),
    ) -> Reason:
        if len(reads) != len(raw):
            raise ValueError(f"{len(reads)} names read but {len(raw)} raw values")
        return tuple.__new__(cls, (rule, values, note, reads, raw))

    @classmethod
    def of(cls, action: ProposedAction, note: str | None = None) -> Reason:
        """The reason of a command that carries out `action` (its values stay raw). A rule
        in blocks names them in the note, so that the journal says which block decided."""
        block = action.rule.block
        if block is not None:
            note = f"{note}; in {block}" if note else f"in {block}"
        return tuple.__new__(cls, (action.rule, action.shown, note, action.reads, action.raw))

    @property
    def values(self) -> tuple[tuple[str, str], ...]:
        """The names the deciding condition read, with their values as text."""
        return shown_values(self.shown, self.reads, self.raw)

    def __str__(self) -> str:
        if self.rule is None and self.note is not None:
            # A person's command or the site limit: the note says all there is to say.
            return self.note
        where = f"{self.rule} {self.rule.text}" if self.rule else "reference voltage"
        values = self.values
        if values:
            where += " (" + ", ".join(f"{name}={shown}" for name, shown in values) + ")"
        if self.note:
            where += f"; {self.note}"
        return where

    def __repr__(self) -> str:
        return f"Reason(rule={self.rule!r}, values={self.values!r}, note={self.note!r})"


class Command(NamedTuple):
    """One thing to send to one charger; `value` is whole amperes or volts. A named tuple:
    the cheapest immutable record to build (a cloudy day asks for a new current often)."""

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
    # The charger's limits leave no current to send (empty, NaN or infinite): no current and
    # no start is sent until they change; a stop still is.
    FAULT = "fault"
    # The site's supply has no room for it (`[site]`, see evse_rules.engine.site).
    SITE = "site"


def clamp_note(asked: float, clamped: int) -> str:
    """What the clamp guard did to a current, as people read it."""
    return f"clamped {asked:g} A to {clamped} A"


class _HeldBackFields(NamedTuple):
    action: ProposedAction
    guard: Guard
    text: str
    clamp: tuple[float, int] | None


class HeldBack(_HeldBackFields):
    """An action a guard did not send as proposed, and why (for people: 'why not charging?').

    A named tuple rather than a frozen dataclass: most ticks hold something back ("unchanged"),
    and a tuple is the cheapest immutable record to build. A clamped current keeps the two
    numbers (`clamp`: asked, clamped to) and `why` says it in words only when read: at night
    every tick holds back a current clamped up to the minimum.
    """

    __slots__ = ()

    def __new__(cls, action: ProposedAction, guard: Guard, why: str,
                clamp: tuple[float, int] | None = None) -> HeldBack:
        return tuple.__new__(cls, (action, guard, why, clamp))

    @property
    def why(self) -> str:
        """The reason in words: `text`, with the clamp note when there is one."""
        clamp = self.clamp
        if clamp is None:
            return self.text
        note = clamp_note(*clamp)
        return f"{self.text} ({note})" if self.text else note

    def __str__(self) -> str:
        return f"{self.action.rule}: {self.action.kind.value} held back: {self.why}"

    def __repr__(self) -> str:
        return f"HeldBack(action={self.action!r}, guard={self.guard!r}, why={self.why!r})"


@dataclass(frozen=True, slots=True)
class Lost:
    """A proposal overruled by a later rule on the same target in the same tick."""

    action: ProposedAction
    beaten_by: ProposedAction

    def __str__(self) -> str:
        winner = self.beaten_by.rule
        block = f" [in {winner.block}]" if winner.block else ""
        return (f"{self.action.rule}: {self.action.kind.value} lost to "
                f"{winner}: {self.beaten_by.kind.value}{block}")


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


class _StepResultFields(NamedTuple):
    now: datetime
    commands: list[Command]                  # always a fresh list, the caller's to keep
    held: Sequence[HeldBack]
    adjusted: Sequence[HeldBack]
    lost: Sequence[Lost]
    fired: Sequence[RuleRef]
    lets_source: dict[str, Value] | TickResult
    logs: Sequence[ProposedAction]
    mode_changes: Sequence[ModeChange]
    var_changes: Sequence[VarChange]


class StepResult(_StepResultFields):
    """Everything one step decided, for the sender, the journal and the trace.

    `held` lists the actions not sent (with the guard and the reason); `adjusted` lists the
    ones sent with another value (clamped). Read-only sequences (an empty one may be shared
    between steps). `lets` is a dict of the `let` values; the engine gives the program's
    tick result instead (`lets_source`), and the dict is built only when someone reads
    `lets` (a replay without a trace never does). A named tuple: one is built per tick, and
    a tuple is the cheapest record to build.
    """

    __slots__ = ()

    @property
    def lets(self) -> dict[str, Value]:
        lets = self.lets_source
        return lets if isinstance(lets, dict) else lets.lets

    def __repr__(self) -> str:
        return (f"StepResult(now={self.now!r}, commands={self.commands!r}, "
                f"held={self.held!r}, adjusted={self.adjusted!r}, lost={self.lost!r}, "
                f"fired={self.fired!r}, lets={self.lets!r}, logs={self.logs!r}, "
                f"mode_changes={self.mode_changes!r}, var_changes={self.var_changes!r})")
