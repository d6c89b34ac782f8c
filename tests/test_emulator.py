"""The emulator answers like the firmware (API-NOTES), and its answers pass the spec check."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from evse_rules.testing.emulator import Exchange, OpenEvseEmulator, RecordedRequest
from tests import openevse_fixtures
from tests.openevse_fixtures import (
    VERSIONS,
    EmulatorFactory,
    SpecChecker,
)

# The shared pytest fixtures, bound here so that pytest finds them in this module.
make_emulator = openevse_fixtures.make_emulator
maybe_spec_checker = openevse_fixtures.maybe_spec_checker
spec_checker = openevse_fixtures.spec_checker


def status(client: httpx.Client) -> dict[str, object]:
    data: dict[str, object] = client.get("/status").json()
    return data


def test_claims_combine_by_priority(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2")
    with httpx.Client(base_url=emu.url) as client:
        assert client.post("/claims/7", json={"state": "active", "charge_current": 16}).json() \
            == {"msg": "done"}
        assert (status(client)["state"], status(client)["pilot"]) == (3, 16)
        assert status(client)["amp"] == 16000  # mA
        # The override (priority 1000) beats an API claim (500) for the state...
        assert client.post("/override", json={"state": "disabled"}).status_code == 201
        assert (status(client)["state"], status(client)["pilot"]) == (254, 16)
        # ...and the lowest of charge_current / max_current wins the pilot.
        client.post("/claims/8", json={"max_current": 12})
        assert status(client)["pilot"] == 12
        assert client.delete("/override").json() == {"msg": "Deleted"}
        assert (status(client)["state"], status(client)["pilot"]) == (3, 12)
        client.delete("/claims/8")
        client.post("/claims/7", json={"state": "active", "charge_current": 3})
        assert status(client)["pilot"] == 6  # raised to min_current_hard
        claims = client.get("/claims").json()
        assert claims == [{"client": 7, "priority": 500, "state": "active",
                           "charge_current": 3, "auto_release": False}]
        assert client.get("/claims/9").status_code == 404
        assert client.delete("/claims/9").json() == {"msg": "Not found"}


def test_unplugging_releases_auto_release_claims(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2")
    with httpx.Client(base_url=emu.url) as client:
        client.post("/override", json={"state": "disabled"})  # auto_release defaults to true
        client.post("/claims/7", json={"state": "active"})     # ...and to false for claims
        emu.vehicle = False
        assert list(emu.claims) == [7]
        assert status(client)["state"] == 1 and status(client)["vehicle"] == 0


@pytest.mark.parametrize(("version", "code", "body"),
                         [("4.1.2", 404, {"msg": "No manual override"}), ("v5.1.2", 200, {})])
def test_get_override_without_one(make_emulator: EmulatorFactory, version: str, code: int,
                                  body: object) -> None:
    with httpx.Client(base_url=make_emulator(version).url) as client:
        reply = client.get("/override")
        assert (reply.status_code, reply.json()) == (code, body)


def test_override_toggle_and_pause_uses_disabled(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("4.1.6", pause_uses_disabled=True)
    with httpx.Client(base_url=emu.url) as client:
        assert client.patch("/override").json() == {"msg": "Updated"}
        assert status(client)["state"] == 255  # $FD instead of $FS
        client.patch("/override")
        assert status(client)["state"] == 3
        assert client.delete("/override").status_code == 500  # none to release


def test_basic_auth(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2", user="admin", password="secret")
    with httpx.Client(base_url=emu.url) as client:
        reply = client.get("/status")
        assert reply.status_code == 401
        assert reply.headers["WWW-Authenticate"].startswith("Basic realm=")
        assert client.get("/status", auth=("admin", "secret")).status_code == 200
        assert client.get("/status", auth=("admin", "wrong")).status_code == 401


def test_endpoints_appear_with_their_version() -> None:
    # Not through make_emulator: asking for endpoints a version lacks is outside the spec.
    with OpenEvseEmulator("4.0.1") as old, httpx.Client(base_url=old.url) as client:
        assert client.get("/claims").status_code == 404
        assert client.get("/override").status_code == 404
        assert client.post("/override", json={"state": "active"}).status_code == 201
        assert "session_energy" not in status(client)  # 4.1.1+
    with OpenEvseEmulator("4.1.2") as emu, httpx.Client(base_url=emu.url) as client:
        assert client.post("/status", json={"voltage": 230}).status_code == 405  # 4.1.6+
        assert "power" not in status(client) and "session_energy" in status(client)
    with OpenEvseEmulator("4.1.6") as emu, httpx.Client(base_url=emu.url) as client:
        assert client.post("/status", json={"voltage": 400}).json() == {"voltage": 400}
        assert emu.voltage == 240  # outside 60..300: ignored
        client.post("/status", json={"voltage": 231.5})
        assert status(client)["voltage"] == 231.5


@pytest.mark.parametrize(
    ("version", "allowed", "blocked"),
    [("4.0.1", ["$ST 1", "$FE"], []),
     ("4.1.2", ["$FE", "$SC 10 V"], ["$ST 1"]),
     ("v5.1.2", ["$GS", "$GE"], ["$FE", "$SC 10 V", "$F0 1"]),
     ("v5.1.5", ["$GS", "$F0 1"], ["$FE"])],
)
def test_rapi_blocking_by_version(make_emulator: EmulatorFactory, version: str,
                                  allowed: list[str], blocked: list[str]) -> None:
    with httpx.Client(base_url=make_emulator(version).url) as client:
        for command in allowed:
            reply = client.get("/r", params={"json": "1", "rapi": command})
            assert reply.status_code == 200 and reply.json()["cmd"] == command
        for command in blocked:
            reply = client.get("/r", params={"json": "1", "rapi": command})
            assert (reply.status_code, reply.json()["error"]) == (400, "RAPI_RESPONSE_BLOCKED")


def test_rapi_post_form_and_eeprom_writes(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("4.0.1", full_rapi=True)
    with httpx.Client(base_url=emu.url) as client:
        reply = client.post("/r", data={"json": "1", "rapi": "$SC 12"})
        assert reply.json()["ret"].startswith("$OK 12^")
        assert client.get("/r", params={"json": "1", "rapi": "$SC 50 V"}).json()["ret"] \
            .startswith("$NK 32^")  # clamped to the hardware maximum
    assert emu.eeprom_writes == ["$SC 12"]  # no flag: EEPROM
    assert emu.requests[0].rapi == "$SC 12"


def test_faults(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("v5.1.2")
    # A generous timeout: only the "timeout" fault below is meant to reach one.
    with httpx.Client(base_url=emu.url, timeout=5) as client:
        emu.set_fault("invalid_json", times=1)
        with pytest.raises(json.JSONDecodeError):
            client.get("/status").json()
        emu.set_fault("500", path="/config", times=1)
        assert client.get("/status").status_code == 200  # another path: no fault
        assert client.get("/config").status_code == 500
        assert client.get("/config").status_code == 200  # times=1: used up
        emu.set_fault("delay", seconds=0.1)
        began = time.monotonic()
        assert client.get("/status").status_code == 200
        assert time.monotonic() - began >= 0.1
        emu.set_fault("timeout")
        with pytest.raises(httpx.ReadTimeout):
            client.get("/status", timeout=0.3)
        emu.set_fault("drop")
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/status")
        emu.clear_fault()
    with pytest.raises(ValueError, match="unknown fault"):
        emu.set_fault("slow")  # type: ignore[arg-type]


def test_stop_releases_a_held_request() -> None:
    emu = OpenEvseEmulator().start()
    emu.set_fault("timeout")
    failures: list[BaseException] = []

    def call() -> None:
        try:
            httpx.get(f"{emu.url}/status", timeout=5)
        except httpx.HTTPError as error:
            failures.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.1)
    began = time.monotonic()
    emu.stop()
    thread.join(timeout=3)
    assert not thread.is_alive() and failures and time.monotonic() - began < 2


@pytest.mark.parametrize("version", VERSIONS)
def test_every_reply_passes_the_spec_check(spec_checker: SpecChecker, version: str) -> None:
    # Each endpoint from the version that has it (API-NOTES 12).
    with OpenEvseEmulator(version, user="u", password="p") as emu, \
            httpx.Client(base_url=emu.url, auth=("u", "p")) as client:
        for path in ("/config", "/status", "/override"):
            client.get(path)
        client.post("/override", json={"state": "active", "charge_current": 10})
        client.patch("/override")
        client.delete("/override")
        client.delete("/override")  # none left: 500
        if emu.model.has_claims_api():
            client.get("/claims")
            client.get("/claims/5")
            client.post("/claims/5", json={"state": "disabled", "auto_release": False})
            client.delete("/claims/5")
        if emu.model.has_status_post():
            client.post("/status", json={"voltage": 229.5})
        httpx.get(f"{emu.url}/status")  # no credentials: 401
        exchanges = emu.exchanges
        problems = [p for ex in exchanges for p in spec_checker.problems(emu.url, ex)]
    assert problems == []
    assert len(exchanges) == {"4.0.1": 8, "4.1.2": 12}.get(version, 13)


def test_the_spec_check_catches_what_is_not_documented(spec_checker: SpecChecker) -> None:
    def exchange(method: str, path: str, body: object, status: int, reply: object) -> Exchange:
        raw = json.dumps(body).encode() if body is not None else b""
        request = RecordedRequest(method, path, {}, body, raw, "application/json", None)
        return Exchange(request, status, "application/json", json.dumps(reply).encode(), None)

    assert spec_checker.problems("http://h", exchange(
        "POST", "/claims/5", {"state": "on"}, 200, {"msg": "done"}))  # not active/disabled
    assert spec_checker.problems("http://h", exchange(
        "GET", "/status", None, 200, {"state": "charging"}))  # state is an integer
    assert spec_checker.problems("http://h", exchange(
        "GET", "/status", None, 200, {"temp1": "hot"}))  # only `false` is documented
    assert spec_checker.problems("http://h", exchange(
        "POST", "/claims/5", {"state": "active"}, 201, {"msg": "done"}))  # only 200 there
    assert spec_checker.problems("http://h", exchange(
        "GET", "/nowhere", None, 200, {}))
    assert not spec_checker.problems("http://h", exchange(
        "GET", "/status", None, 200, {"state": 3, "temp1": False}))


async def test_async_context_manager() -> None:
    from evse_rules.testing import OpenEvseEmulator as Exported

    async with Exported("4.1.2", vehicle=False) as emu:
        async with httpx.AsyncClient(base_url=emu.url) as client:
            reply = await client.get("/status")
        assert reply.json()["state"] == 1  # no vehicle: not connected
        assert emu.requests[0].path == "/status"
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.url


def test_fields_and_raw_fields_change_the_documents() -> None:
    # Not through make_emulator: NaN and an unknown state are outside the spec on purpose.
    with OpenEvseEmulator("v5.1.2") as emu, httpx.Client(base_url=emu.url) as client:
        version = status(client)["config_version"]
        emu.set_field("/config", "min_current_hard", 20)
        assert client.get("/config").json()["min_current_hard"] == 20
        assert status(client)["config_version"] != version   # the driver reads /config again
        client.post("/claims/7", json={"state": "active", "charge_current": 10})
        assert emu.pilot == 20                     # the controller raises it to its minimum
        client.delete("/claims/7")
        emu.set_field("/status", "state", 999)
        assert status(client)["state"] == 999
        emu.set_raw_field("/status", "amp", "NaN")
        emu.set_raw_field("/config", "max_current_hard", "1e400")
        assert b'"amp": NaN' in client.get("/status").content
        config = json.loads(client.get("/config").content)
        assert config["max_current_hard"] == float("inf")
        emu.set_field("/status", "voltage", float("inf"))
        assert b'"voltage": Infinity' in client.get("/status").content
        emu.clear_fields()
        assert status(client)["state"] == 3
        assert client.get("/config").json()["max_current_hard"] == 32
        with pytest.raises(ValueError, match="no fields to set"):
            emu.set_field("/claims", "x", 1)


def test_deep_and_huge_bodies() -> None:
    with OpenEvseEmulator("v5.1.2") as emu, httpx.Client(base_url=emu.url) as client:
        emu.set_fault("deep_json", depth=100_000, times=1)
        content = client.get("/status").content
        assert content == b"[" * 100_000 + b"]" * 100_000
        emu.set_fault("huge_body", size=1 << 20, path="/config", times=1)
        reply = client.get("/config")
        assert len(reply.content) == 1 << 20 and reply.json()["pad"].startswith("xxx")
        assert client.get("/config").json()["max_current_hard"] == 32  # times=1: used up


def test_a_claim_left_by_someone_else_and_a_closed_port() -> None:
    with OpenEvseEmulator("v5.1.2") as emu, httpx.Client(base_url=emu.url) as client:
        emu.set_claim(1163264001, {"state": "active", "charge_current": 32})
        assert client.get("/claims/1163264001").json()["charge_current"] == 32
        assert status(client)["pilot"] == 32
        url = emu.url
        emu.stop()
        # The kept-alive connection is cut too: nothing answers on the port.
        with pytest.raises(httpx.TransportError):
            client.get("/status")
        emu.start()
        assert emu.url == url                                 # the same port again
        assert status(client)["pilot"] == 32
        with pytest.raises(ValueError, match="not a claim body"):
            emu.set_claim(5, {"state": "on"})


def test_a_charger_asleep_until_claimed() -> None:
    with OpenEvseEmulator("v5.1.2", default_state=False) as emu, \
            httpx.Client(base_url=emu.url) as client:
        assert status(client)["state"] == 254
        assert client.get("/config").json()["default_state"] is False
        client.post("/claims/7", json={"state": "active", "charge_current": 10})
        assert (status(client)["state"], status(client)["pilot"]) == (3, 10)
        client.delete("/claims/7")
        assert status(client)["state"] == 254
