"""A stand-in Program for engine tests that do not need the rules language.

The fake records the values it was given at every tick and proposes whatever the test's
`decide` function returns, so each guard and the arbitration can be driven exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.language.program import (
    ActionKind,
    External,
    ExternalKind,
    Kind,
    ProposedAction,
    RuleRef,
    TickResult,
    Value,
    ValueType,
    VariableDecl,
)
from evse_rules.language.units import POWER

T0 = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)
POWER_T = ValueType(Kind.NUMBER, POWER)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def rule(index: int, text: str = "if x then y") -> RuleRef:
    return RuleRef(index=index, file="test.evr", line=index + 1, col=1, text=text)


def action(kind: ActionKind, index: int = 0, value: Value = None, charger: str | None = "evse",
           name: str | None = None) -> ProposedAction:
    return ProposedAction(kind=kind, rule=rule(index), charger=charger, name=name, value=value)


def status(state: ChargerState = ChargerState.CONNECTED, *, vehicle: bool = True,
           amps: float = 6.0, voltage: float = 240.0, power: float = 0.0,
           min_amps: float = 6.0, max_amps: float = 32.0) -> ChargerStatus:
    return ChargerStatus(state=state, vehicle=vehicle, current=power / voltage, amps=amps,
                         voltage=voltage, power=power, session_energy=0.0, total_energy=0.0,
                         min_amps=min_amps, max_amps=max_amps)


Decide = Callable[[datetime, list[Value]], list[ProposedAction]]


@dataclass
class FakeProgram:
    decide: Decide = lambda now, values: []
    externals: tuple[External, ...] = ()
    variables: tuple[VariableDecl, ...] = ()
    rules: tuple[RuleRef, ...] = ()
    files: tuple[str, ...] = ("test.evr",)
    seen: list[list[Value]] = field(default_factory=list)

    def tick(self, now: datetime, values: list[Value]) -> TickResult:
        self.seen.append(list(values))
        actions = self.decide(now, values)
        fired = [a.rule for a in actions]
        return TickResult(actions=actions, fired=fired, lets={})

    def reset(self) -> None:
        self.seen.clear()


def inputs(*names: str) -> tuple[External, ...]:
    return tuple(External(n, ExternalKind.INPUT, POWER_T) for n in names)


def charger_props(*names: str, charger: str = "evse") -> tuple[External, ...]:
    any_t = ValueType(Kind.TEXT)
    return tuple(External(f"{charger}.{n}", ExternalKind.CHARGER, any_t) for n in names)


def scripted(*per_tick: list[ProposedAction]) -> Decide:
    """Propose the i-th list at the i-th tick, nothing after."""
    script = list(per_tick)

    def decide(now: datetime, values: list[Value]) -> list[ProposedAction]:
        return script.pop(0) if script else []

    return decide


START = ActionKind.START
STOP = ActionKind.STOP
SET_AMPS = ActionKind.SET_AMPS
SET_MODE = ActionKind.SET_MODE
SET_VAR = ActionKind.SET_VAR
LOG = ActionKind.LOG
