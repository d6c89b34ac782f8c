"""The OpenEVSE WiFi API driver (firmware 4.x / v5.x / dev builds), over httpx.

Control goes through a claim of our own client id on firmware 4.1.0 and later
(`POST /claims/{id}`, priority 500: it beats divert and the scheduler, loses to a manual override
made on the charger itself; API-NOTES section 5), through `/override` on 4.0.x (section 4).
Both bodies REPLACE the whole claim, so every body carries both `state` and `charge_current`
(and `auto_release: false`): a partial body would drop the other one (a hand stop followed by
a current change would start the car). The driver remembers what it asked for; what it does
not know comes from the claim it finds on the charger first (adopted once per driver, so that
`amps 16` after a restart does not wipe an earlier `start`), else from the last status (state
sleeping/disabled -> "disabled", else "active"; the current from the pilot). Every current
posted is whole amperes within the limits (`chargers.limits`): an adopted or remembered one is
clamped into them, an asked one outside them is refused; a charger whose limits leave no
current (empty, NaN) gets no current and no start, only a stop. A release forgets it all.
It never writes `max_current_soft` (that is an EEPROM write on the controller, section 3).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import httpx

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.chargers.firmware import (
    CLAIMS_API,
    DEFAULT_CLIENT_ID,
    OVERRIDE_API,
    STATUS_POST,
    FirmwareVersion,
    validate_client_id,
)
from evse_rules.chargers.http import HttpLink, JsonObject, log
from evse_rules.chargers.limits import CurrentLimits, check_config_limits, current_limits
from evse_rules.chargers.openevse_parse import (
    AMPS,
    ChargerConfig,
    number,
    parse_config,
    parse_status,
)
from evse_rules.chargers.refresh import Refresher
from evse_rules.errors import ChargerProtocolError, ChargerUnsupported

ClaimState = Literal["active", "disabled"]

# POST /status accepts a voltage only within this range (API-NOTES section 6).
VOLTAGE_RANGE = (60.0, 300.0)
# Two voltages closer than this are the same: not worth a POST.
VOLTAGE_EPSILON = 0.05


class OpenEvseCharger:
    """A charger driven through the OpenEVSE WiFi HTTP API. Implements `Charger`."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 5.0,
        client_id: int | None = None,
        phases: int = 1,
        min_amps: int = 6,
        max_amps: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        check_config_limits(min_amps, max_amps)
        self.name = name
        self.phases = phases    # for the power of firmware that does not tell (before 4.2)
        self.min_amps = min_amps    # the config's limits, within which every current stays
        self.max_amps = max_amps
        self.client_id = validate_client_id(
            DEFAULT_CLIENT_ID if client_id is None else client_id
        )
        self._link = HttpLink(
            name, url, user=user, password=password, timeout=timeout, transport=transport
        )
        self._lock = asyncio.Lock()
        self._config: ChargerConfig | None = None
        self._config_version: object = None  # /status `config_version` when _config was read
        self._last: ChargerStatus | None = None
        self._refresher = Refresher(name)
        # What we asked the charger for; None = not asked (the claim does not set it).
        self._state: ClaimState | None = None
        self._current: int | None = None
        self._adopted = False
        self._error_logged: str | None = None   # the error state last logged

    def __repr__(self) -> str:
        return (f"OpenEvseCharger(name={self.name!r}, url={self._link.base_url!r}, "
                f"user={self._link.user!r}, client_id={self.client_id})")

    @property
    def url(self) -> str:
        """The charger's URL, without credentials."""
        return self._link.base_url

    @property
    def firmware(self) -> FirmwareVersion | None:
        """The WiFi firmware version, once /config has been read."""
        return self._config.version if self._config else None

    @property
    def last_status(self) -> ChargerStatus | None:
        return self._last

    @asynccontextmanager
    async def _call(self) -> AsyncIterator[None]:
        # One call at a time per charger, each with its own retry budget.
        async with self._lock:
            self._link.begin_call()
            yield

    # ---------------------------------------------------------------- reading

    async def read_status(self) -> ChargerStatus:
        """Read /status (and /config when needed); raises ChargerError on failure."""
        async with self._call():
            return await self._read_status()

    async def refresh(self) -> ChargerStatus:
        """Read the status; never raises: a failure gives the offline status with its reason."""
        return await self._refresher.refresh(self.read_status, lambda: self._last)

    async def _read_config(self) -> ChargerConfig:
        reply = await self._link.request("GET", "/config")
        config = parse_config(self.name, self._link.object_of(reply), f"GET {reply.url}")
        self._config = config
        return config

    async def _ensure_config(self) -> ChargerConfig:
        if self._config is None or not self._config.complete:
            return await self._read_config()
        return self._config

    async def _read_status(self) -> ChargerStatus:
        config = await self._ensure_config()
        reply = await self._link.request("GET", "/status")
        doc = self._link.object_of(reply)
        # config_version changes when /config does (API-NOTES section 2, housekeeping fields).
        seen = doc.get("config_version")
        if self._config_version is not None and seen != self._config_version:
            config = await self._read_config()
        self._config_version = seen
        status = parse_status(self.name, doc, config, f"GET {reply.url}", self.phases)
        if status.error != self._error_logged:   # one line per change, not one per tick
            if status.state is ChargerState.ERROR:
                log.warning("%s: charger error: %s", self.name, status.error)
            self._error_logged = status.error
        self._last = status
        return status

    # ---------------------------------------------------------------- control

    async def _api(self) -> Literal["claims", "override"]:
        config = await self._ensure_config()
        version = config.version
        if version is None:
            raise ChargerUnsupported(
                self.name, "cannot tell the WiFi firmware version: /config has no `version`"
            )
        if version.at_least(CLAIMS_API):
            return "claims"
        if version.at_least(OVERRIDE_API):
            return "override"
        raise ChargerUnsupported(
            self.name,
            f"WiFi firmware {version} has neither /claims (4.1.0+) nor /override (4.0.1+): "
            'use the RAPI driver on this firmware (driver = "rapi", or --api rapi)',
        )

    def _path(self, api: str) -> str:
        return f"/claims/{self.client_id}" if api == "claims" else "/override"

    def limits(self) -> CurrentLimits:
        """The whole amperes this charger may be sent now: the config's limits within the
        hard ones of /config."""
        config = self._config
        if config is None:
            return current_limits(self.min_amps, self.max_amps)
        return current_limits(self.min_amps, self.max_amps, config.min_amps, config.max_amps)

    async def _adopt(self, api: str) -> None:
        """Learn what an earlier run of ours left in the claim, once per driver."""
        if self._adopted:
            return
        # 404 = no claim (claims, and /override before v5.0.0; v5 answers 200 {}).
        reply = await self._link.request("GET", self._path(api), ok=(200, 404))
        self._adopted = True
        if reply.status != 200 or not isinstance(reply.body, dict):
            return
        state = reply.body.get("state")
        if self._state is None and state in ("active", "disabled"):
            self._state = state
        where = f"GET {reply.url}"
        current = number(self.name, reply.body, "charge_current", where, AMPS)
        if self._current is None and current is not None:
            self._current = int(current)   # clamped into the limits before it is posted

    async def _whole_claim(self, limits: CurrentLimits) -> tuple[ClaimState, int]:
        """The state and current of the next body: what was asked (or adopted), else what
        the charger shows; the current clamped into the limits (a faulted charger: the
        config's min_amps, which only a stop gets to post)."""
        state, current = self._state, self._current
        if state is None or current is None:
            last = self._last if self._last is not None else await self._read_status()
            if state is None:
                # Not remembered: the next body looks at the charger again (a hand stop
                # through another client of our id must stay a stop).
                paused = last.state in (ChargerState.SLEEPING, ChargerState.DISABLED)
                state = "disabled" if paused else "active"
            if current is None:
                current = int(last.amps)
        if limits.fault is not None:
            return state, self.min_amps
        clamped = limits.clamp(current)
        if clamped != current:
            log.warning("%s: claim current %d A is outside %d..%d A: %d A posted instead",
                        self.name, current, limits.low, limits.high, clamped)
            if self._current is not None:
                self._current = clamped
        return state, clamped

    async def _send(self, api: str) -> None:
        limits = self.limits()
        state, current = await self._whole_claim(limits)
        if limits.fault is not None and state == "active":
            raise ChargerUnsupported(self.name, limits.fault)
        # Explicit, because /override defaults to true (released when the car is unplugged,
        # API-NOTES section 4) while we want our claim to last until we release it.
        body: JsonObject = {"state": state, "charge_current": current, "auto_release": False}
        path = self._path(api)
        log.info("%s: POST %s %s", self.name, path, body)
        # POST /override answers 201 although the spec says 200 (API-NOTES section 1).
        await self._link.request("POST", path, json_body=body, ok=(200, 201))

    async def _command(self, state: ClaimState | None = None, current: int | None = None) -> None:
        async with self._call():
            api = await self._api()
            if current is not None:
                self._check(current)
            await self._adopt(api)
            fault = self.limits().fault
            if state == "active" and fault is not None:   # it would charge outside them
                raise ChargerUnsupported(self.name, fault)
            # Remembered before the POST: if it fails, the next body still carries it.
            if state is not None:
                self._state = state
            if current is not None:
                self._current = current
            await self._send(api)

    def _check(self, amps: int) -> None:
        """Refuse (nothing sent) a current outside the limits, or any on a faulted charger."""
        limits = self.limits()
        if limits.fault is not None:
            raise ChargerUnsupported(self.name, limits.fault)
        if limits.allows(amps):
            return
        config = self._config
        if config is not None and config.min_amps is not None and amps < config.min_amps:
            raise ChargerUnsupported(self.name, f"{amps} A is below the charger's minimum "
                             f"min_current_hard = {config.min_amps:g} A (nothing sent)")
        if config is not None and config.max_amps is not None and amps > config.max_amps:
            raise ChargerUnsupported(self.name, f"{amps} A is above the charger's maximum "
                             f"max_current_hard = {config.max_amps:g} A (nothing sent)")
        raise ChargerUnsupported(self.name, f"{amps} A is outside the limits {limits.low}.."
                                 f"{limits.high} A (min_amps {self.min_amps} A, max_amps "
                                 f"{self.max_amps} A; nothing sent)")

    async def start(self) -> None:
        """Allow charging: claim `state: active` (with the current asked or shown)."""
        await self._command(state="active")

    async def stop(self) -> None:
        """Stop charging: claim `state: disabled` (with the current asked or shown)."""
        await self._command(state="disabled")

    async def set_current(self, amps: int) -> None:
        """Claim `charge_current: amps` (A); outside the limits: ChargerUnsupported, nothing
        sent."""
        if isinstance(amps, bool) or not isinstance(amps, int):
            raise TypeError(f"{self.name}: the current must be whole amperes, not {amps!r}")
        await self._command(current=amps)

    async def set_voltage(self, volts: float) -> None:
        """POST /status {"voltage": V} (4.1.6+), only when it differs from what is reported."""
        low, high = VOLTAGE_RANGE
        if not low <= volts <= high:
            raise ChargerUnsupported(self.name, f"a reference voltage of {volts:g} V is outside "
                             f"{low:g}..{high:g} V, the range the firmware accepts")
        async with self._call():
            config = await self._ensure_config()
            if config.version is None or not config.version.at_least(STATUS_POST):
                raise ChargerUnsupported(
                    self.name,
                    f"WiFi firmware {config.version or '(unknown)'} cannot take a reference "
                    "voltage: POST /status needs 4.1.6 or newer",
                )
            last = self._last if self._last is not None else await self._read_status()
            if abs(last.voltage - volts) < VOLTAGE_EPSILON:
                log.debug("%s: voltage already %g V, not sent", self.name, last.voltage)
                return
            value: Any = int(volts) if float(volts).is_integer() else round(float(volts), 2)
            log.info("%s: POST /status %s", self.name, {"voltage": value})
            await self._link.request("POST", "/status", json_body={"voltage": value})
            self._last = dataclasses.replace(last, voltage=float(value))

    async def release(self) -> None:
        """Delete our claim (or the override on 4.0.x) and forget what we asked for."""
        async with self._call():
            try:
                api = await self._api()
            except ChargerUnsupported:
                if self._config is not None and self._config.version is not None:
                    return  # firmware without claims: we never claimed anything
                raise
            path = self._path(api)
            log.info("%s: DELETE %s", self.name, path)
            # 404: no such claim. DELETE /override with none answers 500 "Failed to release
            # manual overide" (firmware handleOverrideDelete; API-NOTES section 4).
            reply = await self._link.request("DELETE", path, ok=(200, 404, 500))
            if reply.status == 500:
                message = reply.body.get("msg") if isinstance(reply.body, dict) else None
                if api != "override" or "release" not in str(message):
                    raise ChargerProtocolError(
                        self.name, f"HTTP 500 for DELETE {reply.url}: {message}"
                    )
            self._state = None
            self._current = None
            self._adopted = True

    async def close(self) -> None:
        """Close the HTTP connections (the claim stays: call `release` for that)."""
        await self._link.close()
