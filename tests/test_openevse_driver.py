"""The WiFi API driver against the emulator, at every firmware generation a user may have."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from evse_rules.chargers import DEFAULT_CLIENT_ID, ChargerState, OpenEvseCharger
from evse_rules.chargers.openevse_parse import parse_config, parse_status
from evse_rules.errors import (
    ChargerAuthError,
    ChargerProtocolError,
    ChargerTimeout,
    ChargerUnsupported,
)
from evse_rules.testing.emulator import OpenEvseEmulator
from tests import openevse_fixtures
from tests.openevse_fixtures import (
    VERSIONS,
    EmulatorFactory,
)

# The shared pytest fixtures, bound here so that pytest finds them in this module.
make_emulator = openevse_fixtures.make_emulator
maybe_spec_checker = openevse_fixtures.maybe_spec_checker


CLAIM = f"/claims/{DEFAULT_CLIENT_ID}"
CONTROL_PATH = {"4.0.1": "/override"}  # below 4.1.0: the override; else our claim


def sent(emu: OpenEvseEmulator) -> list[tuple[str, str, Any]]:
    """What the driver sent since the last clear, without the status reads."""
    return [(r.method, r.path, r.body) for r in emu.requests
            if (r.method, r.path) not in (("GET", "/status"), ("GET", "/config"))]


def driver(emu: OpenEvseEmulator, **kwargs: Any) -> OpenEvseCharger:
    return OpenEvseCharger("garage", emu.url, timeout=kwargs.pop("timeout", 0.5), **kwargs)


@pytest.mark.parametrize("version", VERSIONS)
async def test_commands_send_the_right_requests(make_emulator: EmulatorFactory,
                                                version: str) -> None:
    emu = make_emulator(version)
    charger = driver(emu)
    path = CONTROL_PATH.get(version, CLAIM)
    await charger.refresh()

    emu.clear_requests()
    await charger.start()
    # The first command looks for a claim left by an earlier run (none here: 404 or {}).
    # The body is a whole claim: the current it does not ask for is the pilot's (32 A).
    assert sent(emu) == [("GET", path, None),
                         ("POST", path, {"state": "active", "charge_current": 32,
                                         "auto_release": False})]

    emu.clear_requests()
    await charger.set_current(16)
    # The POST replaces the whole claim: it carries the state asked for before.
    assert sent(emu) == [("POST", path, {"state": "active", "charge_current": 16,
                                         "auto_release": False})]
    status = await charger.refresh()
    assert (status.state, status.amps, status.current) == (ChargerState.CHARGING, 16, 16)
    assert status.power == pytest.approx(16 * 240)

    emu.clear_requests()
    await charger.stop()
    assert sent(emu) == [("POST", path, {"state": "disabled", "charge_current": 16,
                                         "auto_release": False})]
    status = await charger.refresh()
    assert status.state is ChargerState.SLEEPING and not status.charging
    assert status.current == 0 and status.power == 0

    emu.clear_requests()
    if version in ("4.0.1", "4.1.2"):
        with pytest.raises(ChargerUnsupported, match=r"4\.1\.6"):
            await charger.set_voltage(230)
        assert sent(emu) == []
    else:
        await charger.set_voltage(230)
        await charger.set_voltage(230)  # the same again: the charger reports it, not re-sent
        assert sent(emu) == [("POST", "/status", {"voltage": 230})]
        assert (await charger.refresh()).voltage == 230

    emu.clear_requests()
    await charger.release()
    assert sent(emu) == [("DELETE", path, None)]
    assert emu.claims == {}
    await charger.release()  # safe twice: the charger answers 404 / 500, not an error here
    status = await charger.refresh()
    assert status.state is ChargerState.CHARGING and status.amps == 32  # default state again
    await charger.close()


@pytest.mark.parametrize("version", VERSIONS)
async def test_status_reads_units_and_limits(make_emulator: EmulatorFactory,
                                             version: str) -> None:
    emu = make_emulator(version, max_current_hard=40, voltage=230, temp=38.5)
    emu.state = 254  # asleep: no energy flows while the test reads
    emu.model.session_wh = 1500.0
    emu.model.total_kwh = 2000.25
    charger = driver(emu)
    status = await charger.refresh()
    assert status.state is ChargerState.SLEEPING and not status.charging and status.online
    assert (status.min_amps, status.max_amps) == (6, 40)  # min/max_current_hard from /config
    assert status.voltage == 230 and status.temp == 38.5  # 385 tenths of degC
    assert status.session_energy == pytest.approx(1500.0)  # Wh (from wattsec on 4.0.1)
    assert status.total_energy == pytest.approx(2000.25)  # kWh
    assert status.firmware == version and status.vehicle
    await charger.close()


@pytest.mark.parametrize(
    ("code", "state", "reason"),
    [(0, ChargerState.STARTING, None), (1, ChargerState.NOT_CONNECTED, None),
     (2, ChargerState.CONNECTED, None), (255, ChargerState.DISABLED, None),
     (6, ChargerState.ERROR, "GFCI fault"), (8, ChargerState.ERROR, "stuck relay"),
     (14, ChargerState.ERROR, "relay closure"), (42, ChargerState.ERROR, "unknown")],
)
async def test_state_codes(make_emulator: EmulatorFactory, code: int, state: ChargerState,
                           reason: str | None) -> None:
    emu = make_emulator("v5.1.2")
    emu.state = code
    status = await driver(emu).refresh()
    assert status.state is state and not status.charging
    assert (status.error is None) if reason is None else (reason in str(status.error))


async def test_power_is_computed_before_4_2_0_and_read_after(
        make_emulator: EmulatorFactory) -> None:
    old, new = make_emulator("4.1.6", three_phase=True), make_emulator("v5.1.2", three_phase=True)
    assert "power" not in old.model.status_doc()
    assert "is_threephase" not in old.model.config_doc(None, None)
    # 4.1.x says neither power nor phases: the configured phases decide (1 by default).
    assert (await driver(old).refresh()).power == pytest.approx(32 * 240)
    assert (await driver(old, phases=3).refresh()).power == pytest.approx(32 * 240 * 3)
    assert (await driver(new).refresh()).power == pytest.approx(32 * 240 * 3)  # `power` field


def test_the_firmwares_is_threephase_outranks_the_configured_phases() -> None:
    doc = {"state": 3, "amp": 16000, "pilot": 16, "voltage": 230, "vehicle": 1}
    config = {"version": "4.2.0", "min_current_hard": 6, "max_current_hard": 32}
    single = parse_config("garage", {**config, "is_threephase": False}, "GET /config")
    three = parse_config("garage", {**config, "is_threephase": True}, "GET /config")
    silent = parse_config("garage", config, "GET /config")
    assert (single.three_phase, three.three_phase, silent.three_phase) == (False, True, None)
    assert parse_status("garage", doc, single, "GET /status", 3).power == 16 * 230
    assert parse_status("garage", doc, three, "GET /status", 1).power == 16 * 230 * 3
    assert parse_status("garage", doc, silent, "GET /status", 3).power == 16 * 230 * 3


async def test_a_new_driver_adopts_the_claim_it_finds(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2")
    await driver(emu).stop()
    emu.clear_requests()
    await driver(emu).set_current(10)  # a restarted daemon, or a second CLI call
    assert sent(emu)[-1] == ("POST", CLAIM, {"state": "disabled", "charge_current": 10,
                                             "auto_release": False})


async def test_our_claim_uses_our_client_id(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2")
    await driver(emu, client_id=4242).start()
    assert list(emu.claims) == [4242]
    for bad in (20, 65537, 65548, 262145, 0, 2**31):
        with pytest.raises(ValueError, match="client id"):
            driver(emu, client_id=bad)


async def test_amps_outside_the_hard_limits_is_refused_and_nothing_sent(
        make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2", max_current_hard=24)
    charger = driver(emu)
    await charger.refresh()
    emu.clear_requests()
    with pytest.raises(ChargerUnsupported, match="max_current_hard = 24 A"):
        await charger.set_current(25)
    with pytest.raises(ChargerUnsupported, match="min_current_hard = 6 A"):
        await charger.set_current(5)
    assert emu.requests == []


async def test_firmware_without_control_api_says_use_rapi(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("3.3.2")
    charger = driver(emu)
    assert (await charger.refresh()).online  # /status still reads
    with pytest.raises(ChargerUnsupported, match="RAPI"):
        await charger.start()
    await charger.release()  # nothing was claimed: nothing to do, no error
    assert sent(emu) == []


# ------------------------------------------------------------------------- faults


async def test_timeout_gives_offline_status_after_one_timeout(
        make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2")
    charger = driver(emu, timeout=0.3)
    online = await charger.refresh()
    emu.set_fault("timeout")
    emu.clear_requests()
    began = time.monotonic()
    status = await charger.refresh()
    elapsed = time.monotonic() - began
    assert status.state is ChargerState.OFFLINE and "no answer within 0.3 s" in str(status.error)
    assert status.total_energy == online.total_energy  # last known values kept
    # One timeout: a timeout is not retried. Counted in requests, not in seconds, so that a
    # loaded machine cannot make it fail.
    assert elapsed >= 0.25 and len(emu.requests) == 1
    with pytest.raises(ChargerTimeout, match="/claims"):
        await charger.start()


@pytest.mark.parametrize(
    ("kind", "path", "error", "text"),
    [("500", "/claims", ChargerProtocolError, rf"HTTP 500 for POST .*{CLAIM}"),
     ("invalid_json", "/claims", ChargerProtocolError, "invalid JSON from GET"),
     ("401", "/claims", ChargerAuthError, "authentication failed"),
     ("drop", "/claims", ChargerTimeout, "dropped")],
)
async def test_command_errors(make_emulator: EmulatorFactory, kind: Any, path: str,
                              error: type[Exception], text: str) -> None:
    emu = make_emulator("v5.1.2")
    charger = driver(emu)
    await charger.refresh()
    emu.set_fault(kind, path=path if kind != "500" else CLAIM, times=None)
    if kind == "500":
        charger._adopted = True  # so that the POST is the first request under the fault
    with pytest.raises(error, match=text):
        await charger.start()


async def test_a_dropped_connection_is_retried_once(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2")
    charger = driver(emu)
    await charger.refresh()
    emu.clear_requests()
    emu.set_fault("drop", path="/status", times=1)
    assert (await charger.refresh()).online
    assert [e.fault for e in emu.exchanges] == ["drop", None]
    emu.set_fault("drop", path="/status")
    emu.clear_requests()
    status = await charger.refresh()
    assert not status.online and "dropped" in str(status.error)
    assert len(emu.requests) == 2  # one try, one retry, no more


async def test_missing_fields_are_protocol_errors(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2")
    charger = driver(emu)
    await charger.refresh()
    original = emu.model.status_doc
    emu.model.status_doc = lambda: {k: v for k, v in original().items() if k != "amp"}  # type: ignore[method-assign]
    with pytest.raises(ChargerProtocolError, match="`amp` is missing"):
        await charger.read_status()


async def test_refresh_logs_once_per_change_of_reason(make_emulator: EmulatorFactory,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    emu = make_emulator("v5.1.2")
    charger = driver(emu, timeout=0.2)
    # Debug: the daemon's health report says it at warning level, with how long it lasted.
    caplog.set_level(logging.DEBUG, logger="evse_rules.chargers")
    await charger.refresh()
    emu.set_fault("500", path="/status")
    for _ in range(3):
        assert not (await charger.refresh()).online
    emu.set_fault("invalid_json", path="/status")
    await charger.refresh()
    await charger.refresh()
    emu.clear_fault()
    assert (await charger.refresh()).online
    lines = [r.getMessage() for r in caplog.records
             if "offline" in r.getMessage() or "back online" in r.getMessage()]
    assert len(lines) == 3, lines
    assert "HTTP 500 for GET" in lines[0] and "invalid JSON" in lines[1]
    assert lines[2] == "garage: back online"


async def test_nobody_listening(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2")
    url = emu.url
    emu.stop()  # the port is closed now: connections are refused
    charger = OpenEvseCharger("garage", url, timeout=0.3)
    status = await charger.refresh()
    assert not status.online and "could not connect" in str(status.error)
    with pytest.raises(ChargerTimeout, match="could not connect"):
        await charger.start()
