"""The replay: recorded data through the one engine, with simulated chargers (DESIGN.md 7).

    data CSV --load once--> columns --per tick: changed rows--> state store
    simulated chargers --status--> state store --engine.step--> commands --> chargers

The simulated clock ticks at the configured interval from the first row's time to the last;
an input keeps its last value between rows. Each tick stands for the interval that follows
it: the energy of a tick is the power after that tick's commands times the interval.

Energy accounting per tick of length dt (per charger, in config order, sharing the sun):
the power available from the sun is max(pv - house, 0) (house = 0 without a house column);
a charger's solar share is min(available, its power) and the available power left shrinks
by that share; the rest of its energy comes from the grid. A charge is one transition into
the charging state; its time counts the ticks spent charging.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evse_rules.chargers.base import ChargerState
from evse_rules.chargers.simulated import SimulatedCharger
from evse_rules.engine import ChargerSettings, CommandKind, Engine
from evse_rules.errors import ChargerError, DataError
from evse_rules.inputs.csv_replay import Column, ReplayData, load_replay_data
from evse_rules.language.program import (
    Environment,
    ExternalKind,
    Kind,
    Program,
    Value,
    ValueType,
)
from evse_rules.language.units import NUMBER, POWER, VOLTAGE

if TYPE_CHECKING:
    from evse_rules.config import Config

_KWH = 3_600_000.0
DEFAULT_CHARGER = "evse"
DEFAULT_VOLTAGE = 240.0
COMMAND_KINDS = tuple(kind.value for kind in CommandKind)
# Columns that drive the simulated chargers rather than feed the rules as inputs.
CHARGER_COLUMNS = ("vehicle", "voltage")

ProgressCallback = Callable[[int, int], None]


# ---- the figures --------------------------------------------------------------------------


@dataclass(slots=True)
class ChargerFigures:
    """What one charger did over a replay; energies in J."""

    ev: float = 0.0
    from_solar: float = 0.0
    charges: int = 0
    durations: list[float] = field(default_factory=list)   # s, one per charge
    commands: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMMAND_KINDS, 0))

    def to_json(self) -> dict[str, Any]:
        return {
            "ev_kwh": _kwh(self.ev),
            "ev_from_solar_kwh": _kwh(self.from_solar),
            "ev_from_grid_kwh": _kwh(self.ev - self.from_solar),
            "charges": self.charges,
            "charge_time_s": _durations(self.durations),
            "commands": dict(self.commands),
        }


@dataclass(slots=True)
class SimulationResult:
    """The figures of a whole replay (DESIGN.md section 7, `--json`)."""

    ticks: int
    start: datetime
    end: datetime
    solar: float                               # J
    surplus: float                             # J, the sun's energy beyond the house's use
    chargers: dict[str, ChargerFigures]
    rules: dict[str, int]                      # "file:line" -> ticks it fired
    settings: tuple[ChargerSettings, ...] = ()
    tick: float = 60.0                         # s

    @property
    def ev(self) -> float:
        return sum(c.ev for c in self.chargers.values())

    @property
    def from_solar(self) -> float:
        return sum(c.from_solar for c in self.chargers.values())

    @property
    def charges(self) -> int:
        return sum(c.charges for c in self.chargers.values())

    def to_json(self) -> dict[str, Any]:
        commands = dict.fromkeys(COMMAND_KINDS, 0)
        durations: list[float] = []
        for figures in self.chargers.values():
            durations.extend(figures.durations)
            for kind, count in figures.commands.items():
                commands[kind] += count
        return {
            "ticks": self.ticks,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "solar_kwh": _kwh(self.solar),
            "ev_kwh": _kwh(self.ev),
            "ev_from_solar_kwh": _kwh(self.from_solar),
            "ev_from_grid_kwh": _kwh(self.ev - self.from_solar),
            "charges": self.charges,
            "charge_time_s": _durations(durations),
            "commands": commands,
            "rules": dict(self.rules),
            "chargers": {name: c.to_json() for name, c in self.chargers.items()},
        }


def _kwh(joules: float) -> float:
    # Rounded so that the JSON is the same on every platform and easy to read.
    return round(joules / _KWH, 3) + 0.0


def _durations(durations: list[float]) -> dict[str, float]:
    if not durations:
        return {"min": 0, "max": 0, "total": 0}
    return {"min": round(min(durations)), "max": round(max(durations)),
            "total": round(sum(durations))}


# ---- setting a replay up ------------------------------------------------------------------


@dataclass(slots=True)
class Setup:
    """Everything a replay needs, checked before the first tick."""

    data: ReplayData
    program: Program
    settings: list[ChargerSettings]
    tick: float
    inputs: list[Column]                          # the columns the store receives
    constants: dict[str, float]                   # config inputs of kind constant
    chargers: dict[str, SimulatedCharger]
    drivers: list[tuple[Column, SimulatedCharger, str]]   # (column, charger, "vehicle"/...)
    stale_after: dict[str, float] = field(default_factory=dict)   # s, set in the config


def _column_type(column: Column) -> ValueType:
    if column.is_text:
        return ValueType(Kind.TEXT)
    return ValueType(Kind.NUMBER, column.dimension)


def _driver_column(column: Column, chargers: Sequence[str]) -> tuple[str, str] | None:
    """(charger, property) when a column drives simulated chargers: `vehicle`, `evse.voltage`."""
    charger, _, prop = column.name.rpartition(".")
    if prop not in CHARGER_COLUMNS:
        return None
    if charger and charger not in chargers:
        return None
    return charger, prop


def prepare(
    rule_paths: Sequence[str | Path],
    data_path: str | Path,
    config_path: str | Path | None = None,
    load: Callable[[Sequence[str | Path], Environment], Program] | None = None,
) -> Setup:
    """Load the data, the config and the rules; check that the data gives what rules read."""
    data = load_replay_data(data_path)
    config: Config | None = None
    if config_path is not None:
        from evse_rules.config import load_config

        config = load_config(config_path)
    if config is not None:
        settings = config.charger_settings()
        tick = config.tick_seconds
        paths: list[str | Path] = list(rule_paths) or list(config.rule_paths)
        env_inputs = dict(config.environment().inputs)
        constants = {name: spec.constant().value for name, spec in config.inputs.items()
                     if spec.kind == "constant"}
        # Only an explicit stale_after: the default follows the polling interval, which
        # says nothing about how often a recorded file has rows.
        stale_after = {name: spec.stale_after for name, spec in config.inputs.items()
                       if spec.stale_after is not None}
    else:
        # Without a config: one simulated charger, mode auto (DESIGN.md section 7).
        settings = [ChargerSettings(DEFAULT_CHARGER, initial_mode="auto")]
        tick = 60.0
        paths = list(rule_paths)
        env_inputs = {}
        constants = {}
        stale_after = {}
    if not paths:
        raise DataError(str(data_path), None, "no rule files to replay (name them, or give "
                                               "a config with rules = [...])")
    names = [s.name for s in settings]
    drivers_spec: list[tuple[Column, str, str]] = []
    inputs: list[Column] = []
    for column in data.columns:
        driven = _driver_column(column, names)
        if driven is not None:
            _check_driver(data, column, driven[1])
            drivers_spec.append((column, driven[0], driven[1]))
            continue
        inputs.append(column)
        declared = env_inputs.get(column.name)
        if declared is not None and declared.dimension != column.dimension:
            raise DataError(data.file, 1, (
                f"column {column.header()!r} is {column.dimension.name}, the config says "
                f"input {column.name!r} is {declared.dimension.name}"))
        env_inputs.setdefault(column.name, _column_type(column))
    if load is None:
        from evse_rules.language import load_program

        load = load_program
    program = load(paths, Environment(inputs=env_inputs, chargers=tuple(names)))
    by_name = {column.name: column for column in inputs}
    for external in program.externals:
        if external.kind is not ExternalKind.INPUT or external.name in constants:
            continue
        read = by_name.get(external.name)
        if read is None:
            shown = ", ".join(data.names)
            raise DataError(data.file, None, (
                f"the rules read input {external.name!r} but the data has no column "
                f"{external.name!r} (columns: {shown})"))
        _check_type(data, read, external.type)
    for s in settings:
        if isinstance(s.voltage, str) and s.voltage not in by_name and \
                s.voltage not in constants:
            raise DataError(data.file, None, (
                f"charger {s.name!r} takes its reference voltage from input {s.voltage!r}, "
                f"which the data has no column for"))
    chargers = {
        s.name: SimulatedCharger(s.name, voltage=DEFAULT_VOLTAGE, phases=s.phases,
                                 min_amps=s.min_amps, max_amps=s.max_amps)
        for s in settings
    }
    drivers: list[tuple[Column, SimulatedCharger, str]] = []
    for column, charger, prop in drivers_spec:
        targets = [charger] if charger else names
        drivers.extend((column, chargers[name], prop) for name in targets)
    return Setup(data, program, settings, tick, inputs, constants, chargers, drivers,
                 stale_after)


def _check_driver(data: ReplayData, column: Column, prop: str) -> None:
    if column.is_text:
        raise DataError(data.file, 1, f"column {column.name!r} must hold numbers")
    if prop == "voltage" and column.dimension not in (VOLTAGE, NUMBER):
        raise DataError(data.file, 1, f"column {column.header()!r} must be a voltage [V]")
    if prop == "vehicle":
        assert column.numbers is not None
        for row, value in enumerate(column.numbers):
            if value == value and value not in (0.0, 1.0):
                raise DataError(data.file, data.lines[row], (
                    f"column {column.name!r}: {value:g} is not 0 (no vehicle) or 1 "
                    f"(vehicle connected)"))


def _check_type(data: ReplayData, column: Column, expected: ValueType) -> None:
    if expected.kind is Kind.NUMBER:
        if column.is_text:
            raise DataError(data.file, 1, (
                f"the rules read {column.name!r} as {expected}, the column holds text"))
        if column.unit is None and expected.dimension != NUMBER:
            raise DataError(data.file, 1, (
                f"column {column.name!r} has no unit, the rules read it as {expected}: "
                f"write its unit in the header, like {column.name}[W]"))
        if column.dimension != expected.dimension:
            raise DataError(data.file, 1, (
                f"column {column.header()!r} is {column.dimension.name}, the rules read "
                f"{column.name!r} as {expected}"))
    elif expected.kind in (Kind.TEXT, Kind.ENUM) and not column.is_text:
        raise DataError(data.file, 1, (
            f"the rules read {column.name!r} as {expected}, the column holds numbers "
            f"(write {column.name}[text] in the header)"))


# ---- the replay ---------------------------------------------------------------------------


@dataclass(slots=True)
class TraceRow:
    time: datetime
    charger: str
    state: str
    amps: float
    power: float
    inputs: tuple[Value, ...]
    lets: tuple[Value, ...]


class Recorder:
    """Receives every tick's outcome (for --trace and --plot); the default records nothing."""

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


