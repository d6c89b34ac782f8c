"""Setting a replay up: the data, the config and the rules, checked against each other.

Everything that can be wrong with a replay is found here, before the first tick: a bad row,
an input the rules read that the data lacks, a column in the wrong unit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from evse_rules.chargers.simulated import SimulatedCharger
from evse_rules.engine import ChargerSettings
from evse_rules.engine.site import SiteSettings
from evse_rules.errors import DataError
from evse_rules.inputs.csv_replay import (
    Column,
    ReplayData,
    boolean_column,
    column_in_unit,
    load_replay_data,
)
from evse_rules.language.program import (
    Environment,
    ExternalKind,
    Kind,
    Program,
    ValueType,
)
from evse_rules.language.units import (
    NUMBER,
    PERCENTAGE,
    POWER,
    VOLTAGE,
    Quantity,
    lookup_unit,
)
from evse_rules.prices import PriceSeries
from evse_rules.simulate.bounds import stale_warnings
from evse_rules.simulate.events import CHARGER_ACTIONS, Event, EventSpec, place_events
from evse_rules.simulate.tariff import config_prices, price_names, replay_prices

if TYPE_CHECKING:
    from evse_rules.config import Config

DEFAULT_CHARGER = "evse"
DEFAULT_VOLTAGE = 240.0
# Columns that drive the simulated chargers rather than feed the rules as inputs.
CHARGER_COLUMNS = ("vehicle", "voltage", "soc")
# The column that is a site meter recorded without the car, unless --meter says otherwise.
DEFAULT_METER = "grid"


@dataclass(frozen=True, slots=True)
class Meter:
    """A site meter column recorded without the car: the rules see it with the simulated
    chargers' power added, as a live meter reads it. `sign` is 1 when import is positive
    (a grid meter), -1 when export is positive."""

    column: Column
    sign: float


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A simulated vehicle's battery (Wh; None: it never fills) and state of charge (%)."""

    battery: float | None = None
    soc: float = 50.0


@dataclass(slots=True)
class Setup:
    """Everything a replay needs, checked before the first tick."""

    data: ReplayData
    program: Program
    settings: list[ChargerSettings]
    tick: float
    inputs: list[Column]                          # the columns the store receives
    constants: dict[str, Quantity]                # config constant inputs of type number
    chargers: dict[str, SimulatedCharger]
    drivers: list[tuple[Column, SimulatedCharger, str]]   # (column, charger, "vehicle"/...)
    stale_after: dict[str, float] = field(default_factory=dict)   # s, set in the config
    meter: Meter | None = None
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)             # said before the replay
    # Config constant inputs of type text or boolean: given to the rules as they are.
    other_constants: dict[str, str | bool] = field(default_factory=dict)
    site: SiteSettings | None = None              # the config's [site] limit
    # The price series fed to the store, by price input (simulate/tariff.py).
    prices: dict[str, PriceSeries] = field(default_factory=dict)


