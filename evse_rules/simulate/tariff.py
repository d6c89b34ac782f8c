"""The price series of a replay (docs/tariffs.md): from a column of the data, or from the
config's price input (its CSV file or its off-peak windows), fed to the store as live.

A price column's row holds from its time until the next row's, and rows of one price are
one slot within each hour (so that a column of minutes gives hourly slots, not 60 one-minute
ones, when the price changes by the hour). A price input read from a url cannot be
replayed: its prices of the day are gone; give them as a column or a file.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from evse_rules.errors import DataError
from evse_rules.inputs.csv_replay import Column, ReplayData
from evse_rules.inputs.prices import (
    PLAUSIBLE_PRICE,
    PriceError,
    read_csv_file,
    window_series,
)
from evse_rules.language.program import ExternalKind, Program
from evse_rules.prices import PriceSeries, PriceSlot

if TYPE_CHECKING:
    from evse_rules.config import Config

# Without a config, a column of this name is a price column (the rules say `price`).
PRICE_COLUMN = "price"


def price_names(data: ReplayData, config: Config | None) -> frozenset[str] | None:
    """The inputs that carry prices, for the checker: the config's price inputs and a
    `price` column; None without a config (any number column may)."""
    if config is None:
        return None
    names = {name for name, spec in config.inputs.items() if spec.kind == "prices"}
    if data.column(PRICE_COLUMN) is not None:
        names.add(PRICE_COLUMN)
    return frozenset(names)


def _zone(data: ReplayData, config: Config | None) -> tzinfo:
    zone = config.tzinfo() if config is not None else None
    return zone if zone is not None else data.zones[0][1]


def config_prices(data: ReplayData, config: Config | None) -> dict[str, PriceSeries]:
    """The series of the config's price inputs that the data has no column for."""
    if config is None:
        return {}
    zone = _zone(data, config)
    found: dict[str, PriceSeries] = {}
    for name, spec in config.inputs.items():
        if spec.kind != "prices" or data.column(name) is not None:
            continue
        if spec.file is not None:
            try:
                found[name] = read_csv_file(spec.file, zone, spec.scale)
            except PriceError as error:
                raise DataError(config.name, None, f"inputs.{name}.file: {error}") from None
        elif spec.offpeak is not None:
            first, last = data.start().astimezone(zone), data.end().astimezone(zone)
            found[name] = window_series(spec.windows(), spec.offpeak_price or 0.0,
                                        spec.peak_price or 0.0, first.date(), zone,
                                        last.date())
        else:
            found[name] = PriceSeries(())     # a url: said when the rules read it
    return found


def replay_prices(data: ReplayData, config: Config | None, program: Program,
                  from_config: dict[str, PriceSeries]) -> dict[str, PriceSeries]:
    """Every series the replay feeds: the config's, and one per price column the rules
    read (a `cheapest` or an `offpeak` of it, or the price input of the config)."""
    wanted = {e.name for e in program.externals if e.kind is ExternalKind.PRICES}
    if config is not None:
        # Every input of the config reaches the rules (as an http input needs a column, a
        # price input read from a url needs one, or a file).
        wanted |= {n for n, spec in config.inputs.items() if spec.kind == "prices"}
    if data.column(PRICE_COLUMN) is not None:
        wanted.add(PRICE_COLUMN)
    found: dict[str, PriceSeries] = {}
    for name in sorted(wanted):
        column = data.column(name)
        if column is not None:
            found[name] = column_series(data, column)
        elif name in from_config:
            series = from_config[name]
            if not series.slots and config is not None:
                raise DataError(config.name, None, (
                    f"inputs.{name}: a replay cannot read prices from a url (they are "
                    f"gone): give them as a column {name} of the data or as file = "
                    "\"prices.csv\""))
            found[name] = series
        else:
            shown = ", ".join(data.names)
            raise DataError(data.file, None, (
                f"the rules read the prices of {name!r} but the data has no column {name!r} "
                f"(columns: {shown}) and the config no price input of that name"))
    return found


def column_series(data: ReplayData, column: Column) -> PriceSeries:
    """A price column as slots: each row's price until the next row with a price (the
    last row's until the end of the data, or an hour)."""
    if column.numbers is None:
        raise DataError(data.file, 1, f"column {column.name!r} must hold prices (numbers)")
    times, numbers, lines = data.times, column.numbers, data.lines
    points: list[tuple[float, float]] = []
    for row, price in enumerate(numbers):
        if price != price:
            continue                    # an empty cell: the last price holds
        if abs(price) > PLAUSIBLE_PRICE:
            raise DataError(data.file, lines[row], (
                f"column {column.name!r}: {price:g} per kWh is beyond any tariff (a price "
                f"per MWh? write it per kWh)"))
        moment = times[row]
        if points and points[-1][1] == price and int(moment // 3600) == int(
                points[-1][0] // 3600):
            continue                    # the same price within the same hour: one slot
        if points and points[-1][0] == moment:
            points[-1] = (moment, price)
            continue
        points.append((moment, price))
    if not points:
        raise DataError(data.file, None, f"column {column.name!r} holds no price")
    last = times[-1]
    zone = data.zones[0][1]
    slots: list[PriceSlot] = []
    for i, (start, price) in enumerate(points):
        end = points[i + 1][0] if i + 1 < len(points) else max(last + 60.0, start + 3600.0)
        slots.append(PriceSlot(_at(start, zone), _at(end, zone), price))
    return PriceSeries(tuple(slots))


def _at(seconds: float, zone: tzinfo) -> datetime:
    return datetime.fromtimestamp(seconds, zone)


def first_vehicle(data: ReplayData, column: Column | None) -> datetime:
    """When a vehicle is first plugged in: the first row of a `vehicle` column that says 1,
    else the replay's start (the vehicle is connected throughout)."""
    if column is not None and column.numbers is not None:
        for row, value in enumerate(column.numbers):
            if value == value and value >= 0.5:
                return datetime.fromtimestamp(data.times[row], data.zones[0][1])
    return data.start()

