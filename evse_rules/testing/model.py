"""The charger behind the emulator: a controller, the WiFi module's claims, and /r.

It follows the firmware as API-NOTES describes it:
- claims combine per property, the highest priority that sets it wins, ties to the earlier
  claim; no state claimed -> `default_state`; pilot = min(max_current_soft, max_current,
  charge_current) raised to min_current_hard; active -> `$FE`, disabled -> `$FS` (sleep, 254)
  or `$FD` (disabled, 255) with `pause_uses_disabled` (section 5, "How the claims combine");
- /override is the claim of client 65537 at priority 1000, auto_release true by default;
  API claims have priority 500 and auto_release false (sections 4 and 5);
- an auto-release claim goes when the vehicle is unplugged (section 4);
- `$SC` without V/N counts as an EEPROM write (section 8), so tests can assert there is none.
All state is guarded by one lock: the HTTP server answers from several threads.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from evse_rules.chargers.firmware import (
    CLAIMS_API,
    OVERRIDE_API,
    OVERRIDE_EMPTY_200,
    POWER_FIELD,
    RAPI_F0_FB,
    RAPI_G_ONLY,
    SESSION_ENERGY,
    STATUS_POST,
    FirmwareVersion,
)
from evse_rules.chargers.rapi import frame

MANUAL_CLIENT = 65537   # EvseClient_OpenEVSE_Manual (API-NOTES section 4)
MANUAL_PRIORITY = 1000
API_PRIORITY = 500      # EvseManager_Priority_API (section 5)
MAX_CLAIMS = 10         # EVSE_MANAGER_MAX_CLIENT_CLAIMS (section 5)
MAX_CURRENT_FIELD = (5, 0, 0)  # /status `max_current` (section 2)
NOT_FITTED = -2560      # $GP: no sensor

Mode = Literal["enabled", "sleep", "disabled"]
JsonReply = tuple[int, Any]  # (HTTP status, JSON body)


def load_capture(name: str) -> dict[str, Any]:
    text = resources.files("evse_rules.testing").joinpath("captures", name).read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass
class Claim:
    client: int
    priority: int
    props: dict[str, Any] = field(default_factory=dict)  # state, charge_current, max_current,...


class EvseModel:
    """One emulated charger: controller state, claims, energy counters."""

    def __init__(
        self,
        version: str,
        *,
        vehicle: bool,
        ev_wants_charge: bool,
        min_current_hard: int,
        max_current_hard: int,
        max_current_soft: int | None,
        voltage: float,
        pause_uses_disabled: bool,
        three_phase: bool,
        voltmeter: bool,
        full_rapi: bool,
        temp: float | None,
    ) -> None:
        self.lock = threading.RLock()
        self.version = FirmwareVersion.parse(version)
        self.vehicle = vehicle
        self.ev_wants_charge = ev_wants_charge
        self.min_current_hard = min_current_hard
        self.max_current_hard = max_current_hard
        self.max_current_soft = max_current_soft or max_current_hard
        self.voltage = float(voltage)
        self.pause_uses_disabled = pause_uses_disabled
        self.three_phase = three_phase
        self.voltmeter = voltmeter
        self.full_rapi = full_rapi
        self.temp = temp                 # degC, None = no sensor
        self.forced_state: int | None = None
        self.default_state_active = True
        self.claims: dict[int, Claim] = {}
        self.capacity = self.max_current_soft   # the controller's current capacity (pilot, A)
        self.mode: Mode = "enabled"
        self.eeprom_writes: list[str] = []
        self.session_wh = 0.0
        self.total_kwh = 1234.5
        self.config_version = 1
        self.claims_version = 1
        self._tick = time.monotonic()
        self._session_start = time.monotonic()
        self.evaluate_claims()

    # ------------------------------------------------------------ the charger

    def evse_state(self) -> int:
        if self.forced_state is not None:
            return self.forced_state
        if self.mode == "sleep":
            return 254
        if self.mode == "disabled":
            return 255
        if not self.vehicle:
            return 1
        return 3 if self.ev_wants_charge else 2

    def charging_amps(self) -> float:
        return float(self.capacity) if self.evse_state() == 3 else 0.0

    def power(self) -> float:
        return self.charging_amps() * self.voltage * (3 if self.three_phase else 1)

    def advance(self) -> None:
        """Count the energy since the last look, at the power of that moment."""
        now = time.monotonic()
        hours = (now - self._tick) / 3600.0
        self._tick = now
        energy_wh = self.power() * hours
        self.session_wh += energy_wh
        self.total_kwh += energy_wh / 1000.0

    def set_vehicle(self, connected: bool) -> None:
        self.advance()
        if self.vehicle and not connected:
            # Unplugging ends the session and releases auto-release claims (API-NOTES 4).
            self.session_wh = 0.0
            released = [c for c in self.claims.values() if c.props.get("auto_release")]
            for claim in released:
                del self.claims[claim.client]
            if released:
                self.claims_version += 1
                self.evaluate_claims()
        if connected and not self.vehicle:
            self._session_start = time.monotonic()
        self.vehicle = connected

    # ------------------------------------------------------------ claims

    def target(self) -> dict[str, Any]:
        """The winning value of each property (API-NOTES 5, "How the claims combine")."""
        ordered = sorted(self.claims.values(), key=lambda c: -c.priority)  # stable: ties keep order
        target: dict[str, Any] = {}
        for key in ("state", "charge_current", "max_current"):
            for claim in ordered:
                if key in claim.props:
                    target[key] = claim.props[key]
                    break
        target.setdefault("state", "active" if self.default_state_active else "disabled")
        return target

    def evaluate_claims(self) -> None:
        self.advance()
        target = self.target()
        pilot = self.max_current_soft
        for key in ("max_current", "charge_current"):
            if key in target:
                pilot = min(pilot, int(target[key]))
        self.capacity = max(pilot, self.min_current_hard)
        if target["state"] == "active":
            self.mode = "enabled"
        else:
            self.mode = "disabled" if self.pause_uses_disabled else "sleep"

    def claim(self, client: int, priority: int, props: dict[str, Any]) -> bool:
        if client not in self.claims and len(self.claims) >= MAX_CLAIMS:
            return False
        self.claims[client] = Claim(client, priority, props)
        self.claims_version += 1
        self.evaluate_claims()
        return True

    def release(self, client: int) -> bool:
        if client not in self.claims:
            return False
        del self.claims[client]
        self.claims_version += 1
        self.evaluate_claims()
        return True

    # ------------------------------------------------------------ documents

    def status_doc(self) -> dict[str, Any]:
        self.advance()
        new = self.version.at_least(POWER_FIELD)
        doc = load_capture("status-v5.1.2.json" if new else "status-4.x.json")
        state = self.evse_state()
        amps = self.charging_amps()
        doc.update(
            amp=round(amps * 1000), voltage=self.voltage, pilot=self.capacity, state=state,
            vehicle=1 if self.vehicle else 0, flags=self._vflags(),
            temp=round(self.temp * 10) if self.temp is not None else False,
            elapsed=round(time.monotonic() - self._session_start) if self.vehicle else 0,
            wattsec=round(self.session_wh * 3600), watthour=self.total_kwh * 1000,
        )
        if "wh" in doc:
            doc["wh"] = round(self.total_kwh * 1000)
        if self.version.at_least(SESSION_ENERGY):
            doc.update(session_energy=self.session_wh, total_energy=self.total_kwh)
        if new:
            doc.update(
                power=self.power(), status=self.target()["state"],
                manual_override=1 if MANUAL_CLIENT in self.claims else 0,
                config_version=self.config_version, claims_version=self.claims_version,
                session_elapsed=doc["elapsed"],
            )
        if self.version.at_least(MAX_CURRENT_FIELD):
            doc["max_current"] = self.max_current_soft
        else:
            doc.pop("max_current", None)
        return doc

    def config_doc(self, user: str | None, password: str | None) -> dict[str, Any]:
        new = self.version.at_least(POWER_FIELD)
        doc = load_capture("config-v5.1.2.json" if new else "config-4.1.2.json")
        doc.update(
            version=self.version.raw, min_current_hard=self.min_current_hard,
            max_current_hard=self.max_current_hard, max_current_soft=self.max_current_soft,
            www_username=user or "", www_password="_DUMMY_PASSWORD" if password else "",
            pause_uses_disabled=self.pause_uses_disabled,
        )
        if new:
            doc.update(is_threephase=self.three_phase, default_state=self.default_state_active)
        return doc

    def _vflags(self) -> int:
        flags = 0x0100 if self.vehicle else 0           # EV connected
        if self.evse_state() == 3:
            flags |= 0x0040                             # charging relay on
        return flags

    # ------------------------------------------------------------ HTTP API

    def has_claims_api(self) -> bool:
        return self.version.at_least(CLAIMS_API)

    def has_override_api(self) -> bool:
        return self.version.at_least(OVERRIDE_API)

    def has_status_post(self) -> bool:
        return self.version.at_least(STATUS_POST)

    def claim_props(self, body: Any, *, auto_release_default: bool) -> dict[str, Any] | None:
        """Properties from a claim body, or None when the firmware would not parse it."""
        if not isinstance(body, dict):
            return None
        props: dict[str, Any] = {}
        for key, value in body.items():
            if value == "clear":
                continue
            if key == "state":
                if not isinstance(value, str) or value[:1] not in ("a", "d"):
                    return None
                props["state"] = "active" if value[0] == "a" else "disabled"
            elif key in ("charge_current", "max_current", "energy_limit", "time_limit"):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    return None
                props[key] = int(value)
            elif key == "auto_release":
                props["auto_release"] = bool(value)
        props.setdefault("auto_release", auto_release_default)
        return props

    def get_override(self) -> JsonReply:
        claim = self.claims.get(MANUAL_CLIENT)
        if claim is not None:
            return 200, dict(claim.props)
        if self.version.at_least(OVERRIDE_EMPTY_200):
            return 200, {}
        return 404, {"msg": "No manual override"}

    def toggle_override(self) -> JsonReply:
        if MANUAL_CLIENT in self.claims:
            self.release(MANUAL_CLIENT)
        else:
            opposite = "disabled" if self.target()["state"] == "active" else "active"
            self.claim(MANUAL_CLIENT, MANUAL_PRIORITY, {"state": opposite, "auto_release": True})
        return 200, {"msg": "Updated"}

    def post_status(self, body: dict[str, Any]) -> JsonReply:
        value = body.get("voltage")
        voltage = float(value) if isinstance(value, int | float) and value is not True else 0.0
        # setVoltage: 60..300 V only, stored only if the controller takes $SV (API-NOTES 6).
        if 60 <= voltage <= 300 and not self.voltmeter:
            self.advance()
            self.voltage = float(voltage)
        return 200, body

    # ------------------------------------------------------------ RAPI

    def rapi_blocked(self, name: str) -> bool:
        """EvseManager::isRapiCommandBlocked by version (API-NOTES 8)."""
        if self.full_rapi:
            return False
        if self.version.at_least(RAPI_F0_FB):
            return not (name.startswith("$G") or name in ("$F0", "$FB"))
        if self.version.at_least(RAPI_G_ONLY):
            return not name.startswith("$G")
        if self.version.at_least(CLAIMS_API):
            return name == "$ST"
        return False

    def rapi(self, command: str) -> JsonReply:
        line = command.strip().split("^", 1)[0]
        tokens = line.split()
        if not tokens:
            return 500, {"cmd": command, "error": "RAPI_RESPONSE_INVALID_RESPONSE"}
        name = tokens[0].upper()
        if self.rapi_blocked(name):
            return 400, {"cmd": command, "error": "RAPI_RESPONSE_BLOCKED"}
        reply = self._rapi_reply(name, tokens[1:])
        return 200, {"cmd": command, "ret": frame(reply)}

    def _rapi_reply(self, name: str, args: list[str]) -> str:
        self.advance()
        state = self.evse_state()
        if name == "$GS":
            pilot_state = 3 if state == 3 else (2 if self.vehicle else 1)
            elapsed = round(time.monotonic() - self._session_start) if self.vehicle else 0
            return f"$OK {state:02x} {elapsed} {pilot_state:02x} {self._vflags():04x}"
        if name == "$GG":
            millivolts = round(self.voltage * 1000) if self.voltmeter else -1
            return f"$OK {round(self.charging_amps() * 1000)} {millivolts}"
        if name == "$GE":
            return f"$OK {self.capacity} 0000"
        if name == "$GC":
            return (f"$OK {self.min_current_hard} {self.max_current_hard} {self.capacity} "
                    f"{self.max_current_soft}")
        if name == "$GU":
            return f"$OK {round(self.session_wh * 3600)} {round(self.total_kwh * 1000)}"
        if name == "$GV":
            return "$OK 7.1.3 5.0.1"
        if name == "$GP":
            temp = round(self.temp * 10) if self.temp is not None else NOT_FITTED
            return f"$OK {NOT_FITTED} {temp} {NOT_FITTED}"
        if name == "$G0":
            return f"$OK {1 if self.vehicle else 0}"
        if name in ("$FE", "$FS", "$FD"):
            self.mode = {"$FE": "enabled", "$FS": "sleep", "$FD": "disabled"}[name]  # type: ignore[assignment]
            return "$OK"
        if name == "$SC" and args:
            return self._set_current(args)
        if name == "$SV" and args and not self.voltmeter:
            self.voltage = int(args[0]) / 1000.0
            return "$OK"
        return "$NK"

    def _set_current(self, args: list[str]) -> str:
        try:
            amps = int(args[0])
        except ValueError:
            return "$NK"
        flag = args[1].upper() if len(args) > 1 else None
        if flag == "M":
            self.max_current_hard = amps
            return f"$OK {amps}"
        if flag is None:
            self.eeprom_writes.append(f"$SC {amps}")  # no V/N flag: saved to EEPROM
        clamped = min(max(amps, self.min_current_hard), self.max_current_hard)
        self.capacity = clamped
        return f"$OK {clamped}" if clamped == amps else f"$NK {clamped}"