def column_type(column: Column) -> ValueType:
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
    *,
    meter: str | None = None,
    vehicle: Vehicle | None = None,
    events: Sequence[EventSpec] = (),
) -> Setup:
    """Load the data, the config and the rules; check that the data gives what rules read.

    `meter` names the site meter column recorded without the car ("grid", import positive;
    "NAME:export" for export positive; "none" for none; default: the config's `[simulate]`
    meter, else a `grid` power column).
    `vehicle` gives every charger that battery and state of charge (else the config's).
    `events` are a person's actions, placed on the replay's clock."""
    data = load_replay_data(data_path)
    config: Config | None = None
    meter_label = f"--meter {meter}"
    meter_required = True       # a meter the command line names must be in the data
    if config_path is not None:
        from evse_rules.config import load_config

        config = load_config(config_path)
    if config is not None:
        settings = config.charger_settings()
        tick = config.tick_seconds
        paths: list[str | Path] = list(rule_paths) or list(config.rule_paths)
        env_inputs = dict(config.environment().inputs)
        constants = {name: spec.constant() for name, spec in config.inputs.items()
                     if spec.kind == "constant" and spec.type == "number"}
        # Text and boolean constants reach the rules as they do live (ConstantInput).
        others = {name: _text_or_boolean(spec.constant_value())
                  for name, spec in config.inputs.items()
                  if spec.kind == "constant" and spec.type != "number"}
        # Only an explicit stale_after: the default follows the polling interval, which
        # says nothing about how often a recorded file has rows.
        stale_after = {name: spec.stale_after for name, spec in config.inputs.items()
                       if spec.stale_after is not None}
        vehicles = {name: Vehicle(spec.battery, spec.soc)
                    for name, spec in config.chargers.items()}
        table = config.simulate
        if meter is None and table is not None and table.meter_spec() is not None:
            # The config's meter, for whatever data is replayed: a file without that
            # column is replayed without a meter (a warning), as a `grid` column would be.
            meter = table.meter_spec()
            meter_label = (f"{config.source or config_path}: [simulate] meter = "
                           f"{table.meter or 'grid'!r}, meter_sign = {table.meter_sign!r}")
            meter_required = False
    else:
        # Without a config: one simulated charger `evse`, mode auto (DESIGN.md section 7),
        # or the chargers the files declare (`charger garage, carport`), each alike.
        from evse_rules.language import declared_chargers

        paths = list(rule_paths)
        names = declared_chargers(paths) or (DEFAULT_CHARGER,)
        settings = [ChargerSettings(name, initial_mode="auto") for name in names]
        tick = 60.0
        env_inputs = {}
        constants = {}
        others = {}
        stale_after = {}
        vehicles = {}
    if not paths:
        raise DataError(str(data_path), None, "no rule files to replay (name them, or give "
                                               "a config with rules = [...])")
    names = tuple(s.name for s in settings)
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
        env_inputs.setdefault(column.name, column_type(column))
    if load is None:
        from evse_rules.language import load_program

        load = load_program
    # A column without a unit (numbers or texts) takes the type a rule file declares.
    config_inputs = set(config.inputs) if config is not None else set()
    open_types = frozenset(c.name for c in inputs if c.unit is None
                           and c.name not in config_inputs)
    shown_file = Path(data.file).name
    origins = {c.name: f"column {c.name} of {shown_file}" for c in inputs
               if c.name not in config_inputs}
    program = load(paths, Environment(
        inputs=env_inputs, chargers=names, chargers_from_config=config is not None,
        limits={s.name: (float(s.min_amps), float(s.max_amps)) for s in settings},
        origins=origins, open_types=open_types, prices=price_names(data, config)))
    by_name = {column.name: column for column in inputs}
    # A price input of the config without a column: its file or windows give the series.
    from_config = config_prices(data, config)
    declared_units: dict[str, str] = getattr(program, "input_units", {})
    for external in program.externals:
        if external.kind is not ExternalKind.INPUT or external.name in constants \
                or external.name in others or external.name in from_config:
            continue
        read = by_name.get(external.name)
        if read is None:
            shown = ", ".join(data.names)
            raise DataError(data.file, None, (
                f"the rules read input {external.name!r} but the data has no column "
                f"{external.name!r} (columns: {shown})"))
        typed = _typed_column(data, read, external.type, declared_units.get(external.name))
        if typed is not read:
            inputs[inputs.index(read)] = by_name[external.name] = read = typed
        _check_type(data, read, external.type)
    for s in settings:
        if isinstance(s.voltage, str) and s.voltage not in by_name and \
                s.voltage not in constants:
            raise DataError(data.file, None, (
                f"charger {s.name!r} takes its reference voltage from input {s.voltage!r}, "
                f"which the data has no column for"))
    chargers = {}
    for s in settings:
        car = vehicle or vehicles.get(s.name) or Vehicle()
        chargers[s.name] = SimulatedCharger(s.name, voltage=DEFAULT_VOLTAGE, phases=s.phases,
                                            min_amps=s.min_amps, max_amps=s.max_amps,
                                            capacity_wh=car.battery, soc=car.soc)
    drivers: list[tuple[Column, SimulatedCharger, str]] = []
    for column, charger, prop in drivers_spec:
        targets = [charger] if charger else names
        drivers.extend((column, chargers[name], prop) for name in targets)
    # A row that plugs a car in and gives its state of charge: the plug first (a new
    # session starts with the usual charge), then the reading.
    drivers.sort(key=lambda driver: driver[2] != "vehicle")
    site_meter, meter_warning = _meter(data, inputs, meter, meter_label, meter_required)
    warnings = stale_warnings(data, stale_after)
    if meter_warning is not None:
        warnings.append(meter_warning)
    placed = place_events(events, data.times[0], data.times[-1], data.zones[0][1])
    _check_events(data, placed, names, program)
    for event in placed:
        if not data.times[0] <= event.at <= data.times[-1]:
            warnings.append(f"{event.spec.where}: warning: {event.spec.text()} at "
                            f"{event.spec.once} is outside the data ({data.start().isoformat()} "
                            f"to {data.end().isoformat()}): it never happens")
    return Setup(data, program, settings, tick, inputs, constants, chargers, drivers,
                 stale_after, site_meter, placed, warnings, others,
                 config.site_settings() if config is not None else None,
                 prices=replay_prices(data, config, program, from_config))


