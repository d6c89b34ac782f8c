"""The whole amperes a charger may be sent: the config's limits within the charger's own.

One function for the engine's guard and for every driver's send path, so that the two places
that stand between a rule (or a person, or an adopted claim) and the pilot signal agree:

    low  = max(6, config min_amps, ceil(charger min_current_hard))
    high = min(32, config max_amps, floor(charger max_current_hard))

J1772 allows less than 6 A only as "no charging", and 32 A is the largest single-unit
OpenEVSE. When the interval is empty, or a hard limit is not a finite number, the charger is
*faulted*: no current and no start may be sent (a stop still may), and `fault` says why with
the figures, e.g. "min_current_hard 20 A > max_amps 16 A: nothing sent".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ABSOLUTE_MIN_AMPS = 6
ABSOLUTE_MAX_AMPS = 32
# A hard limit reported as 15.9999999 A means 16 A: float noise is not a reason to lose an amp.
_NOISE = 1e-9


@dataclass(frozen=True, slots=True)
class CurrentLimits:
    """The allowed whole amperes `low..high`; `fault` is None when the interval is usable."""

    low: int
    high: int
    fault: str | None = None

    def clamp(self, amps: int) -> int:
        """`amps` moved into low..high (call only when `fault` is None)."""
        return self.low if amps < self.low else self.high if amps > self.high else amps

    def allows(self, amps: int) -> bool:
        return self.fault is None and self.low <= amps <= self.high


def check_config_limits(min_amps: int, max_amps: int) -> None:
    """ValueError unless 6 <= min_amps <= max_amps <= 32 (whole amperes)."""
    for value in (min_amps, max_amps):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"min_amps and max_amps must be whole amperes, not {value!r}")
    if not ABSOLUTE_MIN_AMPS <= min_amps <= max_amps <= ABSOLUTE_MAX_AMPS:
        raise ValueError(f"need {ABSOLUTE_MIN_AMPS} <= min_amps <= max_amps <= "
                         f"{ABSOLUTE_MAX_AMPS}, got min_amps={min_amps}, max_amps={max_amps}")


def _shown(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else str(value)


def current_limits(min_amps: int, max_amps: int, hard_min: float | None = None,
                   hard_max: float | None = None) -> CurrentLimits:
    """The interval for config limits `min_amps..max_amps` and the charger's hard limits
    (None: not known, e.g. before the first status read)."""
    # The config's names win a tie: "min_amps 6 A" is what the user can change.
    low, low_name = max(ABSOLUTE_MIN_AMPS, min_amps), "min_amps"
    high, high_name = min(ABSOLUTE_MAX_AMPS, max_amps), "max_amps"
    for key, value in (("min_current_hard", hard_min), ("max_current_hard", hard_max)):
        if value is not None and not math.isfinite(value):
            return CurrentLimits(low, high,
                                 f"charger {key} {_shown(value)} A is not a finite number: "
                                 "nothing sent")
    if hard_min is not None:
        hard_low = math.ceil(hard_min - _NOISE)
        if hard_low > low:
            low, low_name = hard_low, "min_current_hard"
    if hard_max is not None:
        hard_high = math.floor(hard_max + _NOISE)
        if hard_high < high:
            high, high_name = hard_high, "max_current_hard"
    if high < low:
        return CurrentLimits(low, high, f"{low_name} {low} A > {high_name} {high} A: nothing sent")
    return CurrentLimits(low, high)
