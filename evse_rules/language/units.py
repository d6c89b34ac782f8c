"""Units and dimensions.

Every quantity is held as a float in the *canonical* unit of its dimension, so that no
conversion happens while rules run: a unit written in a rule file, a config file or a CSV
header is turned into a factor once, when it is read.

    dimension     canonical unit    other units
    number        (none)
    current       A                 mA
    voltage       V
    power         W                 kW
    energy        J (= W*s)         Wh, kWh
    duration      s                 ms, min, h
    percentage    %

A dimension is a vector of exponents over the base units (A, V, s, %): power is A*V,
energy is A*V*s, so W/V is A and W*h is energy, by plain algebra.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dimension:
    """Exponents of the base units A, V, s and %."""

    amp: int = 0
    volt: int = 0
    second: int = 0
    percent: int = 0

    def __mul__(self, other: Dimension) -> Dimension:
        return Dimension(
            self.amp + other.amp,
            self.volt + other.volt,
            self.second + other.second,
            self.percent + other.percent,
        )

    def __truediv__(self, other: Dimension) -> Dimension:
        return Dimension(
            self.amp - other.amp,
            self.volt - other.volt,
            self.second - other.second,
            self.percent - other.percent,
        )

    @property
    def name(self) -> str:
        """How a person calls it: 'power (W)', or the unit formula for uncommon ones."""
        known = _DIMENSION_NAMES.get(self)
        if known:
            return known
        parts = []
        for symbol, exp in (("A", self.amp), ("V", self.volt), ("s", self.second),
                            ("%", self.percent)):
            if exp == 1:
                parts.append(symbol)
            elif exp:
                parts.append(f"{symbol}^{exp}")
        return "quantity (" + "*".join(parts) + ")"

    def __str__(self) -> str:
        return self.name


NUMBER = Dimension()
CURRENT = Dimension(amp=1)
VOLTAGE = Dimension(volt=1)
POWER = Dimension(amp=1, volt=1)
ENERGY = Dimension(amp=1, volt=1, second=1)
DURATION = Dimension(second=1)
PERCENTAGE = Dimension(percent=1)

_DIMENSION_NAMES = {
    NUMBER: "number",
    CURRENT: "current (A)",
    VOLTAGE: "voltage (V)",
    POWER: "power (W)",
    ENERGY: "energy (Wh)",
    DURATION: "duration (s)",
    PERCENTAGE: "percentage (%)",
}


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit: its symbol, its dimension and the factor to the canonical unit."""

    symbol: str
    dimension: Dimension
    factor: float

    def to_canonical(self, value: float) -> float:
        return value * self.factor

    def from_canonical(self, value: float) -> float:
        return value / self.factor


UNITS: dict[str, Unit] = {
    u.symbol: u
    for u in (
        Unit("mA", CURRENT, 0.001),
        Unit("A", CURRENT, 1.0),
        Unit("V", VOLTAGE, 1.0),
        Unit("W", POWER, 1.0),
        Unit("kW", POWER, 1000.0),
        Unit("Wh", ENERGY, 3600.0),
        Unit("kWh", ENERGY, 3_600_000.0),
        Unit("ms", DURATION, 0.001),
        Unit("s", DURATION, 1.0),
        Unit("min", DURATION, 60.0),
        Unit("h", DURATION, 3600.0),
        Unit("%", PERCENTAGE, 1.0),
    )
}

# Spellings people use for the same units, accepted in config files and CSV headers.
ALIASES: dict[str, str] = {
    "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "mins": "min", "minute": "min", "minutes": "min",
    "hour": "h", "hours": "h",
    # Apparent power (volt-amperes) is taken as real power: chargers draw it at a power
    # factor of about 1, and meters that report VA are read as W.
    "VA": "W", "kVA": "kW", "va": "W", "kva": "kW",
}

# The unit a value is shown in, per dimension (energy in Wh rather than joules).
DISPLAY_UNITS: dict[Dimension, Unit] = {
    CURRENT: UNITS["A"],
    VOLTAGE: UNITS["V"],
    POWER: UNITS["W"],
    ENERGY: UNITS["Wh"],
    DURATION: UNITS["s"],
    PERCENTAGE: UNITS["%"],
}


class UnitError(ValueError):
    """A unit symbol or a quantity text that cannot be read."""


def lookup_unit(symbol: str) -> Unit:
    """The unit for a symbol such as 'kW' or 'minutes'; UnitError names the known ones."""
    unit = UNITS.get(symbol) or UNITS.get(ALIASES.get(symbol.lower(), ""))
    if unit is None:
        known = ", ".join(UNITS)
        # 'kw' for 'kW', 'KWH' for 'kWh': the case is the usual slip (the checker says so too).
        same = [u for u in UNITS if u.lower() == symbol.lower()]
        hint = f"; did you mean {same[0]}?" if same else ""
        raise UnitError(f"unknown unit {symbol!r} (known units: {known}){hint}")
    return unit


@dataclass(frozen=True, slots=True)
class Quantity:
    """A canonical magnitude with its dimension."""

    value: float
    dimension: Dimension

    def __str__(self) -> str:
        return format_quantity(self.value, self.dimension)


_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z%]*)\s*$")


def parse_quantity(text: str) -> Quantity:
    """Read '10 min', '1.5kW', '230' (a number) into canonical units."""
    match = _QUANTITY.match(text)
    if not match:
        raise UnitError(f"not a quantity: {text!r} (expected a number and a unit, like '5 min')")
    number, symbol = match.groups()
    unit = lookup_unit(symbol) if symbol else None
    value = unit.to_canonical(float(number)) if unit else float(number)
    if not math.isfinite(value):     # '1e400 s' reads as infinity: no tick or value is that
        raise UnitError(f"not a quantity: {text!r} (the number is too large)")
    return Quantity(value, unit.dimension if unit else NUMBER)


def parse_duration(text: str) -> float:
    """Seconds in a duration such as '1 min' or '10 s'; it must be positive."""
    quantity = parse_quantity(text)
    if quantity.dimension != DURATION:
        raise UnitError(f"{text!r} is not a duration (write it like '30 s', '5 min' or '1 h')")
    if quantity.value <= 0:
        raise UnitError(f"duration {text!r} must be positive")
    return quantity.value


def format_quantity(value: float, dimension: Dimension) -> str:
    """A canonical magnitude as a person reads it: 1400 W, 16 A, 2.5 kWh."""
    unit = DISPLAY_UNITS.get(dimension)
    if unit is None:
        return f"{value:g}" if dimension == NUMBER else f"{value:g} {dimension.name}"
    shown = unit.from_canonical(value)
    if dimension == ENERGY and abs(shown) >= 10_000:
        return f"{shown / 1000:g} kWh"
    return f"{shown:g} {unit.symbol}" if unit.symbol != "%" else f"{shown:g}%"
