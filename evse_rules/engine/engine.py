"""The engine: one step of DESIGN.md section 4 (steps 2 to 4), the same live and in replay.

The caller refreshes the sources into the store (step 1), calls `step(now)`, sends the
commands it returns and reports each outcome with `commit` (step 5). The engine does no I/O
and reads no clock: `now` is given, so a replay runs exactly the code the daemon runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from evse_rules.engine.guards import ChargerGuard
from evse_rules.engine.hand import (
    HandPlan,
    HandProblem,
    HandRefused,
    check_mode,
    hand_command,
    offline_refusal,
    whole_amps,
)
from evse_rules.engine.plan_book import PLAN_ACTIONS, PlanBook
from evse_rules.engine.results import (
    Command,
    CommandKind,
    Guard,
    HeldBack,
    Lost,
    ModeChange,
    StepResult,
    VarChange,
)
from evse_rules.engine.settings import ChargerSettings
from evse_rules.engine.site import Proposals, SiteLimit, SiteSettings
from evse_rules.engine.store import ChargerRecord, StateStore
from evse_rules.language.program import ActionKind, Program, ProposedAction, TimedProgram

_NONE: tuple[()] = ()
# Enum members as module constants: on Python 3.11 `ActionKind.STOP` goes through the enum
# machinery (about 70 ns) at every use, and a step tests kinds for every proposal.
_START, _STOP, _SET_AMPS = ActionKind.START, ActionKind.STOP, ActionKind.SET_AMPS
_SET_MODE, _LOG, _PLAN = ActionKind.SET_MODE, ActionKind.LOG, ActionKind.PLAN
_START_CMD, _STOP_CMD = CommandKind.START, CommandKind.STOP
_SET_CURRENT_CMD = CommandKind.SET_CURRENT
_new = tuple.__new__     # _new(StepResult, (...)): without StepResult's Python-level __new__
# What the guards do in one step: per charger, its guard, the store's record of its status,
# the winning start or stop and the winning current.
_Plan = tuple[tuple[ChargerGuard, ChargerRecord, ProposedAction | None,
                    ProposedAction | None], ...]


@dataclass(frozen=True, slots=True)
class ContactorTimes:
    """When a charger was last started and stopped (successful commands): what its minimum
    on and off times count from, kept across restarts so that a restart cannot switch the
    contactor again at once."""

    last_start: datetime | None = None
    last_stop: datetime | None = None


class Engine:
    """Runs a program against a state store and guards what it asks of the chargers."""

    def __init__(
        self,
        program: Program,
        chargers: Sequence[ChargerSettings],
        store: StateStore | None = None,
        site: SiteSettings | None = None,
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
        # Per charger, in config order: its guard and the store's record of its status.
        self._chargers = tuple((name, guard, self.store.charger_record(name))
                               for name, guard in self._guards.items())
        self._single = self._chargers[0] if len(self._chargers) == 1 else None
        self._records = {name: record for name, guard, record in self._chargers}
        # The guards that watch their charger's statuses after a command (see
        # `ChargerGuard.watch`); empty while nothing is sent, so a step costs one test.
        self._watching: list[tuple[ChargerGuard, ChargerRecord]] = []
        # The supply the chargers share: it has the last word on every step's commands.
        self.site = None if site is None else SiteLimit(site, chargers)
        self.program = program
        self._bind(program)
        # Charge plans ("20 kWh by 07:00"): their proposals join the rules' in `step`.
        self.plans = PlanBook(self.store, self.settings)
        # The same dict as `self.plans.stopping`, one attribute away: `step` tests it at
        # every tick.
        self._plans_stopping = self.plans.stopping

    def _bind(self, program: Program) -> None:
        self.store.declare_variables(program.variables)
        self.store.bind(program.externals)
        self._tick_at = program.tick_at if isinstance(program, TimedProgram) else (
            lambda now, timestamp, values: program.tick(now, values))

    def replace_program(self, program: Program) -> None:
        """Run `program` from the next step on (a reload): the store, the modes, the user
        variables and the guard state (last start and stop) are kept."""
        self._bind(program)
        self.program = program

    def step(self, now: datetime, timestamp: float | None = None) -> StepResult:
        """Evaluate the due rules at `now`, arbitrate, apply modes and variables, guard.

        `timestamp` is `now.timestamp()` when the caller has it at hand (a replay steps its
        own clock): the program then need not convert `now` (see `TimedProgram`)."""
        store = self.store
        if store.stale_deadline is not None and now >= store.stale_deadline:
            store.expire(now)
        if self._watching:
            self._watch()
        if timestamp is None:
            tick = self.program.tick(now, store.values)
        else:
            tick = self._tick_at(now, timestamp, store.values)
        actions = tick.actions
        if store.plans or self._plans_stopping:
            # Charge plans propose around the rules (engine/plan_book.py): a slot's start and
            # current after them (they win), a slot's end stop before them (rules may go on).
            actions = self.plans.around(now, actions)
        commands: list[Command] = []
        if not actions:
            # The common tick of a long replay: nothing proposed, nothing to allocate.
            for settings in self._voltage:
                self._reference_voltage(settings, now, commands)
            site_held = None if self.site is None else self._limit(now, commands, {}, [])
            return _new(StepResult, (now, commands, site_held or _NONE, _NONE, _NONE,
                                     tick.fired, tick, _NONE, _NONE, _NONE))
        held: list[HeldBack] = []
        adjusted: list[HeldBack] = []
        # The common step: one charger, at most one start or stop and one current, nothing
        # else, so nothing to arbitrate. Anything else goes through `_arbitrate`.
        single = self._single
        if single is not None:
            name = single[0]
            run = amps = None
            for action in actions:
                kind = action.kind
                if kind is _SET_AMPS:
                    if amps is not None or action.charger != name:
                        break
                    amps = action
                elif (kind is _START or kind is _STOP) and run is None \
                        and action.charger == name:
                    run = action
                else:
                    break
            else:
                self._guard(single[1], single[2], run, amps, now, commands, held, adjusted)
                for settings in self._voltage:
                    self._reference_voltage(settings, now, commands)
                if self.site is not None:
                    self._limit(now, commands, {name: (run, amps)}, held)
                return _new(StepResult, (now, commands, held or _NONE, adjusted or _NONE, _NONE,
                                  tick.fired, tick, _NONE, _NONE, _NONE))
        plan, lost, logs, modes, variables, unknown = self._arbitrate(actions, now)
        for guard, record, run, amps in plan:
            self._guard(guard, record, run, amps, now, commands, held, adjusted)
        if unknown is not None:
            held += unknown
        for settings in self._voltage:
            self._reference_voltage(settings, now, commands)
        if self.site is not None:
            self._limit(now, commands, {record.settings.name: (run, amps)
                                        for _, record, run, amps in plan}, held)
        return _new(StepResult, (now, commands, held or _NONE, adjusted or _NONE, lost or _NONE,
                          tick.fired, tick, logs or _NONE, modes or _NONE,
                          variables or _NONE))

    def _limit(self, now: datetime, commands: list[Command], proposals: Proposals,
               held: list[HeldBack]) -> list[HeldBack]:
        """The site limit's last word on `commands` (in place); returns `held`."""
        if self.site is not None:
            self.site.apply(now, self.store, self._guards, commands, proposals, held)
        return held

    def step_without_rules(self, now: datetime) -> StepResult:
        """A step while the rule files have errors: no rule decides, but what a person set
        goes on (a charge plan, through the guards) and the site limit keeps the supply.
        Nothing else is sent, not even the reference voltage."""
        if self._watching:
            self._watch()
        commands: list[Command] = []
        held: list[HeldBack] = []
        adjusted: list[HeldBack] = []
        logs: list[ProposedAction] | None = None
        if self.store.plans or self._plans_stopping:
            plan, _, logs, _, _, _ = self._arbitrate(self.plans.around(now, []), now)
            for guard, record, run, amps in plan:
                self._guard(guard, record, run, amps, now, commands, held, adjusted)
            if self.site is not None:
                self._limit(now, commands, {record.settings.name: (run, amps)
                                            for _, record, run, amps in plan}, held)
        elif self.site is not None:
            self._limit(now, commands, {}, held)
        return _new(StepResult, (now, commands, held or _NONE, adjusted or _NONE, _NONE,
                                 _NONE, {}, logs or _NONE, _NONE, _NONE))

    @staticmethod
    def _guard(guard: ChargerGuard, record: ChargerRecord, run: ProposedAction | None,
               amps: ProposedAction | None, now: datetime, commands: list[Command],
               held: list[HeldBack], adjusted: list[HeldBack]) -> None:
        """The commands for one charger, in the order that suits the contactor: stop first;
        the current before a start, so that charging begins at the asked current."""
        status = record.status
        read_at = record.updated
        if run is not None and run.kind is _STOP:
            command = guard.stop(run, status, read_at, now, held)
            if command is not None:
                commands.append(command)
        if amps is not None:
            command = guard.set_amps(amps, status, read_at, now, held, adjusted)
            if command is not None:
                commands.append(command)
        if run is not None and run.kind is _START:
            command = guard.start(run, status, read_at, now, held)
            if command is not None:
                commands.append(command)

    def _arbitrate(self, actions: list[ProposedAction], now: datetime) -> tuple[
            _Plan, list[Lost] | None, list[ProposedAction] | None, list[ModeChange] | None,
            list[VarChange] | None, list[HeldBack] | None]:
        """The last proposal per target wins (file order): the plan for the guards, the
        losers, the logs, the modes and variables set and the charge plans asked (applied
        here: a plan's line joins the logs), and what is held back for chargers the engine
        does not know."""
        lost: list[Lost] | None = None
        logs: list[ProposedAction] | None = None
        pairs: dict[str | None, list[ProposedAction | None]] = {}   # [run, amps]
        others: dict[tuple[str, str], ProposedAction] = {}          # modes, variables
        for action in actions:
            kind = action.kind
            if kind is _SET_AMPS or kind is _START or kind is _STOP:
                pair = pairs.get(action.charger)
                if pair is None:
                    pair = pairs[action.charger] = [None, None]
                which = 1 if kind is _SET_AMPS else 0
                beaten = pair[which]
                if beaten is not None:
                    lost = lost or []
                    if beaten.safety and not action.safety:
                        # A safety stop is never overruled by a later start or stop.
                        lost.append(Lost(action, beaten))
                        continue
                    lost.append(Lost(beaten, action))
                pair[which] = action
            elif kind is _LOG:
                logs = logs or []
                logs.append(action)
            else:
                target = action.target
                beaten = others.get(target)
                if beaten is not None:
                    lost = lost or []
                    lost.append(Lost(beaten, action))
                others[target] = action
        if lost is not None:
            lost = self._final_winners(lost, pairs, others)
        modes: list[ModeChange] | None = None
        variables: list[VarChange] | None = None
        if others:
            modes, variables = [], []
            for action in others.values():
                if action.kind is _SET_MODE:
                    self._set_mode(action, modes)
                elif action.kind is _PLAN:
                    said = self.plans.from_rule(action, now)
                    if said is not None:
                        logs = logs or []
                        logs.append(said)
                else:
                    self._set_variable(action, variables)
        plan = tuple((guard, record, pair[0], pair[1]) for name, guard, record in self._chargers
                     if (pair := pairs.get(name)) is not None)
        unknown = self._unknown_chargers(pairs) if len(plan) != len(pairs) else None
        return plan, lost, logs, modes, variables, unknown

    def _watch(self) -> None:
        """Show each watching guard its charger's last status; keep those still watching."""
        watching = []
        for guard, record in self._watching:
            if guard.watch(record.status, record.updated):
                watching.append((guard, record))
            else:
                guard.watched = False
        self._watching = watching

    def commit(self, command: Command, ok: bool, error: str | None = None) -> None:
        """Report whether `command` was carried out. Guard state (last start, last stop,
        last current sent) changes only on success: a failed command is tried again."""
        if ok:
            guard = self._guards[command.charger]
            if guard.committed(command) and not guard.watched:
                guard.watched = True
                self._watching.append((guard, self._records[command.charger]))

    def hand(self, charger: str, action: str, value: object, source: str,
             now: datetime) -> HandPlan:
        """A person's ON ("start"), OFF ("stop"), current ("amps") or mode ("mode") for
        `charger` (see `evse_rules.engine.hand`). Returns the commands to send (report each
        with `commit`); raises HandRefused, having changed nothing, when it cannot be done."""
        settings = self.settings.get(charger)
        if settings is None:
            known = ", ".join(self.settings) or "none"
            raise HandRefused(HandProblem.UNKNOWN,
                              f"no charger named {charger!r} (chargers: {known})")
        plan = HandPlan()
        if action in PLAN_ACTIONS:
            # A charge plan is kept and acted on at the ticks; setting one hands the
            # charger to the engine (auto), where the plan runs.
            plan.notes.append(self.plans.hand(charger, action, value, source, now))
            if action == "plan":
                self._hand_mode(charger, "auto", plan)
            return plan
        if action == "mode":
            self._hand_mode(charger, check_mode(value), plan)
            return plan
        status = self._records[charger].status
        low, high = settings.limits(status)
        if action == "stop":
            # Sent even to a charger that looks offline or stopped: a person's OFF is tried.
            plan.commands.append(hand_command(_STOP_CMD, settings, None, source, now))
        elif action in ("start", "amps"):
            refusal = offline_refusal(settings, status)
            if refusal is not None:
                raise HandRefused(HandProblem.CONFLICT, refusal)
            if action == "amps":
                amps = whole_amps(value, low, high, charger)
                plan.commands.append(hand_command(_SET_CURRENT_CMD, settings, float(amps),
                                                  source, now))
            else:
                if low > high:
                    raise HandRefused(HandProblem.CONFLICT, (
                        f"{charger}: its limits leave no current between {low} A and "
                        f"{high} A: not started"))
                plan.commands.append(hand_command(_START_CMD, settings, None, source, now))
        else:
            raise HandRefused(HandProblem.INVALID, f"unknown hand command {action!r}")
        if self.site is not None:
            self._site_hand(charger, action, plan, now)
        self._hand_mode(charger, "manual", plan)
        return plan

    def _site_hand(self, charger: str, action: str, plan: HandPlan, now: datetime) -> None:
        """A person's command within the site limit: a stop is never touched (and the site
        does not start the charger again); a current is lowered to the room left by the
        other chargers; a start with no room for the minimum is refused."""
        assert self.site is not None
        if action == "stop":
            self.site.forget(charger)
            return
        asked = list(plan.commands)
        self.site.apply(now, self.store, self._guards, plan.commands, {}, [], only=charger)
        if any(c.kind is _START_CMD for c in asked) and \
                not any(c.kind is _START_CMD for c in plan.commands):
            self.site.paused.discard(charger)     # refused: nothing changes, not even later
            raise HandRefused(HandProblem.CONFLICT, (
                f"{charger}: not started: its minimum current does not fit the "
                f"{self.site.last_why}"))

    def carry_over(self, old: Engine) -> None:
        """Take what `old` knew of the chargers both engines drive (a config applied while
        running): what was last sent and when, and the contactor times."""
        for name, guard in self._guards.items():
            before = old._guards.get(name)
            if before is None:
                continue
            guard.last_start, guard.last_stop = before.last_start, before.last_stop
            guard.run_sent, guard.run_at = before.run_sent, before.run_at
            guard.amps_sent, guard.amps_at = before.amps_sent, before.amps_at
            guard.volts_sent, guard.volts_at = before.volts_sent, before.volts_at
        if self.site is not None and old.site is not None:
            self.site.paused = {name for name in old.site.paused if name in self._guards}
        self.plans.carry_over(old.plans)       # a slot running, a stop owed

    def guard(self, charger: str) -> ChargerGuard:
        """The guard of `charger` (what was sent to it last, and when), for the faces."""
        return self._guards[charger]

    def undo_mode(self, charger: str, plan: HandPlan) -> None:
        """Put the mode back as it was before `plan` (its commands failed)."""
        if plan.mode is not None:
            self.store.set_mode(charger, plan.mode[0])
            plan.mode = None

    def _hand_mode(self, charger: str, mode: str, plan: HandPlan) -> None:
        old = self.store.mode(charger)
        if self.store.set_mode(charger, mode):
            plan.mode = (old, mode)

    def forget(self, charger: str) -> None:
        """The charger was handed back to its own settings (its claim deleted): forget what
        was sent, so that the next command is compared with what the charger reports."""
        guard = self._guards[charger]
        guard.run_sent = guard.run_at = None
        guard.amps_sent = guard.amps_at = None
        guard.amps_kept = guard.run_kept = None
        guard.amps_pending = guard.run_pending = False

    def contactor_times(self) -> dict[str, ContactorTimes]:
        """Each charger's last start and stop, for the state file."""
        return {name: ContactorTimes(guard.last_start, guard.last_stop)
                for name, guard in self._guards.items()}

    def restore_contactor_times(
        self, times: Mapping[str, ContactorTimes], now: datetime
    ) -> list[str]:
        """Give the guards their last start and stop back (after a restart). A time after
        `now` (the clock went back) counts as `now`: the guard waits its minimum time from
        here, never until a future that may be hours away. Returns the names that are not
        configured chargers (their times are skipped)."""
        unknown: list[str] = []
        for name, saved in times.items():
            guard = self._guards.get(name)
            if guard is None:
                unknown.append(name)
                continue
            guard.last_start = None if saved.last_start is None else min(saved.last_start, now)
            guard.last_stop = None if saved.last_stop is None else min(saved.last_stop, now)
        return unknown

    # -- the parts of a step --------------------------------------------------------------

    @staticmethod
    def _final_winners(
        lost: list[Lost], pairs: dict[str | None, list[ProposedAction | None]],
        others: dict[tuple[str, str], ProposedAction],
    ) -> list[Lost]:
        """Name each loser's final winner (a loser may have beaten an earlier one before it
        lost in turn), in the file order of the losers."""
        fixed = []
        for item in lost:
            action = item.action
            kind = action.kind
            if kind is ActionKind.SET_AMPS:
                winner = pairs[action.charger][1]
            elif kind is ActionKind.START or kind is ActionKind.STOP:
                winner = pairs[action.charger][0]
            else:
                winner = others[action.target]
            assert winner is not None
            fixed.append(Lost(action, winner))
        return sorted(fixed, key=lambda item: item.action.rule.index)

    def _unknown_chargers(
        self, pairs: dict[str | None, list[ProposedAction | None]]
    ) -> list[HeldBack] | None:
        """Proposals for a charger the engine was not given (a program checked against
        another environment): held back, never sent anywhere."""
        held: list[HeldBack] | None = None
        for name, pair in pairs.items():
            if name in self._guards:
                continue
            for action in pair:
                if action is not None:
                    held = held or []
                    held.append(HeldBack(action, Guard.OFFLINE,
                                         f"no charger named {name!r} is configured"))
        return held

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
