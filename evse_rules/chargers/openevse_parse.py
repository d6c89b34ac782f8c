"""WiFi API documents (/config, /status) to typed values, units converted.

Units (API-NOTES section 2): `amp` mA, `voltage` V, `power` W (v4.2.0+), `pilot` A, `temp` 0.1 degC
or `false` when no sensor, `session_energy` Wh and `total_energy` kWh (4.1.1+; before that only
`wattsec` Ws and `watthour` Wh exist), `vehicle` 0/1.

Every number is checked before use: finite, and within a plausible range for its field (the
`*_RANGE` constants below, in the firmware's units). Anything else is a ChargerProtocolError
naming the charger, the request, the field and the value: a charger that answers NaN or a
pilot of 1e300 A is treated as not answering (offline, with that reason), never believed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from evse_rules.chargers.base import ChargerStatus
from evse_rules.chargers.firmware import FirmwareVersion
from evse_rules.chargers.states import map_state
from evse_rules.errors import ChargerProtocolError

# The firmware's VOLTAGE_DEFAULT, reported until something better is known (API-NOTES section 2).
DEFAULT_VOLTAGE = 240.0
# vflags bit "EV connected" (API-NOTES section 2, `flags`).
FLAG_EV_CONNECTED = 0x0100

# Plausible ranges, in the units of the WiFi API. No OpenEVSE delivers more than 80 A (the
# largest controller's max_current_hard) or 100 kW; mains is below 500 V; the controller's
# sensors read -50..150 degC. Energies only grow from 0.
Range = tuple[float, float]
AMPS: Range = (0.0, 80.0)                 # pilot, charge_current, min/max_current_hard
MILLIAMPS: Range = (0.0, 80_000.0)        # amp
VOLTS: Range = (0.0, 500.0)
WATTS: Range = (0.0, 100_000.0)
DECI_DEGREES: Range = (-500.0, 1500.0)    # temp, 0.1 degC
ENERGY: Range = (0.0, math.inf)           # session_energy, total_energy, wattsec, watthour
STATE_CODES: Range = (0.0, 65_535.0)
FLAGS: Range = (0.0, 4_294_967_295.0)     # vehicle, flags
SHOWN_CHARS = 60                          # of a bad value in a message


@dataclass(frozen=True, slots=True)
class ChargerConfig:
    """What the drivers need from /config."""

    version: FirmwareVersion | None   # WiFi firmware; None when /config has no `version`
    controller: str | None            # controller firmware (`firmware`)
    min_amps: float | None            # min_current_hard
    max_amps: float | None            # max_current_hard
    three_phase: bool | None         # is_threephase; None before 4.2 (the key is not there)
    # The EVSE fields appear only once the WiFi module has read the controller (API-NOTES 3);
    # an incomplete config is read again on the next refresh.
    complete: bool


def shown(value: object) -> str:
    """A value for a message: its repr, cut to SHOWN_CHARS characters."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."


def checked(name: str, where: str, key: str, value: object, bounds: Range) -> float:
    """`value` as a float if it is a finite number within `bounds`, else ChargerProtocolError."""
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ChargerProtocolError(name, f"{where}: `{key}` is {shown(value)}, not a number")
    try:
        result = float(value)
    except OverflowError:     # an integer of 400 digits
        result = math.inf
    if not (math.isfinite(result) and low <= result <= high):
        raise ChargerProtocolError(name, f"{where}: `{key}` is {shown(value)}, not a number "
                                   f"within {low:g}..{high:g}")
    return result


def number(name: str, doc: dict[str, Any], key: str, where: str,
           bounds: Range) -> float | None:
    """doc[key] as a float within `bounds`, None when absent (or `false`, the firmware's
    "not fitted")."""
    value = doc.get(key)
    if value is None or value is False:
        return None
    return checked(name, where, key, value, bounds)


def required(name: str, doc: dict[str, Any], key: str, where: str, bounds: Range) -> float:
    value = number(name, doc, key, where, bounds)
    if value is None:
        raise ChargerProtocolError(name, f"{where}: the field `{key}` is missing")
    return value


def parse_config(name: str, doc: dict[str, Any], where: str) -> ChargerConfig:
    raw_version = doc.get("version")
    version = None
    if isinstance(raw_version, str) and raw_version.strip():
        version = FirmwareVersion.parse(raw_version)
    controller = doc.get("firmware")
    min_amps = number(name, doc, "min_current_hard", where, AMPS)
    max_amps = number(name, doc, "max_current_hard", where, AMPS)
    return ChargerConfig(
        version=version,
        controller=controller if isinstance(controller, str) else None,
        min_amps=min_amps,
        max_amps=max_amps,
        three_phase=(doc["is_threephase"] is True) if "is_threephase" in doc else None,
        complete=min_amps is not None and max_amps is not None and version is not None,
    )


def parse_status(
    name: str, doc: dict[str, Any], config: ChargerConfig | None, where: str, phases: int = 1
) -> ChargerStatus:
    """A /status reply as a ChargerStatus. `phases` is the configured number of phases, for
    the power of firmware that neither reports it nor says whether it is three-phase."""
    code = required(name, doc, "state", where, STATE_CODES)
    if code != int(code):
        raise ChargerProtocolError(name, f"{where}: `state` is {code!r}, not an integer")
    state, error = map_state(int(code))
    current = required(name, doc, "amp", where, MILLIAMPS) / 1000.0  # mA -> A
    amps = required(name, doc, "pilot", where, AMPS)
    voltage = number(name, doc, "voltage", where, VOLTS) or DEFAULT_VOLTAGE

    vehicle_flag = number(name, doc, "vehicle", where, FLAGS)
    if vehicle_flag is not None:
        vehicle = vehicle_flag != 0
    else:
        flags = number(name, doc, "flags", where, FLAGS)
        vehicle = bool(int(flags) & FLAG_EV_CONNECTED) if flags is not None else code in (2, 3)

    power = number(name, doc, "power", where, WATTS)  # v4.2.0+
    if power is None:
        # `amp` is per phase; the firmware multiplies by 3 when is_threephase (API-NOTES 2).
        if config is not None and config.three_phase is not None:
            phases = 3 if config.three_phase else 1
        power = current * voltage * phases

    session = number(name, doc, "session_energy", where, ENERGY)  # Wh, 4.1.1+
    if session is None:
        wattsec = number(name, doc, "wattsec", where, ENERGY)
        session = wattsec / 3600.0 if wattsec is not None else 0.0
    total = number(name, doc, "total_energy", where, ENERGY)  # kWh, 4.1.1+
    if total is None:
        watthour = number(name, doc, "watthour", where, ENERGY)
        total = watthour / 1000.0 if watthour is not None else 0.0

    temp = number(name, doc, "temp", where, DECI_DEGREES)
    limits: dict[str, float] = {}
    if config is not None and config.min_amps is not None:
        limits["min_amps"] = config.min_amps
    if config is not None and config.max_amps is not None:
        limits["max_amps"] = config.max_amps
    return ChargerStatus(
        state=state, vehicle=vehicle, current=current, amps=amps, voltage=voltage, power=power,
        session_energy=session, total_energy=total,
        temp=temp / 10.0 if temp is not None else None,  # 0.1 degC -> degC
        firmware=config.version.raw if config is not None and config.version else None,
        error=error, **limits,
    )
