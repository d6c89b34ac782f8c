"""The names every rule file may read without declaring them: charger properties, built-ins,
weekdays, and the functions of the language."""

from __future__ import annotations

from evse_rules.language.program import CHARGER_STATES, MODES, Kind, ValueType
from evse_rules.language.units import (
    CURRENT,
    ENERGY,
    NUMBER,
    PERCENTAGE,
    POWER,
    VOLTAGE,
)

BOOLEAN_TYPE = ValueType(Kind.BOOLEAN)
TEXT_TYPE = ValueType(Kind.TEXT)
TIME_TYPE = ValueType(Kind.TIME)
NUMBER_TYPE = ValueType(Kind.NUMBER, NUMBER)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Per charger (DESIGN.md section 5). Energies are held in the canonical unit (J), like every
# quantity; the engine converts the charger's Wh / kWh when it fills the values.
CHARGER_PROPERTIES: dict[str, ValueType] = {
    "state": ValueType(Kind.ENUM, choices=CHARGER_STATES),
    "vehicle": BOOLEAN_TYPE,
    "charging": BOOLEAN_TYPE,
    "online": BOOLEAN_TYPE,
    "current": ValueType(Kind.NUMBER, CURRENT),
    "amps": ValueType(Kind.NUMBER, CURRENT),
    "min_amps": ValueType(Kind.NUMBER, CURRENT),
    "max_amps": ValueType(Kind.NUMBER, CURRENT),
    "voltage": ValueType(Kind.NUMBER, VOLTAGE),
    "power": ValueType(Kind.NUMBER, POWER),
    "session_energy": ValueType(Kind.NUMBER, ENERGY),
    "total_energy": ValueType(Kind.NUMBER, ENERGY),
    "temp": NUMBER_TYPE,
    "mode": ValueType(Kind.ENUM, choices=MODES),
    "phases": NUMBER_TYPE,
    # The vehicle's state of charge: known only where something reports it (a replay's
    # simulated vehicle with a battery); unknown otherwise.
    "soc": ValueType(Kind.NUMBER, PERCENTAGE),
}

# Computed from the `now` given to each tick, in its own time zone.
BUILTINS: dict[str, ValueType] = {
    "now": TEXT_TYPE,                                  # "2026-11-24T22:00:00+01:00"
    "time": TIME_TYPE,                                 # seconds since local midnight
    "hour": NUMBER_TYPE,                               # 0..23
    "weekday": ValueType(Kind.ENUM, choices=WEEKDAYS),
    "date": TEXT_TYPE,                                 # "2026-11-24"
    "minute": NUMBER_TYPE,                             # 0..59
}

# Day names accepted after `at HH:MM on`.
DAY_NAMES: dict[str, tuple[str, ...]] = {
    **{day: (day,) for day in WEEKDAYS},
    "monday": ("mon",), "tuesday": ("tue",), "wednesday": ("wed",), "thursday": ("thu",),
    "friday": ("fri",), "saturday": ("sat",), "sunday": ("sun",),
    "weekdays": WEEKDAYS[:5], "weekend": WEEKDAYS[5:],
}

# Function name -> how it is called, for error messages.
FUNCTIONS: dict[str, str] = {
    "min": "min(a, b, ...) or min(x, DURATION)",
    "max": "max(a, b, ...) or max(x, DURATION)",
    "avg": "avg(x, DURATION)",
    "clamp": "clamp(x, low, high)",
    "round": "round(x)",
    "floor": "floor(x)",
    "ceil": "ceil(x)",
    "abs": "abs(x)",
    "known": "known(x)",
    "today": "today(x), like today(total_energy)",
    "smooth": "smooth(x, rise DURATION, fall DURATION)",
    # The tariff functions (language/tariffs.py).
    "cheapest": "cheapest(price, DURATION, UNTIL), like cheapest(price, 3 h, 07:00)",
    "offpeak": "offpeak(price)",
}
