"""The engine: one step of DESIGN.md section 4 (steps 2 to 4), the same live and in replay.

The caller refreshes the sources into the store (step 1), calls `step(now)`, sends the
commands it returns and reports each outcome with `commit` (step 5). The engine does no I/O
and reads no clock: `now` is given, so a replay runs exactly the code the daemon runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from evse_rules.engine.guards import ChargerGuard
from evse_rules.engine.results import (
    Command,
    HeldBack,
    Lost,
    ModeChange,
    StepResult,
    VarChange,
)
from evse_rules.engine.settings import ChargerSettings
from evse_rules.engine.store import StateStore
from evse_rules.language.program import ActionKind, Program, ProposedAction

_NONE: tuple[()] = ()
_TARGETS = {ActionKind.START: "run", ActionKind.STOP: "run", ActionKind.SET_AMPS: "amps",
            ActionKind.SET_MODE: "mode", ActionKind.SET_VAR: "var"}


class Engine:
    """Runs a program against a state store and guards what it asks of the chargers."""

    def __init__(
        self,
        program: Program,
        chargers: Sequence[ChargerSettings],
        store: StateStore | None = None,
    ) -> None:
        names = [settings.name for settings in chargers]
        if len(set(names)) != len(names):
            raise ValueError(f"charger names must be unique, got {', '.join(names)}")
        self.store = store if store is not None else StateStore()
        self.settings: dict[str, ChargerSettings] = {}
        self._guards: dict[str, ChargerGuard] = {}
        for settings in chargers:
            self.store.add_charger(settings)
            self.settings[settings.name] = settings
            self._guards[settings.name] = ChargerGuard(settings)
        self._voltage = tuple(s for s in chargers if s.voltage is not None)
        self.program = program
        self._bind(program)

    def _bind(self, program: Program) -> None:
        self.store.declare_variables(program.variables)
        self.store.bind(program.externals)

    def replace_program(self, program: Program) -> None:
        """Run `program` from the next step on (a reload): the store, the modes, the user
        variables and the guard state (last start and stop) are kept."""
        self._bind(program)
        self.program = program

    def step(self, now: datetime) -> StepResult:
        """Evaluate the due rules at `now`, arbitrate, apply modes and variables, guard."""
        store = self.store
        store.expire(now)
        tick = self.program.tick(now, store.values)
        actions = tick.actions
        commands: list[Command] = []
        if not actions:
            # The common tick of a long replay: nothing proposed, nothing to allocate.
            for settings in self._voltage:
                self._reference_voltage(settings, now, commands)
            return StepResult(now, commands, _NONE, _NONE, _NONE, tick.fired,
                              tick.lets, _NONE, _NONE, _NONE)
        lost: list[Lost] = []
        logs: list[ProposedAction] = []
        winners = self._arbitrate(actions, lost, logs)
        held: list[HeldBack] = []
        adjusted: list[HeldBack] = []
        modes: list[ModeChange] = []
        variables: list[VarChange] = []
        runs: dict[str, ProposedAction] = {}
        amps: dict[str, ProposedAction] = {}
        for action in winners:
            kind = action.kind
            if kind is ActionKind.SET_AMPS:
                amps[action.charger or ""] = action
            elif kind is ActionKind.START or kind is ActionKind.STOP:
                runs[action.charger or ""] = action
            elif kind is ActionKind.SET_MODE:
                self._set_mode(action, modes)
            else:
                self._set_variable(action, variables)
        if runs or amps:
            for name, guard in self._guards.items():
                run = runs.get(name)
                amp = amps.get(name)
                if run is not None or amp is not None:
                    self._guard(name, guard, run, amp, now, commands, held, adjusted)
        for settings in self._voltage:
            self._reference_voltage(settings, now, commands)
        return StepResult(now, commands, held or _NONE, adjusted or _NONE, lost or _NONE,
                          tick.fired, tick.lets, logs or _NONE, modes or _NONE,
                          variables or _NONE)

    def commit(self, command: Command, ok: bool, error: str | None = None) -> None:
        """Report whether `command` was carried out. Guard state (last start, last stop,
        last current sent) changes only on success: a failed command is tried again."""
        if ok:
            self._guards[command.charger].committed(command)

    # -- the parts of a step --------------------------------------------------------------

    @staticmethod
    def _arbitrate(
        actions: list[ProposedAction], lost: list[Lost], logs: list[ProposedAction]
    ) -> Sequence[ProposedAction]:
        """Last writer wins per target, in file order; the losers are kept with the winner."""
        if len(actions) == 1:
            if actions[0].kind is ActionKind.LOG:
                logs.append(actions[0])
                return ()
            return actions
        winners: dict[tuple[str, str | None], ProposedAction] = {}
        for action in actions:
            kind = action.kind
            if kind is ActionKind.LOG:
                logs.append(action)
                continue
            # ProposedAction.target, inlined: this runs for every proposal of every tick.
            target = (_TARGETS[kind], action.name if kind is ActionKind.SET_VAR
                      else action.charger)
            beaten = winners.get(target)
            if beaten is not None:
                lost.append(Lost(beaten, action))
            winners[target] = action
        if lost:
            # A loser that beat an earlier one lost in turn: name the final winner, and list
            # the losers in file order.
            final = {action.target: action for action in winners.values()}
            lost[:] = sorted((Lost(item.action, final[item.action.target]) for item in lost),
                             key=lambda item: item.action.rule.index)
        return list(winners.values())

    def _set_mode(self, action: ProposedAction, changes: list[ModeChange]) -> None:
        charger = action.charger or ""
        old = self.store.mode(charger)
        new = str(action.value)
        if self.store.set_mode(charger, new):
            changes.append(ModeChange(charger, old, new, action.rule))

    def _set_variable(self, action: ProposedAction, changes: list[VarChange]) -> None:
        name = action.name or ""
        old = self.store.variable(name)
        if self.store.set_variable(name, action.value):
            changes.append(VarChange(name, old, action.value, action.rule))

    def _guard(
        self, name: str, guard: ChargerGuard, run: ProposedAction | None,
        amps: ProposedAction | None,
        now: datetime, commands: list[Command], held: list[HeldBack],
        adjusted: list[HeldBack],
    ) -> None:
        """The commands for one charger, in the order that suits the contactor: stop first;
        the current before a start, so that charging begins at the asked current."""
        status, read_at = self.store.charger_reading(name)
        if run is not None and run.kind is ActionKind.STOP:
            command = guard.stop(run, status, read_at, now, held)
            if command is not None:
                commands.append(command)
        if amps is not None:
            command = guard.set_amps(amps, status, read_at, now, held, adjusted)
            if command is not None:
                commands.append(command)
        if run is not None and run.kind is ActionKind.START:
            command = guard.start(run, status, read_at, now, held)
            if command is not None:
                commands.append(command)

    def _reference_voltage(
        self, settings: ChargerSettings, now: datetime, commands: list[Command]
    ) -> None:
        source = settings.voltage
        if isinstance(source, str):
            value = self.store.input_value(source)
            if not isinstance(value, float | int) or isinstance(value, bool):
                return
            volts, shown = float(value), source
        elif source is not None:
            volts, shown = float(source), "voltage"
        else:
            return
        status, read_at = self.store.charger_reading(settings.name)
        command = self._guards[settings.name].set_voltage(volts, shown, status, read_at, now)
        if command is not None:
            commands.append(command)
