"""The replay loop: recorded rows through the one engine, with simulated chargers.

    data CSV --load once--> columns --per tick: changed rows--> state store
    simulated chargers --status--> state store --engine.step--> commands --> chargers

The simulated clock ticks at the configured interval from the first row's time to the last;
an input keeps its last value between rows. Each tick stands for the interval that follows
it: the energy of a tick is the power after that tick's commands times the interval.

Energy accounting per tick of length dt (per charger, in config order, sharing the sun):
the power available from the sun is max(pv - house, 0) (house from the config's constant
input without a house column, 0 W without either); with a site meter recorded without the
car (a `grid` column, import positive), it is the export before the car, max(-grid, 0);
a charger's solar share is min(available, its power) and the available power left shrinks
by that share; the rest of its energy comes from the grid. A charge is one transition into
the charging state; its time counts the ticks spent charging.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evse_rules.chargers.base import ChargerState
from evse_rules.chargers.simulated import SimulatedCharger
from evse_rules.engine import CommandKind, Engine
from evse_rules.engine.hand import HandRefused, variable_value
from evse_rules.engine.plan_book import PlanRef
from evse_rules.engine.results import Command, HeldBack, StepResult
from evse_rules.errors import ChargerError
from evse_rules.inputs.csv_replay import Column
from evse_rules.language.program import ActionKind, RuleRef, Value
from evse_rules.language.units import POWER
from evse_rules.simulate.cost import cost_meter, settle
from evse_rules.simulate.events import CHARGER_ACTIONS, EventSpec
from evse_rules.simulate.figures import (
    HAND_KINDS,
    ChargerFigures,
    ReplayEvent,
    SimulationResult,
    show,
)
from evse_rules.simulate.setup import Setup, column_type, prepare

ProgressCallback = Callable[[int, int], None]
# The replay unpacks a step's result in this order (the fields of StepResult).
if StepResult._fields != ("now", "commands", "held", "adjusted", "lost", "fired", "lets_source",
                          "logs", "mode_changes", "var_changes"):
    raise ImportError("StepResult's fields changed: update the unpacking in replay.run")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Recorder:
    """Receives every tick's outcome (for --trace and --plot); the default records nothing."""

    def event(self, now: datetime, text: str) -> None:
        """Something happened at this tick (a log line, a mode or variable change, a
        person's action); called before the tick's `tick`."""

    def decided(self, now: datetime, commands: Sequence[Command],
                held: Sequence[HeldBack]) -> None:
        """The commands sent at this tick and the actions its guards held back (each with
        the rule that asked, and the blocks it stands in); called, only when there are
        some, before the tick's `tick`."""

    def tick(self, now: datetime, chargers: dict[str, SimulatedCharger],
             inputs: list[Value], lets: dict[str, Value]) -> None:
        """Called once per tick, after the commands were applied."""


class Recorders(Recorder):
    """Several recorders as one."""

    def __init__(self, recorders: Sequence[Recorder]) -> None:
        self.recorders = tuple(recorders)

    def tick(self, now: datetime, chargers: dict[str, SimulatedCharger],
             inputs: list[Value], lets: dict[str, Value]) -> None:
        for recorder in self.recorders:
            recorder.tick(now, chargers, inputs, lets)

    def event(self, now: datetime, text: str) -> None:
        for recorder in self.recorders:
            recorder.event(now, text)

    def decided(self, now: datetime, commands: Sequence[Command],
                held: Sequence[HeldBack]) -> None:
        for recorder in self.recorders:
            recorder.decided(now, commands, held)


class _Account:
    """Per charger, during a replay: its figures and whether it charged at the last tick."""

    __slots__ = ("charger", "charging", "figures", "name", "session", "tried")

    def __init__(self, name: str, charger: SimulatedCharger) -> None:
        self.name = name
        self.charger = charger
        self.figures = ChargerFigures()
        self.charging = False
        self.session = 0.0
        # While it never charged: its starts held back, by guard ("sent" for starts sent).
        self.tried: dict[str, int] = {}


