"""The engine: state store, one tick, arbitration and guards; the same live and in replay.

    store = StateStore()                     # or let Engine make one
    engine = Engine(program, [ChargerSettings("garage")], store)
    store.set_input("pv", 2400.0, now)       # canonical units (W, A, V, J, s, %)
    store.set_charger("garage", status, now)
    result = engine.step(now)                # sync, no I/O, `now` is injected
    for command in result.commands:
        ...send it...
        engine.commit(command, ok=True)
"""

from evse_rules.engine.engine import Engine
from evse_rules.engine.guards import VOLTAGE_TOLERANCE, ChargerGuard
from evse_rules.engine.results import (
    Command,
    CommandKind,
    Guard,
    HeldBack,
    Lost,
    ModeChange,
    Reason,
    StepResult,
    VarChange,
)
from evse_rules.engine.settings import ABSOLUTE_MAX_AMPS, ABSOLUTE_MIN_AMPS, ChargerSettings
from evse_rules.engine.store import CHARGER_PROPERTIES, Reading, StateStore

__all__ = [
    "ABSOLUTE_MAX_AMPS",
    "ABSOLUTE_MIN_AMPS",
    "CHARGER_PROPERTIES",
    "VOLTAGE_TOLERANCE",
    "ChargerGuard",
    "ChargerSettings",
    "Command",
    "CommandKind",
    "Engine",
    "Guard",
    "HeldBack",
    "Lost",
    "ModeChange",
    "Reading",
    "Reason",
    "StateStore",
    "StepResult",
    "VarChange",
]