def _text_or_boolean(value: float | str | bool) -> str | bool:
    """A constant of type text or boolean (the config checked its value against its type)."""
    if isinstance(value, float):
        raise TypeError(f"a constant of type text or boolean gave the number {value!r}")
    return value


def _meter(data: ReplayData, inputs: list[Column], given: str | None, label: str,
           required: bool = True) -> tuple[Meter | None, str | None]:
    """The site meter column recorded without the car, if any (see `prepare`), and a
    warning when the config's meter is not in the data (`required` False). `label` says
    where `given` comes from, for errors: `--meter grid` or the config's keys."""
    if given is not None and given.strip().lower() == "none":
        return None, None
    name, _, sign = (given or DEFAULT_METER).partition(":")
    name, sign = name.strip(), sign.strip().lower()
    if sign not in ("", "import", "export"):
        raise DataError(data.file, None, (
            f"{label}: the sign is import (import positive) or export (export "
            f"positive), not {sign!r}"))
    column = next((c for c in inputs if c.name == name), None)
    if column is None:
        if given is None:
            return None, None
        missing = f"the data has no column {name!r} (columns: {', '.join(data.names)})"
        if not required:
            return None, f"{data.file}: warning: {label}: {missing}: replayed without a meter"
        raise DataError(data.file, None, f"{label}: {missing}")
    if column.dimension != POWER:
        if given is None:
            return None, None
        raise DataError(data.file, 1, (
            f"{label}: column {column.header()!r} is not a power (write its unit, "
            f"like {name}[W])"))
    return Meter(column, -1.0 if sign == "export" else 1.0), None


def _check_events(data: ReplayData, events: list[Event], names: Sequence[str],
                  program: Program) -> None:
    """Every event names a charger and a variable that exist, before the first tick."""
    variables = {decl.name for decl in program.variables}
    for event in events:
        spec = event.spec
        if spec.action in CHARGER_ACTIONS:
            if spec.charger is None and len(names) > 1:
                raise DataError(spec.where, None, (
                    f"{spec.text()}: name the charger, like {names[0]}.{spec.action} "
                    f"(chargers: {', '.join(names)})"))
            if spec.charger is not None and spec.charger not in names:
                raise DataError(spec.where, None, (
                    f"{spec.text()}: no charger named {spec.charger!r} (chargers: "
                    f"{', '.join(names)})"))
        elif spec.action not in variables:
            known = ", ".join(sorted(variables)) or "none"
            raise DataError(spec.where, None, (
                f"{spec.text()}: the rules declare no variable {spec.action!r} "
                f"(variables: {known})"))


def _check_driver(data: ReplayData, column: Column, prop: str) -> None:
    if column.is_text:
        raise DataError(data.file, 1, f"column {column.name!r} must hold numbers")
    if prop == "voltage" and column.dimension not in (VOLTAGE, NUMBER):
        raise DataError(data.file, 1, f"column {column.header()!r} must be a voltage [V]")
    if prop == "voltage":
        # The charger's power is amps times this voltage: zero or below would count
        # negative or no energy for a charging car. The config allows 100..500 V.
        assert column.numbers is not None
        for row, value in enumerate(column.numbers):
            if value == value and not 100.0 <= value <= 500.0:
                raise DataError(data.file, data.lines[row], (
                    f"column {column.name!r}: {value:g} V is not a mains voltage "
                    f"(100..500 V)"))
    if prop == "soc":
        if column.dimension not in (PERCENTAGE, NUMBER):
            raise DataError(data.file, 1, f"column {column.header()!r} must be a state of "
                                          "charge [%]")
        assert column.numbers is not None
        for row, value in enumerate(column.numbers):
            if value == value and not 0.0 <= value <= 100.0:
                raise DataError(data.file, data.lines[row], (
                    f"column {column.name!r}: {value:g} % is not a state of charge "
                    f"(0..100 %)"))
    if prop == "vehicle":
        assert column.numbers is not None
        for row, value in enumerate(column.numbers):
            if value == value and value not in (0.0, 1.0):
                raise DataError(data.file, data.lines[row], (
                    f"column {column.name!r}: {value:g} is not 0 (no vehicle) or 1 "
                    f"(vehicle connected)"))


def _typed_column(data: ReplayData, column: Column, expected: ValueType,
                  declared: str | None) -> Column:
    """The column as the rules read it: booleans from 0/1 or true/false, numbers without a
    unit in the unit a rule file declares (`input pv: kW`)."""
    if expected.kind is Kind.BOOLEAN:
        return boolean_column(data, column)
    if expected.kind is Kind.NUMBER and column.unit is None and not column.is_text \
            and declared is not None and expected.dimension != NUMBER:
        return column_in_unit(column, lookup_unit(declared))
    return column


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