class _Account:
    """Per charger, during a replay: its figures and whether it charged at the last tick."""

    __slots__ = ("charger", "charging", "figures", "name", "session")

    def __init__(self, name: str, charger: SimulatedCharger) -> None:
        self.name = name
        self.charger = charger
        self.figures = ChargerFigures()
        self.charging = False
        self.session = 0.0


def run(setup: Setup, recorder: Recorder | None = None,
        progress: ProgressCallback | None = None) -> SimulationResult:
    """Replay `setup`; deterministic: the same setup gives the same result.

    The loop is the hot path of a year-long replay: rows are applied only when the clock
    reaches them, and only the inputs whose value changed reach the store.
    """
    data = setup.data
    engine = Engine(setup.program, setup.settings)
    store = engine.store
    for column in setup.inputs:
        store.declare_input(column.name, _column_type(column),
                            setup.stale_after.get(column.name))
    first = data.start()
    for name, constant in setup.constants.items():
        store.set_input(name, constant, first)

    # Row columns as (position, name, numbers or texts, every reading counts); `held` is
    # what the store has. An input that can go stale needs every reading, even unchanged.
    feeds: list[tuple[int, str, Sequence[Value], bool]] = [
        (i, column.name, column.texts if column.texts is not None
         else column.numbers, column.name in setup.stale_after)  # type: ignore[misc]
        for i, column in enumerate(setup.inputs)
    ]
    held: list[Value] = [None] * len(feeds)
    pv_at = _power_column(setup.inputs, "pv")
    house_at = _power_column(setup.inputs, "house")
    drivers = setup.drivers
    accounts = [_Account(name, charger) for name, charger in setup.chargers.items()]
    read = {external.name for external in setup.program.externals}
    for name, charger in setup.chargers.items():
        charger.energy_in_status = bool({f"{name}.session_energy", f"{name}.total_energy"}
                                        & read)
    fired_counts = [0] * (max((r.index for r in setup.program.rules), default=-1) + 1)

    dt = setup.tick
    step = timedelta(seconds=dt)
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
    charging_state = ChargerState.CHARGING
    now = first
    row = applied = 0
    solar = surplus = 0.0
    pv_w = house_w = 0.0
    report_every = max(ticks // 100, 1)
    for k in range(ticks):
        if k:
            now += step
        # 1. refresh: the rows the clock has reached, then the chargers.
        limit = t0 + k * dt + 1e-6
        while row < rows and times[row] <= limit:
            if row >= zone_at:
                now = now.astimezone(zones[zone_next][1])
                zone_next += 1
                zone_at = zones[zone_next][0] if zone_next < len(zones) else rows
            for i, name, values, every_reading in feeds:
                value = values[row]
                if value is None or value != value or (value == held[i] and not every_reading):
                    continue        # an empty cell (None, NaN) keeps the last value
                held[i] = value
                set_input(name, value, now)
            for column, charger, prop in drivers:
                number = column.numbers[row]  # type: ignore[index]
                if number == number:
                    if prop == "vehicle":
                        charger.plug(number >= 0.5)
                    else:
                        charger.set_grid_voltage(number)
            row += 1
        if row != applied:
            applied = row
            if pv_at >= 0:
                pv_w = _number(held[pv_at])
            if house_at >= 0:
                house_w = _number(held[house_at])
        for account in accounts:
            set_charger(account.name, account.charger.read_status(), now)
        # 2-4. the engine; 5. send.
        result = engine_step(now)
        for command in result.commands:
            account = next(a for a in accounts if a.name == command.charger)
            try:
                apply_command(account.charger, command.kind, command.value)
            except ChargerError as error:
                commit(command, ok=False, error=str(error))
                continue
            commit(command, ok=True)
            account.figures.commands[command.kind.value] += 1
        for ref in result.fired:
            fired_counts[ref.index] += 1
        # The interval that follows this tick: energy, and the sun's share of it.
        solar += pv_w * dt
        available = (pv_w - house_w) * dt if pv_w > house_w else 0.0
        surplus += available
        for account in accounts:
            charger = account.charger
            if charger.state is charging_state:
                if not account.charging:
                    account.charging = True
                    account.figures.charges += 1
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
        if recorder is not None:
            recorder.tick(now, setup.chargers, held, result.lets)
        if progress is not None and k % report_every == 0:
            progress(k, ticks)
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
    return SimulationResult(ticks, first, end, solar, surplus,
                            {a.name: a.figures for a in accounts}, rules,
                            tuple(setup.settings), dt)


def shown_path(path: str) -> str:
    """A path as short as it can be said: relative to the working directory when inside."""
    import os

    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


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


# ---- outputs: trace, plot, table ------------------------------------------------------------


def _cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


class TraceRecorder(Recorder):
    """`--trace OUT.csv`: a row per tick and charger, written to a temporary file that takes
    the final name only when the replay finished (no partial output)."""

    def __init__(self, path: str | Path, setup: Setup) -> None:
        import csv
        import tempfile

        self.path = Path(path)
        self._factors = [_display_factor(column) for column in setup.inputs]
        self._headers = [_display_header(column) for column in setup.inputs]
        try:
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in finish/abort)
                "w", newline="", encoding="utf-8", dir=self.path.parent or Path("."),
                prefix=f".{self.path.name}.", suffix=".tmp", delete=False,
            )
        except OSError as error:
            raise DataError(str(path), None, f"cannot write the trace here: "
                                             f"{error.strerror}") from None
        self._handle = handle
        self._writer = csv.writer(handle, lineterminator="\n")
        self._lets: tuple[str, ...] | None = None

    def tick(self, now: datetime, chargers: dict[str, SimulatedCharger],
             inputs: list[Value], lets: dict[str, Value]) -> None:
        if self._lets is None:
            self._lets = tuple(lets)
            self._writer.writerow(["time", "charger", "state", "amps", "power_w",
                                   *self._headers, *self._lets])
        shown_inputs = [
            _cell(v / f if isinstance(v, float) else v) for v, f in zip(inputs, self._factors,
                                                                         strict=True)
        ]
        shown_lets = [_cell(lets.get(name)) for name in self._lets]
        stamp = now.isoformat()
        for name, charger in chargers.items():
            self._writer.writerow([stamp, name, charger.state.value, charger.amps,
                                   _cell(charger.power), *shown_inputs, *shown_lets])

    def finish(self) -> None:
        import os

        self._handle.close()
        os.replace(self._handle.name, self.path)

    def abort(self) -> None:
        import os

        self._handle.close()
        if os.path.exists(self._handle.name):
            os.unlink(self._handle.name)


