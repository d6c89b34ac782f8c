"""The firmware's EVSE state codes and what they mean for rules.

One table for both drivers: /status `state` (WiFi API) and the first field of RAPI `$GS` carry the
same controller code. Sources: API-NOTES section 2 "State codes" (CTL J1772EvseController.h, LIB
openevse.h).
"""

from __future__ import annotations

from evse_rules.chargers.base import ChargerState

# Codes 4..14 are faults; 15..17 only exist on LIB "linco-work" D9 controllers (API-NOTES 2).
FAULT_REASONS: dict[int, str] = {
    4: "vent required",
    5: "diode check failed",
    6: "GFCI fault",
    7: "no ground",
    8: "stuck relay",
    9: "GFCI self-test failed",
    10: "over temperature",
    11: "over current",
    12: "pilot error",
    13: "temperature sensor fault",
    14: "relay closure fault",
    15: "PP shorted",
    16: "PP missing",
    17: "EEPROM failure",
}

_PLAIN: dict[int, ChargerState] = {
    0: ChargerState.STARTING,
    1: ChargerState.NOT_CONNECTED,
    2: ChargerState.CONNECTED,
    3: ChargerState.CHARGING,
    # 254 and 255 are NOT charging, whatever the relay did before (DESIGN.md section 6).
    254: ChargerState.SLEEPING,
    255: ChargerState.DISABLED,
}


def map_state(code: int) -> tuple[ChargerState, str | None]:
    """The rules' state for an EVSE state code, and the reason when it is an error."""
    if code in _PLAIN:
        return _PLAIN[code], None
    reason = FAULT_REASONS.get(code)
    if reason is None:
        # Not a code the firmware documents: an error, never guessed to be a plain state.
        return ChargerState.ERROR, f"unknown state code {code}"
    return ChargerState.ERROR, f"{reason} (EVSE state {code})"
