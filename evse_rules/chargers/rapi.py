"""The legacy RAPI driver: controller commands through the WiFi module's `GET /r?json=1&rapi=...`.

For old WiFi firmware (V2 / 3.x / 4.0.x) where the WiFi API cannot drive the charger. Facts from
API-NOTES section 8:

- the WiFi module adds the checksum itself before passing a command to the controller, so the
  command goes over HTTP bare (`$SC 16 V`); the reply in `ret` is the controller's raw line with
  its `^XX` checksum, which we verify;
- `$NK` comes back with HTTP 200; a blocked command with HTTP 400 `RAPI_RESPONSE_BLOCKED` (WiFi
  v5.0.0+ lets only `$G...` through): both are errors here, never a silent success;
- `$SC n V`: the V flag keeps the value out of the controller's EEPROM (no flag = EEPROM write);
- stop is `$FS` (sleep, EVSE state 254), which is what the firmware's own pause does.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.chargers.http import HttpLink, log
from evse_rules.chargers.limits import CurrentLimits, check_config_limits, current_limits
from evse_rules.chargers.openevse_parse import (
    AMPS,
    DECI_DEGREES,
    DEFAULT_VOLTAGE,
    ENERGY,
    FLAG_EV_CONNECTED,
    MILLIAMPS,
    Range,
    shown,
)
from evse_rules.chargers.refresh import Refresher
from evse_rules.chargers.states import map_state
from evse_rules.errors import (
    ChargerProtocolError,
    ChargerTimeout,
    ChargerUnsupported,
)

USE_WIFI_API = ('use the WiFi API driver on this firmware (driver = "openevse", or --api wifi); '
                "it needs WiFi firmware 4.0.1 or newer")
NOT_FITTED = -2560  # $GP: sensor not fitted
STATUS_BUDGET = 2  # timeouts a whole status read may take


def checksum(text: str) -> str:
    """The RAPI checksum: XOR of every character, as two upper-case hex digits."""
    value = 0
    for char in text:
        value ^= ord(char)
    return f"{value:02X}"


def frame(command: str) -> str:
    """A command or reply with its checksum, as on the serial line: `$GS` -> `$GS^30`."""
    return f"{command}^{checksum(command)}"


def parse_reply(name: str, command: str, ret: str) -> list[str]:
    """The parameters of an `$OK` reply; checksum verified, `$NK` raised as ChargerUnsupported."""
    line = ret.strip()
    body = line
    if "^" in line:
        body, _, given = line.rpartition("^")
        try:
            valid = int(given, 16) == int(checksum(body), 16)
        except ValueError:
            valid = False
        if not valid:
            raise ChargerProtocolError(
                name, f"bad checksum in the reply {line!r} to {command} "
                f"(expected ^{checksum(body)})"
            )
    tokens = [token for token in body.split() if not token.startswith(":")]  # drop :sequence id
    if not tokens or tokens[0] not in ("$OK", "$NK"):
        raise ChargerProtocolError(name, f"unexpected reply {line!r} to {command}")
    if tokens[0] == "$NK":
        extra = ""
        if command.startswith("$SC"):
            extra = (" (the controller clamps a current outside its limits and refuses to raise"
                     " it while over temperature)")
        raise ChargerUnsupported(
            name, f"the controller refused {command} (answered {line}){extra}; {USE_WIFI_API}"
        )
    return tokens[1:]


class RapiCharger:
    """A charger driven by RAPI commands over HTTP. Implements `Charger`."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 5.0,
        phases: int = 1,
        min_amps: int = 6,
        max_amps: int = 32,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        check_config_limits(min_amps, max_amps)
        self.name = name
        self.phases = phases    # RAPI measures one phase's current: power needs the count
        self.min_amps = min_amps    # the config's limits, within which every $SC stays
        self.max_amps = max_amps
        self._error_logged: str | None = None   # the error state last logged
        self._link = HttpLink(
            name, url, user=user, password=password, timeout=timeout, transport=transport
        )
        self._lock = asyncio.Lock()
        self._last: ChargerStatus | None = None
        self._refresher = Refresher(name)
        self._firmware: str | None = None
        self._voltage: float | None = None  # the reference voltage we set with $SV

    def __repr__(self) -> str:
        return (f"RapiCharger(name={self.name!r}, url={self._link.base_url!r}, "
                f"user={self._link.user!r})")

    @property
    def url(self) -> str:
        return self._link.base_url

    @property
    def last_status(self) -> ChargerStatus | None:
        return self._last

    @asynccontextmanager
    async def _call(self) -> AsyncIterator[None]:
        async with self._lock:
            self._link.begin_call()
            yield

    async def command(self, command: str) -> list[str]:
        """Send one RAPI command (without checksum); the `$OK` parameters, or an error."""
        reply = await self._link.request(
            "GET", "/r", params={"json": "1", "rapi": command}, ok=(200, 400, 500)
        )
        body = self._link.object_of(reply)
        if reply.status != 200:
            error = str(body.get("error", body.get("msg", "")))
            if error == "RAPI_RESPONSE_BLOCKED":
                raise ChargerUnsupported(
                    self.name, f"the WiFi firmware blocks {command} over /r "
                    f"(HTTP 400 RAPI_RESPONSE_BLOCKED: v5.0.0 and newer pass only $G... "
                    f"commands); {USE_WIFI_API}",
                )
            if error == "RAPI_RESPONSE_TIMEOUT":
                raise ChargerTimeout(self.name, f"the controller did not answer {command}")
            raise ChargerProtocolError(
                self.name, f"HTTP {reply.status} for {command} at {reply.url}: {error or body}"
            )
        ret = body.get("ret")
        if not isinstance(ret, str):
            raise ChargerProtocolError(self.name, f"GET {reply.url}: no `ret` in {body}")
        return parse_reply(self.name, command, ret)

    async def _optional(self, command: str) -> list[str] | None:
        """A command older controllers may not know: $NK gives None."""
        try:
            return await self.command(command)
        except ChargerUnsupported:
            return None

    # ---------------------------------------------------------------- reading

    async def read_status(self) -> ChargerStatus:
        """Read $GS, $GG, $GE, $GC, $GU, $GP (and $GV once); raises ChargerError on failure.

        Six requests in a row: the whole read gets STATUS_BUDGET timeouts, so that a charger
        answering each one slowly still cannot hold a tick for six timeouts.
        """
        budget = self._link.timeout * STATUS_BUDGET
        async with self._call():
            try:
                async with asyncio.timeout(budget):
                    return await self._read_status()
            except TimeoutError as error:
                raise ChargerTimeout(
                    self.name, f"the RAPI status reads took more than {budget:g} s"
                ) from error

    async def _read_status(self) -> ChargerStatus:
        gs = await self.command("$GS")  # evsestate(hex) elapsed pilotstate(hex) vflags(hex)
        code = _int(self.name, gs, 0, 16, "$GS", (0, 0xFFFF))
        state, error = map_state(code)
        vflags = _int(self.name, gs, 3, 16, "$GS") if len(gs) > 3 else None
        vehicle = bool(vflags & FLAG_EV_CONNECTED) if vflags is not None else code in (2, 3)
        gg = await self.command("$GG")  # milliamps millivolts (-1 = no meter)
        milliamps = _int(self.name, gg, 0, 10, "$GG", (-1, MILLIAMPS[1]))
        millivolts = _int(self.name, gg, 1, 10, "$GG") if len(gg) > 1 else -1
        current = max(milliamps, 0) / 1000.0
        # A voltmeter reading counts only within 60..300 V, as in the firmware (API-NOTES 2).
        voltage = self._voltage or DEFAULT_VOLTAGE
        if 60_000 <= millivolts <= 300_000:
            voltage = millivolts / 1000.0
        ge = await self.command("$GE")  # amps flags
        amps = float(_int(self.name, ge, 0, 10, "$GE", AMPS))
        limits: dict[str, float] = {}
        gc = await self._optional("$GC")  # minamps hmaxamps pilotamps cmaxamps
        if gc is not None and len(gc) >= 2:
            limits = {"min_amps": float(_int(self.name, gc, 0, 10, "$GC", AMPS)),
                      "max_amps": float(_int(self.name, gc, 1, 10, "$GC", AMPS))}
        gu = await self._optional("$GU")  # Ws(session) Wh(total)
        session = total = 0.0
        if gu is not None and len(gu) >= 2:
            session = _int(self.name, gu, 0, 10, "$GU", ENERGY) / 3600.0
            total = _int(self.name, gu, 1, 10, "$GU", ENERGY) / 1000.0
        gp = await self._optional("$GP") or []  # t1 t2 t3 in 0.1 degC
        temps = [_int(self.name, gp, i, 10, "$GP") for i in range(len(gp))]
        fitted = [_in(self.name, "$GP", t, DECI_DEGREES) for t in temps if t != NOT_FITTED]
        if self._firmware is None:
            gv = await self._optional("$GV")
            self._firmware = gv[0] if gv else "unknown"
        status = ChargerStatus(
            state=state, vehicle=vehicle, current=current, amps=amps, voltage=voltage,
            power=current * voltage * self.phases, session_energy=session, total_energy=total,
            temp=max(fitted) / 10.0 if fitted else None, firmware=self._firmware, error=error,
            **limits,
        )
        if status.error != self._error_logged:   # one line per change, not one per tick
            if status.state is ChargerState.ERROR:
                log.warning("%s: charger error: %s", self.name, status.error)
            self._error_logged = status.error
        self._last = status
        return status

    async def refresh(self) -> ChargerStatus:
        """Read the status; never raises: a failure gives the offline status with its reason."""
        return await self._refresher.refresh(self.read_status, lambda: self._last)

    # ---------------------------------------------------------------- control

    async def _send(self, command: str) -> list[str]:
        async with self._call():
            log.info("%s: RAPI %s", self.name, command)
            return await self.command(command)

    def limits(self) -> CurrentLimits:
        """The whole amperes this charger may be sent: the config's limits within the
        controller's ($GC, as last read)."""
        last = self._last
        if last is None or last.state is ChargerState.OFFLINE:
            return current_limits(self.min_amps, self.max_amps)
        return current_limits(self.min_amps, self.max_amps, last.min_amps, last.max_amps)

    async def start(self) -> None:
        """`$FE`: enable; refused (nothing sent) while the limits leave no current."""
        fault = self.limits().fault
        if fault is not None:
            raise ChargerUnsupported(self.name, fault)
        await self._send("$FE")

    async def stop(self) -> None:
        """`$FS`: sleep (EVSE state 254), as the firmware's own pause."""
        await self._send("$FS")

    async def set_current(self, amps: int) -> None:
        """`$SC amps V`: volatile, never written to the controller's EEPROM."""
        if isinstance(amps, bool) or not isinstance(amps, int):
            raise TypeError(f"{self.name}: the current must be whole amperes, not {amps!r}")
        limits = self.limits()
        if limits.fault is not None:
            raise ChargerUnsupported(self.name, limits.fault)
        last = self._last
        if last is not None and not last.min_amps <= amps <= last.max_amps:
            name = "minimum" if amps < last.min_amps else "maximum"
            limit = last.min_amps if amps < last.min_amps else last.max_amps
            raise ChargerUnsupported(self.name, f"{amps} A is outside the charger's limits: its "
                             f"{name} is {limit:g} A ($GC) (nothing sent)")
        if not limits.allows(amps):
            raise ChargerUnsupported(self.name, f"{amps} A is outside the limits {limits.low}.."
                                     f"{limits.high} A (min_amps {self.min_amps} A, max_amps "
                                     f"{self.max_amps} A; nothing sent)")
        await self._send(f"$SC {amps} V")

    async def set_voltage(self, volts: float) -> None:
        """`$SV millivolts`, only when it differs from the voltage in use."""
        if not 60.0 <= volts <= 300.0:
            raise ChargerUnsupported(self.name, f"a reference voltage of {volts:g} V is outside "
                             "60..300 V")
        async with self._call():
            last = self._last if self._last is not None else await self._read_status()
            if abs(last.voltage - volts) < 0.05:
                return
            command = f"$SV {round(volts * 1000)}"
            log.info("%s: RAPI %s", self.name, command)
            try:
                await self.command(command)
            except ChargerUnsupported as error:
                if "BLOCKED" in error.message:
                    raise
                raise ChargerUnsupported(
                    self.name, f"the controller refused {command}: it takes a reference voltage "
                    "only when built with energy recording and without a voltmeter",
                ) from error
            self._voltage = float(volts)
            self._last = dataclasses.replace(last, voltage=float(volts))

    async def release(self) -> None:
        """RAPI has no claims: nothing to hand back (the last $FE/$FS and $SC stay)."""
        log.debug("%s: release: nothing to release over RAPI", self.name)

    async def close(self) -> None:
        await self._link.close()


def _int(name: str, tokens: list[str], index: int, base: int, command: str,
         bounds: Range | None = None) -> int:
    """The index-th parameter of a reply, within `bounds` when given."""
    try:
        value = int(tokens[index], base)
    except (IndexError, ValueError) as error:
        raise ChargerProtocolError(
            name, f"unexpected reply to {command}: {shown(' '.join(tokens))}"
        ) from error
    return value if bounds is None else _in(name, f"{command} parameter {index + 1}", value,
                                            bounds)


def _in(name: str, command: str, value: int, bounds: Range) -> int:
    low, high = bounds
    if not low <= value <= high:
        raise ChargerProtocolError(name, f"RAPI {command}: {shown(value)} is not within "
                                   f"{low:g}..{high:g}")
    return value