def _display_factor(column: Column) -> float:
    from evse_rules.language.units import DISPLAY_UNITS

    unit = DISPLAY_UNITS.get(column.dimension) if column.unit is not None else None
    return unit.factor if unit is not None else 1.0


def _display_header(column: Column) -> str:
    from evse_rules.language.units import DISPLAY_UNITS

    unit = DISPLAY_UNITS.get(column.dimension) if column.unit is not None else None
    return f"{column.name}[{unit.symbol}]" if unit is not None else column.name


class PlotRecorder(Recorder):
    """`--plot OUT.png`: PV, house and EV power, and the charging current, over time."""

    def __init__(self, setup: Setup) -> None:
        from array import array

        self._pv = next((i for i, c in enumerate(setup.inputs) if c.name == "pv"), -1)
        self._house = next((i for i, c in enumerate(setup.inputs) if c.name == "house"), -1)
        self.times: list[datetime] = []
        self.pv: array[float] = array("d")
        self.house: array[float] = array("d")
        self.ev: array[float] = array("d")
        self.amps: array[float] = array("d")

    def tick(self, now: datetime, chargers: dict[str, SimulatedCharger],
             inputs: list[Value], lets: dict[str, Value]) -> None:
        self.times.append(now)
        self.pv.append(_number(inputs[self._pv]) if self._pv >= 0 else 0.0)
        self.house.append(_number(inputs[self._house]) if self._house >= 0 else 0.0)
        self.ev.append(sum(c.power for c in chargers.values()))
        self.amps.append(sum(float(c.amps) if c.state is ChargerState.CHARGING else 0.0
                             for c in chargers.values()))

    def save(self, path: str | Path, title: str) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(11, 6),
                                             height_ratios=(3, 1))
        top.plot(self.times, self.pv, label="PV", color="#f0a000", linewidth=0.8)
        top.plot(self.times, self.house, label="house", color="#707070", linewidth=0.8)
        top.fill_between(self.times, self.ev, step="post", label="EV", color="#2a7ab0",
                         alpha=0.6)
        top.set_ylabel("power (W)")
        top.legend(loc="upper left")
        top.set_title(title)
        bottom.step(self.times, self.amps, where="post", color="#2a7ab0")
        bottom.set_ylabel("charging (A)")
        figure.autofmt_xdate()
        figure.tight_layout()
        try:
            figure.savefig(path, dpi=110)
        except OSError as error:
            raise DataError(str(path), None, f"cannot write the plot: {error.strerror}") \
                from None
        finally:
            plt.close(figure)


