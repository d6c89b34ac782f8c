"""The RAPI driver: framing, checksums, and the emulator's /r at old and new firmware."""

from __future__ import annotations

import pytest

from evse_rules.chargers import ChargerState, RapiCharger
from evse_rules.chargers.rapi import checksum, frame, parse_reply
from evse_rules.errors import ChargerProtocolError, ChargerUnsupported
from evse_rules.testing.emulator import OpenEvseEmulator
from tests import openevse_fixtures
from tests.openevse_fixtures import (
    EmulatorFactory,
)

# The shared pytest fixtures, bound here so that pytest finds them in this module.
make_emulator = openevse_fixtures.make_emulator
maybe_spec_checker = openevse_fixtures.maybe_spec_checker


@pytest.mark.parametrize(
    "framed",
    # The examples of API-NOTES 8 ("RAPI framing") and two real replies from section 8.
    ["$FE^27", "$FS^31", "$FD^26", "$GS^30", "$GG^24", "$GE^26", "$GU^36", "$GC^20",
     "$SC 24 V^64", "$OK^20", "$OK 30 0121^21", "$OK 26400 -1^0C"],
)
def test_checksum_matches_the_documented_examples(framed: str) -> None:
    command, _, expected = framed.partition("^")
    assert checksum(command) == expected
    assert frame(command) == framed


def test_reply_parsing() -> None:
    assert parse_reply("c", "$GE", "$OK 30 0121^21\r") == ["30", "0121"]
    assert parse_reply("c", "$GE", "$OK 30 0121 :1A^" + checksum("$OK 30 0121 :1A")) == [
        "30", "0121"]  # the optional sequence id is dropped
    with pytest.raises(ChargerProtocolError, match="bad checksum"):
        parse_reply("c", "$GE", "$OK 30 0121^22")
    with pytest.raises(ChargerProtocolError, match="unexpected reply"):
        parse_reply("c", "$GE", "hello")
    with pytest.raises(ChargerUnsupported, match='driver = "openevse"'):
        parse_reply("c", "$SC 40 V", frame("$NK 32"))


def rapi_sent(emu: OpenEvseEmulator) -> list[str | None]:
    return [r.rapi for r in emu.requests]


async def test_status_and_control_on_old_firmware(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("4.0.1", max_current_hard=40, temp=31.0)
    charger = RapiCharger("old", emu.url, timeout=0.5)
    status = await charger.refresh()
    assert status.state is ChargerState.CHARGING and status.vehicle
    assert (status.current, status.amps, status.voltage) == (40, 40, 240)
    assert (status.min_amps, status.max_amps, status.temp) == (6, 40, 31.0)
    assert status.firmware == "7.1.3"
    assert rapi_sent(emu) == ["$GS", "$GG", "$GE", "$GC", "$GU", "$GP", "$GV"]

    emu.clear_requests()
    await charger.set_current(10)
    await charger.stop()
    assert rapi_sent(emu) == ["$SC 10 V", "$FS"]
    assert emu.eeprom_writes == []  # the V flag: never written to EEPROM
    status = await charger.refresh()
    assert status.state is ChargerState.SLEEPING and not status.charging and status.amps == 10

    emu.clear_requests()
    await charger.start()
    await charger.set_voltage(230)
    await charger.set_voltage(230)  # in use already: not sent again
    assert rapi_sent(emu) == ["$FE", "$SV 230000"]
    status = await charger.refresh()
    assert status.state is ChargerState.CHARGING and status.power == pytest.approx(10 * 230)
    # RAPI measures one phase's current: a three-phase charger draws three times the power.
    three = RapiCharger("old", emu.url, timeout=0.5, phases=3)
    reading = await three.refresh()
    assert reading.current == 10 and reading.power == pytest.approx(10 * reading.voltage * 3)
    await three.close()

    with pytest.raises(ChargerUnsupported, match=r"\$GC"):
        await charger.set_current(41)
    await charger.release()  # no claims over RAPI: nothing sent
    assert rapi_sent(emu)[-1] != "$SC 41 V"
    await charger.close()


async def test_blocked_on_v5_says_use_the_wifi_api(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2")
    charger = RapiCharger("new", emu.url, timeout=0.5)
    assert (await charger.refresh()).online  # $G... commands still pass
    for action in (charger.start(), charger.stop(), charger.set_current(16)):
        with pytest.raises(ChargerUnsupported, match=r'RAPI_RESPONSE_BLOCKED.*"openevse"'):
            await action
    assert [e.status for e in emu.exchanges[-3:]] == [400, 400, 400]


async def test_controller_refusal_is_an_error(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("4.1.2", voltmeter=True)  # a voltmeter: $SV answers $NK
    charger = RapiCharger("old", emu.url, timeout=0.5)
    await charger.refresh()
    with pytest.raises(ChargerUnsupported, match="voltmeter"):
        await charger.set_voltage(225)


async def test_a_slow_charger_cannot_hold_a_status_read_for_six_timeouts(
        make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("4.0.1")
    # Each answer comes well within the 0.8 s timeout (a wide margin: a loaded machine
    # must not turn the delay into a plain timeout)...
    emu.set_fault("delay", seconds=0.4)
    charger = RapiCharger("slow", emu.url, timeout=0.8)
    status = await charger.refresh()  # ...but six of them do not fit in 2 x 0.8 s
    assert not status.online and "more than 1.6 s" in str(status.error)