def run(setup: Setup, recorder: Recorder | None = None,
        progress: ProgressCallback | None = None) -> SimulationResult:
    """Replay `setup`; deterministic: the same setup gives the same result.

    The loop is the hot path of a year-long replay: rows are applied only when the clock
    reaches them, and only the inputs whose value changed reach the store.
    """
    data = setup.data
    engine = Engine(setup.program, setup.settings, site=setup.site)
    store = engine.store
    for column in setup.inputs:
        store.declare_input(column.name, column_type(column),
                            setup.stale_after.get(column.name))
    first = data.start()
    for name, constant in setup.constants.items():
        store.set_input(name, constant.value, first)
    for name, given in setup.other_constants.items():
        store.set_input(name, given, first)
    # Price series: the store moves each price input on at its slot boundaries, as live;
    # the charging is priced at one of them (simulate/cost.py).
    for name, series in setup.prices.items():
        store.set_prices(name, series, first)
    costs = cost_meter(setup)

    # Row columns as (position, name, numbers or texts, every reading counts); `held` is
    # what the store has. An input that can go stale needs every reading, even unchanged.
    meter = setup.meter
    feeds: list[tuple[int, str, Sequence[Value], bool]] = [
        (i, column.name, column.texts if column.texts is not None
         else column.numbers, column.name in setup.stale_after)  # type: ignore[misc]
        for i, column in enumerate(setup.inputs)
        if meter is None or column is not meter.column
    ]
    held: list[Value] = [None] * len(setup.inputs)
    # The site meter recorded without the car: what the rules see is the recording plus
    # the chargers' power (import positive; minus it for an export-positive meter).
    meter_at = -1
    meter_values: Sequence[float] = ()
    meter_name = ""
    meter_sign = 1.0
    if meter is not None:
        meter_at = setup.inputs.index(meter.column)
        meter_values = meter.column.numbers  # type: ignore[assignment]
        meter_name = meter.column.name
        meter_sign = meter.sign
    recorded = math.nan         # the meter's last recorded value
    meter_time = first          # when it was recorded (what its staleness counts from)
    events = setup.events
    next_event = events[0].at if events else math.inf
    event_index = 0
    happened: list[ReplayEvent] = []
    hand_counts = dict.fromkeys(HAND_KINDS, 0)
    pv_at = _power_column(setup.inputs, "pv")
    house_at = _power_column(setup.inputs, "house")
    drivers = setup.drivers
    accounts = [_Account(name, charger) for name, charger in setup.chargers.items()]
    read = {external.name for external in setup.program.externals}
    # A charge plan counts its energy from the session energy: its status must carry it.
    plans = any(event.spec.action == "plan" for event in events)
    for name, charger in setup.chargers.items():
        charger.energy_in_status = plans or bool({f"{name}.session_energy",
                                                  f"{name}.total_energy", f"{name}.soc"} & read)
    fired_counts = [0] * (max((r.index for r in setup.program.rules), default=-1) + 1)
    last_fired: Sequence[RuleRef] = ()
    same_fired = 0

    dt = setup.tick
    step = timedelta(seconds=dt)
    # The clock also in whole microseconds, as datetime counts: the engine is given the
    # seconds exactly as `now.timestamp()` would give them, without converting `now`.
    first_us = (first - _EPOCH) // _MICROSECOND
    step_us = step // _MICROSECOND
    times = data.times
    rows = len(times)
    t0 = times[0]
    ticks = math.floor((times[-1] - t0) / dt + 1e-9) + 1
    zones = data.zones
    zone_next = 1
    zone_at = zones[1][0] if len(zones) > 1 else rows
    set_input = store.set_input
    set_charger = store.set_charger
    engine_step = engine.step
    commit = engine.commit
    by_name = {account.name: account for account in accounts}
    readers = [(account.name, account.charger.read_status) for account in accounts]
    only = readers[0] if len(readers) == 1 else None
    charging_state = ChargerState.CHARGING
    start_kind = CommandKind.START
    uncharged = True            # some charger never charged yet: held starts are counted
    extras = meter_at >= 0 or bool(events)     # anything but rows and the engine per tick
    metered = meter_at >= 0
    now = first
    row = 0
    next_time = times[0]        # of the next row not applied yet (inf after the last)
    clock_us = first_us
    solar = surplus = 0.0
    # Without a column, a constant input of the config stands for it (0 W without either).
    pv_w, house_w = (_power_constant(setup, name) for name in ("pv", "house"))
    report_every = max(ticks // 100, 1)
    watched = recorder is not None or progress is not None
    site_events = engine.site is not None
    for k in range(ticks):
        if k:
            now += step
            clock_us += step_us
        # 1. refresh: the rows the clock has reached, then the chargers.
        limit = t0 + k * dt + 1e-6
        if next_time <= limit:
            while True:
                if row >= zone_at:
                    now = now.astimezone(zones[zone_next][1])
                    zone_next += 1
                    zone_at = zones[zone_next][0] if zone_next < len(zones) else rows
                for i, name, values, every_reading in feeds:
                    value = values[row]
                    if value is None or value != value or (value == held[i]
                                                           and not every_reading):
                        continue        # an empty cell (None, NaN) keeps the last value
                    held[i] = value
                    set_input(name, value, now)
                if drivers:
                    for column, charger, prop in drivers:
                        number = column.numbers[row]  # type: ignore[index]
                        if number == number:
                            if prop == "vehicle":
                                charger.plug(number >= 0.5)
                            elif prop == "soc":
                                charger.set_soc(number)
                            else:
                                charger.set_grid_voltage(number)
                if metered:
                    number = meter_values[row]
                    if number == number:
                        recorded = number
                        meter_time = now
                row += 1
                next_time = times[row] if row < rows else math.inf
                if next_time > limit:
                    break
            # The accounting reads powers: 0 W while unknown (as `power_of`).
            if pv_at >= 0:
                value = held[pv_at]
                pv_w = value if value.__class__ is float else 0.0
            if house_at >= 0:
                value = held[house_at]
                house_w = value if value.__class__ is float else 0.0
        if only is not None:        # one charger: no loop
            set_charger(only[0], only[1](), now)
        else:
            for name, read_status in readers:
                set_charger(name, read_status(), now)
        if extras:
            if metered and recorded == recorded:
                reading = recorded + meter_sign * sum([a.charger.power for a in accounts])
                if reading != held[meter_at] or meter_time is now:
                    held[meter_at] = reading
                    set_input(meter_name, reading, meter_time)
            if next_event <= limit:
                while event_index < len(events) and events[event_index].at <= limit:
                    _hand(engine, events[event_index].spec, now, by_name, happened,
                          hand_counts, recorder)
                    event_index += 1
                next_event = (events[event_index].at if event_index < len(events)
                              else math.inf)
        # 2-4. the engine; 5. send.
        result = engine_step(now, clock_us / 1_000_000)
        # Unpacked at once: a named tuple's field by name costs a property call each.
        _, commands, held_back, _, _, fired, _, logs, modes, variables = result
        if commands:
            for command in commands:
                if site_events:
                    _site_event(command, happened, recorder)
                account = by_name[command.charger]
                try:
                    apply_command(account.charger, command.kind, command.value)
                except ChargerError as error:
                    commit(command, ok=False, error=str(error))
                    continue
                commit(command, ok=True)
                account.figures.commands[command.kind.value] += 1
                if command.kind is start_kind and not account.figures.charges:
                    account.tried["sent"] = account.tried.get("sent", 0) + 1
        if uncharged and held_back:
            uncharged = _tried(held_back, by_name)
        if watched and recorder is not None and (commands or held_back):
            recorder.decided(now, commands, held_back)
        if logs or modes or variables:
            _changes(result, happened, recorder)
        # The rules that fired, counted per run of ticks with the same list (a rule fires
        # for long stretches: comparing two short lists is cheaper than counting each).
        if fired == last_fired:
            same_fired += 1
        else:
            for ref in last_fired:
                fired_counts[ref.index] += same_fired
            last_fired, same_fired = fired, 1
        # The interval that follows this tick: energy, and the sun's share of it.
        solar += pv_w * dt
        if metered:
            export = -meter_sign * recorded
            available = export * dt if export > 0.0 else 0.0
        else:
            available = (pv_w - house_w) * dt if pv_w > house_w else 0.0
        surplus += available
        for account in accounts:
            charger = account.charger
            if charger.state is charging_state:
                if not account.charging:
                    account.charging = True
                    account.figures.charges += 1
                    uncharged = any(not a.figures.charges for a in accounts)
                    account.session = 0.0
                account.session += dt
            elif account.charging:
                account.charging = False
                account.figures.durations.append(account.session)
            if charger.power:
                joules = charger.advance(dt)
                share = available if available < joules else joules
                available -= share
                figures = account.figures
                figures.ev += joules
                figures.from_solar += share
                if costs is not None:
                    costs.add(account.name, joules - share, clock_us)
        if watched:
            if recorder is not None:
                recorder.tick(now, setup.chargers, held, result.lets)
            if progress is not None and k % report_every == 0:
                progress(k, ticks)
    for ref in last_fired:
        fired_counts[ref.index] += same_fired
    for account in accounts:
        if account.charging:
            account.figures.durations.append(account.session)
    if progress is not None:
        progress(ticks, ticks)
    rules: dict[str, int] = {}
    for ref in setup.program.rules:
        key = f"{shown_path(ref.file)}:{ref.line}"
        rules[key if key not in rules else f"{key}:{ref.col}"] = fired_counts[ref.index]
    end = first + step * (ticks - 1)
    if len(zones) > 1:
        end = end.astimezone(zones[-1][1])
    tried = {a.name: a.tried for a in accounts if not a.figures.charges and a.tried}
    return SimulationResult(ticks, first, end, solar, surplus,
                            {a.name: a.figures for a in accounts}, rules,
                            tuple(setup.settings), dt, happened, hand_counts, tried,
                            cost=costs and settle(costs, setup, {a.name: a.figures.ev
                                                                 for a in accounts}))


def _tried(held: Sequence[HeldBack], by_name: dict[str, _Account]) -> bool:
    """Count the starts held back for chargers that never charged; whether any is left."""
    for item in held:
        action = item.action
        if action.kind is ActionKind.START:
            account = by_name.get(action.charger or "")
            if account is not None and not account.figures.charges:
                key = item.guard.value
                account.tried[key] = account.tried.get(key, 0) + 1
    return any(not account.figures.charges for account in by_name.values())


def _changes(result: StepResult, happened: list[ReplayEvent],
             recorder: Recorder | None) -> None:
    """The log lines, mode and variable changes of a step, for the replay's outputs."""
    now = result.now
    for action in result.logs:
        where = str(action.rule) if isinstance(action.rule, PlanRef) else \
            f"{shown_path(action.rule.file)}:{action.rule.line}"
        _happen(happened, recorder, ReplayEvent(now, "log", f"{where}: {action.value}"))
    for mode in result.mode_changes:
        _happen(happened, recorder, ReplayEvent(
            now, "mode", f"{mode.charger}: mode {mode.old} -> {mode.new} "
                         f"({shown_path(mode.rule.file)}:{mode.rule.line})"))
    for var in result.var_changes:
        _happen(happened, recorder, ReplayEvent(
            now, "variable", f"{var.name} = {show(var.new)} "
                             f"({shown_path(var.rule.file)}:{var.rule.line})"))


def _site_event(command: Command, happened: list[ReplayEvent],
                recorder: Recorder | None) -> None:
    """A command of the site limit (a current lowered, a charger paused or started again):
    in the replay's outputs with its figures, as the journal has it live."""
    note = command.reason.note
    if note is not None and "site limit" in note:
        text, rule = str(command), command.reason.rule
        if rule is not None:     # the rule file named as the replay's other events name it
            text = text.replace(rule.file, shown_path(rule.file), 1)
        _happen(happened, recorder, ReplayEvent(command.at, "site", text))


def _happen(happened: list[ReplayEvent], recorder: Recorder | None,
            event: ReplayEvent) -> None:
    happened.append(event)
    if recorder is not None:
        recorder.event(event.at, event.text)


def _hand(engine: Engine, spec: EventSpec, now: datetime, accounts: dict[str, _Account],
          happened: list[ReplayEvent], counts: dict[str, int],
          recorder: Recorder | None) -> None:
    """A person's action, through the engine's hand path as a dashboard press is."""
    source = "replay"
    if spec.action not in CHARGER_ACTIONS:
        decl = next(d for d in engine.program.variables if d.name == spec.action)
        try:
            given = variable_value(decl, spec.value)
            engine.store.set_variable(spec.action, given)
        except (HandRefused, ValueError) as error:
            text = error.message if isinstance(error, HandRefused) else str(error)
            _happen(happened, recorder, ReplayEvent(now, "hand", f"{spec.text()} refused: "
                                                                 f"{text} ({spec.where})"))
            return
        counts["variable"] += 1
        _happen(happened, recorder, ReplayEvent(now, "hand", f"by hand: {spec.action} = "
                                                             f"{show(given)}"))
        return
    charger = spec.charger or next(iter(engine.settings))
    value: object = spec.value
    action = spec.action
    if spec.action == "amps":
        try:
            value = float(str(spec.value).strip().rstrip("Aa").strip())
        except ValueError:
            value = spec.value
    elif spec.action == "plan" and str(spec.value).strip() == "cancel":
        action, value = "cancel_plan", None          # a charge plan (engine/plan_book.py)
    try:
        plan = engine.hand(charger, action, value, source, now)
    except HandRefused as error:
        _happen(happened, recorder, ReplayEvent(now, "hand", f"{spec.text()} refused: "
                                                             f"{error.message}"))
        return
    counts[spec.action] = counts.get(spec.action, 0) + 1
    for command in plan.commands:
        account = accounts[command.charger]
        try:
            apply_command(account.charger, command.kind, command.value)
        except ChargerError as error:
            engine.commit(command, ok=False, error=str(error))
            continue
        engine.commit(command, ok=True)
        account.figures.commands[command.kind.value] += 1
    mode = f", mode {plan.mode[0]} -> {plan.mode[1]}" if plan.mode else ""
    mode += "".join(f"; {note}" for note in plan.notes)     # a charge plan's schedule
    what = spec.action + (f"={spec.value}" if spec.value is not None else "")
    _happen(happened, recorder, ReplayEvent(now, "hand", f"by hand: {charger}: "
                                                         f"{what}{mode}"))


def shown_path(path: str) -> str:
    """A path as short as it can be said: relative to the working directory when inside."""
    import os

    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _power_constant(setup: Setup, name: str) -> float:
    """The config's constant power input `name` in W, 0 W without one."""
    constant = setup.constants.get(name)
    return constant.value if constant is not None and constant.dimension == POWER else 0.0


def _power_column(columns: Sequence[Column], name: str) -> int:
    """The position of the power column `name` among the inputs, -1 without one."""
    for i, column in enumerate(columns):
        if column.name == name and column.dimension == POWER:
            return i
    return -1


def apply_command(charger: SimulatedCharger, kind: CommandKind, value: float | None) -> None:
    """Carry out an engine command on a simulated charger, as a driver would."""
    if kind is CommandKind.SET_CURRENT:
        charger.apply_current(int(value or 0))
    elif kind is CommandKind.START:
        charger.enable()
    elif kind is CommandKind.STOP:
        charger.disable()
    else:
        charger.apply_voltage(float(value or 0))


def simulate(
    rule_paths: Sequence[str | Path],
    data_path: str | Path,
    config_path: str | Path | None = None,
    recorder: Recorder | None = None,
    progress: ProgressCallback | None = None,
) -> SimulationResult:
    """Load and replay in one call (what `evse-rules simulate` does without its outputs)."""
    return run(prepare(rule_paths, data_path, config_path), recorder, progress)


def power_of(value: Value) -> float:
    """A power input's value for the accounting: 0 W while it is unknown."""
    return value if isinstance(value, float) else 0.0