def _number(value: Value) -> float:
    return value if isinstance(value, float) else 0.0


def _duration(seconds: float) -> str:
    if seconds and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _hours(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def render_table(result: SimulationResult, title: str) -> str:
    """The readable summary printed without --json."""
    summary = result.to_json()
    lines = [title, f"  {summary['start']} to {summary['end']}, {result.ticks} ticks of "
                    f"{_duration(result.tick)}"]
    for s in result.settings:
        # What the replay assumed, so that a quiet replay explains itself (a manual mode).
        phases = "1 phase" if s.phases == 1 else f"{s.phases} phases"
        lines.append(f"  charger {s.name}: mode {s.initial_mode} at the start, "
                     f"{s.min_amps}..{s.max_amps} A, {phases}, "
                     f"min on {_duration(s.min_on)}, min off {_duration(s.min_off)}")
    lines.append("")

    surplus = _kwh(result.surplus)

    def block(figures: dict[str, Any], with_solar: bool) -> None:
        ev = figures["ev_kwh"]
        share = f"{figures['ev_from_solar_kwh'] / ev:.0%} of the EV's" if ev else ""
        if with_solar:
            lines.append(f"  solar energy      {summary['solar_kwh']:9.2f} kWh")
            lines.append(f"    beyond house    {surplus:9.2f} kWh  (max(pv - house, 0))")
        lines.append(f"  EV energy         {ev:9.2f} kWh")
        if with_solar and surplus and ev:
            share += f", {figures['ev_from_solar_kwh'] / surplus:.0%} of the surplus"
        share = f"  ({share})" if share else ""
        lines.append(f"    from solar      {figures['ev_from_solar_kwh']:9.2f} kWh{share}")
        lines.append(f"    from grid       {figures['ev_from_grid_kwh']:9.2f} kWh")
        times = figures["charge_time_s"]
        detail = ""
        if figures["charges"]:
            detail = (f"  (shortest {_hours(times['min'])}, longest {_hours(times['max'])}, "
                      f"total {_hours(times['total'])})")
        lines.append(f"  charges           {figures['charges']:9d}{detail}")
        counts = ", ".join(f"{kind} {n}" for kind, n in figures["commands"].items())
        lines.append(f"  commands          {counts}")

    block(summary, True)
    if len(result.chargers) > 1:
        for name, figures in summary["chargers"].items():
            lines += ["", f"  charger {name}"]
            block(figures, False)
    if result.rules:
        width = max(len(ref) for ref in result.rules)
        lines += ["", f"  {'rule':<{width}}  fired"]
        lines += [f"  {ref:<{width}}  {count:5d}" for ref, count in result.rules.items()]
    return "\n".join(lines)
