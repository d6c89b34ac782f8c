"""A charger in memory, for replays and tests: a vehicle, a battery, the firmware's states.

It behaves like an OpenEVSE driven through a claim: `stop` pauses it (state 254, sleeping,
as the firmware's default pause does), `start` lets the vehicle charge. While charging it
draws `min(amps, vehicle_max_amps) x voltage x phases`; with a battery capacity it stops
drawing when full and reports `connected`, as the firmware does when a car stops asking.

The replay calls the synchronous methods directly (`read_status`, `enable`, `advance`...);
the async methods of the `Charger` protocol wrap them for the live daemon and tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.chargers.limits import CurrentLimits, current_limits
from evse_rules.errors import ChargerError

_WH = 3600.0   # J per Wh


@dataclass(frozen=True, slots=True)
class SimulatedStatus(ChargerStatus):
    """A status with the vehicle's state of charge (%), which only a simulated vehicle
    knows; None without a battery (the store then shows `soc` as unknown)."""

    soc: float | None = None


class SimulatedCharger:
    """A simulated OpenEVSE with an optional vehicle battery.

    `capacity_wh` None means an endless battery (the car never fills up); `soc` is the
    state of charge in percent. `min_amps` and `max_amps` are the charger's hard limits.
    """

    def __init__(
        self,
        name: str = "evse",
        *,
        voltage: float = 240.0,
        phases: int = 1,
        vehicle: bool = True,
        vehicle_max_amps: float = 32.0,
        capacity_wh: float | None = None,
        soc: float = 50.0,
        amps: int = 32,
        enabled: bool = False,
        min_amps: int = 6,
        max_amps: int = 32,
    ) -> None:
        if not 0.0 <= soc <= 100.0:
            raise ValueError(f"soc must be within 0..100 %, got {soc}")
        if capacity_wh is not None and capacity_wh <= 0:
            raise ValueError(f"capacity_wh must be positive, got {capacity_wh}")
        self.name = name
        self.voltage = voltage
        self.phases = phases
        self.vehicle = vehicle
        self.vehicle_max_amps = vehicle_max_amps
        self.capacity_wh = capacity_wh
        self.soc = soc
        self.plugged_soc = soc      # what a vehicle plugged in again arrives with
        self.amps = amps
        self.enabled = enabled
        self.min_amps = min_amps
        self.max_amps = max_amps
        self.session_wh = 0.0
        self.total_wh = 0.0
        # Whether every status read shows the energy delivered up to now. A replay whose
        # rules never read the energy counters turns this off: the status is then rebuilt
        # only when something else changes, which saves a rebuild per charging tick.
        self.energy_in_status = True
        self.state = ChargerState.SLEEPING
        self.current = 0.0
        self.power = 0.0
        self._status: ChargerStatus | None = None   # rebuilt only after a change
        self._changed()

    # -- what the vehicle and the charger do ----------------------------------------------

    @property
    def full(self) -> bool:
        return self.capacity_wh is not None and self.soc >= 100.0

    def _changed(self) -> None:
        """Recompute what follows from the settings (once per change, not per read)."""
        if not self.enabled:
            state = ChargerState.SLEEPING
        elif not self.vehicle:
            state = ChargerState.NOT_CONNECTED
        elif self.full:
            state = ChargerState.CONNECTED
        else:
            state = ChargerState.CHARGING
        self.state = state
        # A per phase, as the charger measures it.
        self.current = (float(min(self.amps, self.vehicle_max_amps))
                        if state is ChargerState.CHARGING else 0.0)
        self.power = self.current * self.voltage * self.phases
        self._status = None

    def advance(self, seconds: float) -> float:
        """Let `seconds` pass at the present power; the energy delivered, in J.

        With a battery the last interval delivers only what still fits, and the charger
        then reports `connected` (the car stopped asking)."""
        power = self.power
        if power <= 0.0 or seconds <= 0.0:
            return 0.0
        joules = power * seconds
        if self.capacity_wh is not None:
            room = (100.0 - self.soc) / 100.0 * self.capacity_wh * _WH
            if joules >= room:
                joules = room
                self.soc = 100.0
                self._changed()
            else:
                self.soc += joules / (self.capacity_wh * _WH) * 100.0
        self.session_wh += joules / _WH
        self.total_wh += joules / _WH
        if self.energy_in_status:
            self._status = None
        return joules

    def plug(self, connected: bool) -> None:
        """Plug a vehicle in (a new session) or unplug it."""
        if connected == self.vehicle:
            return
        self.vehicle = connected
        if connected:
            # A new session: the car comes back from its trips with its usual charge.
            self.session_wh = 0.0
            self.soc = self.plugged_soc
        self._changed()

    def set_soc(self, percent: float) -> None:
        """The vehicle reports its state of charge (a `soc` column of the replay)."""
        if percent != self.soc:
            self.soc = min(max(percent, 0.0), 100.0)
            self._changed()

    def set_grid_voltage(self, volts: float) -> None:
        if volts != self.voltage:
            self.voltage = volts
            self._changed()

    # -- synchronous commands (the replay calls these) ------------------------------------

    def read_status(self) -> ChargerStatus:
        status = self._status
        if status is None:
            status = self._status = SimulatedStatus(
                state=self.state, vehicle=self.vehicle, current=self.current,
                amps=float(self.amps), voltage=self.voltage,
                power=self.power, session_energy=self.session_wh,
                total_energy=self.total_wh / 1000.0, temp=25.0,
                min_amps=float(self.min_amps), max_amps=float(self.max_amps),
                firmware="simulated",
                soc=self.soc if self.capacity_wh is not None else None,
            )
        return status

    def limits(self) -> CurrentLimits:
        """Its limits (`min_amps..max_amps`, the config's too) within 6..32 A."""
        return current_limits(6, 32, self.min_amps, self.max_amps)

    def enable(self) -> None:
        fault = self.limits().fault
        if fault is not None:   # it would charge at a current outside its limits
            raise ChargerError(self.name, fault)
        self.enabled = True
        self._changed()

    def disable(self) -> None:
        self.enabled = False
        self._changed()

    def apply_current(self, amps: int) -> None:
        if isinstance(amps, bool) or not isinstance(amps, int | float) or \
                not math.isfinite(amps) or amps != int(amps):
            raise ChargerError(self.name, f"the current must be whole amperes, not {amps!r}")
        limits = self.limits()
        if limits.fault is not None:
            raise ChargerError(self.name, limits.fault)
        if not limits.allows(int(amps)):
            raise ChargerError(self.name, f"current {amps} A is outside the charger's "
                                          f"{limits.low}..{limits.high} A")
        self.amps = int(amps)
        self._changed()

    def apply_voltage(self, volts: float) -> None:
        self.set_grid_voltage(volts)

    # -- the Charger protocol -------------------------------------------------------------

    async def refresh(self) -> ChargerStatus:
        return self.read_status()

    async def start(self) -> None:
        self.enable()

    async def stop(self) -> None:
        self.disable()

    async def set_current(self, amps: int) -> None:
        self.apply_current(amps)

    async def set_voltage(self, volts: float) -> None:
        self.apply_voltage(volts)

    async def release(self) -> None:
        """Nothing is claimed: the simulated charger stays as it is."""

    async def close(self) -> None:
        """Nothing to free."""
