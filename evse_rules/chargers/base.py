"""The charger interface: what the engine needs from any charger, real or simulated.

The engine never knows which firmware, protocol or model is behind a charger: it calls these
methods and reads `ChargerStatus`. Drivers convert the firmware's units here (mA to A, 0.1 degC
to degC) so that every field below has one fixed unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol, runtime_checkable


class ChargerState(str, Enum):  # noqa: UP042  (str mix-in: members compare equal to text)
    """A charger's state, as rules name it (`state is charging`)."""

    STARTING = "starting"
    NOT_CONNECTED = "not_connected"
    CONNECTED = "connected"
    CHARGING = "charging"
    SLEEPING = "sleeping"
    DISABLED = "disabled"
    ERROR = "error"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class ChargerStatus:
    """One reading of a charger. Units are fixed: A, V, W, Wh (session), kWh (total), degC."""

    state: ChargerState
    vehicle: bool                  # a vehicle is plugged in
    current: float                 # A, measured
    amps: float                    # A, the setpoint the pilot signals
    voltage: float                 # V
    power: float                   # W
    session_energy: float          # Wh
    total_energy: float            # kWh
    temp: float | None = None      # degC
    min_amps: float = 6.0          # A, the charger's hard limits
    max_amps: float = 32.0
    firmware: str | None = None    # e.g. "v5.1.2" (WiFi) / "8.2.2" (controller)
    error: str | None = None       # why the state is `error` or `offline`, for people

    @property
    def charging(self) -> bool:
        # 254 sleeping and 255 disabled are not charging, whatever the contactor did before.
        return self.state is ChargerState.CHARGING

    @property
    def online(self) -> bool:
        return self.state is not ChargerState.OFFLINE


def offline_status(reason: str, last: ChargerStatus | None = None) -> ChargerStatus:
    """The status of a charger that did not answer: last known values kept, state offline."""
    if last is None:
        return ChargerStatus(
            state=ChargerState.OFFLINE, vehicle=False, current=0.0, amps=0.0, voltage=0.0,
            power=0.0, session_energy=0.0, total_energy=0.0, error=reason,
        )
    return ChargerStatus(
        state=ChargerState.OFFLINE, vehicle=last.vehicle, current=last.current, amps=last.amps,
        voltage=last.voltage, power=last.power, session_energy=last.session_energy,
        total_energy=last.total_energy, temp=last.temp, min_amps=last.min_amps,
        max_amps=last.max_amps, firmware=last.firmware, error=reason,
    )


@runtime_checkable
class Charger(Protocol):
    """What every charger driver implements.

    Every method raises a `evse_rules.errors.ChargerError` subclass when the charger does not
    do what was asked; none returns silently on failure. `refresh` is the exception: it never
    raises, it returns an offline status with the reason instead, so a dead charger can not
    stop a tick.
    """

    name: str

    async def refresh(self) -> ChargerStatus:
        """Read the charger's current status (offline status on failure)."""
        ...

    async def start(self) -> None:
        """Allow charging (claim `state: active`)."""
        ...

    async def stop(self) -> None:
        """Stop charging (claim `state: disabled`)."""
        ...

    async def set_current(self, amps: int) -> None:
        """Set the charging current in whole amperes (already clamped by the engine)."""
        ...

    async def set_voltage(self, volts: float) -> None:
        """Set the reference voltage the charger uses for its energy figures."""
        ...

    async def release(self) -> None:
        """Hand control back: delete our claim / override. Safe to call more than once."""
        ...

    async def close(self) -> None:
        """Free connections. Does not release the claim (call `release` for that)."""
        ...
