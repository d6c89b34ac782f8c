"""Firmware versions, client ids, state codes, and the real captures read through the driver."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from evse_rules.chargers import (
    DEFAULT_CLIENT_ID,
    ChargerState,
    FirmwareVersion,
    OpenEvseCharger,
    RapiCharger,
    connect,
    validate_client_id,
)
from evse_rules.chargers.states import map_state
from evse_rules.errors import ChargerProtocolError
from tests.openevse_fixtures import SPEC_DIR, need_spec


@pytest.mark.parametrize(
    ("raw", "release"),
    [("4.1.2", (4, 1, 2)), ("v5.1.2", (5, 1, 2)), ("V4.0.1", (4, 0, 1)),
     ("master_abc123", None), ("v5.0.1_modified", None), ("4.1.5.dev", None),
     ("local_master_1234abcd", None), ("random_g4f11e", None)],
)
def test_version_parsing(raw: str, release: tuple[int, int, int] | None) -> None:
    version = FirmwareVersion.parse(raw)
    assert version.release == release and str(version) == raw


def test_a_dev_build_counts_as_the_newest() -> None:
    dev = FirmwareVersion.parse("master_abc123")
    assert dev.is_dev and dev.at_least((99, 0, 0))
    assert FirmwareVersion.parse("4.1.6").at_least((4, 1, 6))
    assert not FirmwareVersion.parse("4.1.5").at_least((4, 1, 6))
    with pytest.raises(ValueError, match="empty"):
        FirmwareVersion.parse(" ")


def test_client_ids() -> None:
    # EVC(vendor "EV" = 0x4556, n = 1), the firmware's own client id scheme; the guides give
    # it in decimal, for people who look for it in the charger's claims.
    assert DEFAULT_CLIENT_ID == (0x4556 << 16) | 1 == validate_client_id(DEFAULT_CLIENT_ID)
    root = Path(__file__).resolve().parent.parent
    for guide in ("running.md", "chargers.md"):
        assert str(DEFAULT_CLIENT_ID) in (root / "docs" / guide).read_text(), guide
    assert DEFAULT_CLIENT_ID < 2**31
    assert validate_client_id(21) == 21
    with pytest.raises(ValueError, match="evcc"):
        validate_client_id(262145)
    with pytest.raises(ValueError, match="firmware itself"):
        validate_client_id(65540)
    with pytest.raises(ValueError, match="whole number"):
        validate_client_id("7")  # type: ignore[arg-type]


def test_state_table() -> None:
    assert map_state(254) == (ChargerState.SLEEPING, None)
    assert map_state(255) == (ChargerState.DISABLED, None)
    for code in range(4, 15):
        state, reason = map_state(code)
        assert state is ChargerState.ERROR and reason and f"state {code}" in reason


def test_connect() -> None:
    assert isinstance(connect("a", "openevse", "http://h"), OpenEvseCharger)
    assert isinstance(connect("b", "rapi", "h.local:8080"), RapiCharger)
    with pytest.raises(ValueError, match="unknown charger driver 'mqtt'"):
        connect("c", "mqtt", "http://h")
    with pytest.raises(ValueError, match="not an http"):
        connect("d", "openevse", "ftp://h")
    with pytest.raises(ValueError, match="timeout"):
        connect("e", "openevse", "http://h", timeout=0)


def capture_transport(config: str, status: str) -> httpx.MockTransport:
    documents = {"/config": (SPEC_DIR / config).read_bytes(),
                 "/status": (SPEC_DIR / status).read_bytes()}
    return httpx.MockTransport(lambda request: httpx.Response(
        200, content=documents[request.url.path], headers={"Content-Type": "application/json"}))


async def test_real_captures() -> None:
    need_spec()
    # haoe-status-new: amp 28200 mA, voltage 220, power 6204 W, state 254 (SOURCES.md).
    charger = OpenEvseCharger("c", "http://evse", transport=capture_transport(
        "ohttp-v4-config-new.json", "haoe-status-new.json"))
    status = await charger.read_status()
    assert status.state is ChargerState.SLEEPING and not status.charging
    assert (status.current, status.voltage, status.power) == (28.2, 220, 6204)
    assert (status.amps, status.temp, status.min_amps, status.max_amps) == (48, 44.0, 6, 48)
    assert status.total_energy == pytest.approx(20127.22817) and status.session_energy == 0
    assert status.firmware == "v5.1.2" and not status.vehicle
    # The 2021 4.x capture has no session_energy / total_energy: wattsec Ws, watthour Wh.
    old = OpenEvseCharger("o", "http://evse", transport=capture_transport(
        "ohttp-v4-config.json", "ohttp-v4-status.json"))
    status = await old.read_status()
    assert status.session_energy == pytest.approx(992549 / 3600)
    assert status.total_energy == pytest.approx(64.582)
    assert status.temp == 50.3 and status.firmware == "4.1.2"


async def test_bad_documents_are_protocol_errors() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/config":
            return httpx.Response(200, json={"version": "v5.1.2", "min_current_hard": 6,
                                             "max_current_hard": 32})
        return httpx.Response(200, json=[1, 2])

    charger = OpenEvseCharger("c", "http://evse", transport=httpx.MockTransport(reply))
    with pytest.raises(ChargerProtocolError, match="not a JSON object"):
        await charger.read_status()
    text = OpenEvseCharger("t", "http://evse", transport=httpx.MockTransport(
        lambda request: httpx.Response(200, json={"version": "v5.1.2", "state": "three",
                                                  "amp": 0, "pilot": 6})))
    with pytest.raises(ChargerProtocolError, match="`state` is 'three'"):
        await text.read_status()
