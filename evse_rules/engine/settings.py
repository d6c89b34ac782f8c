"""What the engine needs to know about each charger besides its live status."""

from __future__ import annotations

from dataclasses import dataclass

from evse_rules.chargers.base import ChargerStatus
from evse_rules.chargers.limits import (
    ABSOLUTE_MAX_AMPS,
    ABSOLUTE_MIN_AMPS,
    CurrentLimits,
    current_limits,
)
from evse_rules.language.program import MODES

# Every OpenEVSE / EmonEVSE pilot signal lies in ABSOLUTE_MIN_AMPS..ABSOLUTE_MAX_AMPS: J1772
# allows less than 6 A only as "no charging", and 32 A is the largest single unit sold.
__all__ = ["ABSOLUTE_MAX_AMPS", "ABSOLUTE_MIN_AMPS", "ChargerSettings"]


@dataclass(frozen=True, slots=True)
class ChargerSettings:
    """One charger's limits and contactor protection, as the config file sets them.

    `voltage` is the reference voltage to give the charger for its energy figures: a number
    of volts, the name of an input that measures it, or None to leave the charger alone.
    """

    name: str
    min_amps: int = 6
    max_amps: int = 32
    phases: int = 1
    min_on: float = 600.0            # s: a start is followed by at least this long on
    min_off: float = 300.0           # s: a stop is followed by at least this long off
    start_without_vehicle: bool = False
    initial_mode: str = "manual"
    voltage: float | str | None = None
    priority: int = 0                # under a site limit: higher keeps its current longer
    phase: int = 1                   # a single-phase charger's supply phase (1..3)
    # Charge plans (engine/plan_book.py): the price input whose series they schedule over,
    # and the input whose series is the expected solar power (W); None: not used.
    plan_price: str | None = None
    plan_solar: str | None = None

    def __post_init__(self) -> None:
        where = f"charger {self.name!r}"
        if not ABSOLUTE_MIN_AMPS <= self.min_amps <= self.max_amps <= ABSOLUTE_MAX_AMPS:
            raise ValueError(
                f"{where}: need {ABSOLUTE_MIN_AMPS} <= min_amps <= max_amps <= "
                f"{ABSOLUTE_MAX_AMPS}, got min_amps={self.min_amps}, max_amps={self.max_amps}"
            )
        if self.phases not in (1, 2, 3):
            raise ValueError(f"{where}: phases must be 1, 2 or 3, got {self.phases}")
        if self.min_on < 0 or self.min_off < 0:
            raise ValueError(f"{where}: min_on and min_off must not be negative")
        if self.initial_mode not in MODES:
            raise ValueError(f"{where}: initial_mode must be one of {', '.join(MODES)}")
        if isinstance(self.voltage, float | int) and not 50 <= self.voltage <= 500:
            raise ValueError(f"{where}: reference voltage {self.voltage} V is not plausible")

    def bounds(self, status: ChargerStatus | None) -> CurrentLimits:
        """The whole amperes a command may ask for: configured limits within the hard ones,
        with the reason (`fault`) when none may be sent (an empty or nonsensical interval)."""
        if status is None:
            return current_limits(self.min_amps, self.max_amps)
        return current_limits(self.min_amps, self.max_amps, status.min_amps, status.max_amps)

    def limits(self, status: ChargerStatus | None) -> tuple[int, int]:
        """`bounds` as (low, high); never raises, even for a charger's NaN limits."""
        bounds = self.bounds(status)
        return bounds.low, bounds.high
