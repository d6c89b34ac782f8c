"""MQTT end to end: `evse-rules run` with its services, the emulated OpenEVSE and a real
Mosquitto (tests/mosquitto.py). State goes out retained, commands come in through the
engine's one command path, a broker restart never stops the ticks, Home Assistant finds
the entities."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from evse_rules.cli.live import services
from evse_rules.config import load_config
from evse_rules.engine.journal import Journal
from evse_rules.live import Daemon
from evse_rules.mqtt.service import MqttService
from evse_rules.testing.emulator import OpenEvseEmulator
from tests.mosquitto import Mosquitto, Recorder
from tests.openevse_fixtures import claims_posted

RULES = """
input pv: W
input tariff: text
input boost: boolean
var target: kWh = 20 kWh
var note: text = "summer"
var eco: boolean = true

# The text and the boolean input are read with their types: blue and boost, or no start.
if mode is auto and known(pv) and tariff is "blue" and boost then start
if mode is auto and not known(pv) then stop
"""
STATE_KEYS = ("state", "vehicle", "charging", "enabled", "current", "amps", "setpoint",
              "voltage", "power", "session_energy", "temp", "mode", "online")


def _config(tmp_path: Path, emu: OpenEvseEmulator, broker: Mosquitto, *, mqtt: str = "",
            chargers: str = "", rules: str = RULES) -> Path:
    (tmp_path / "rules.evr").write_text(rules)
    path = tmp_path / "evse-rules.toml"
    path.write_text(f"""
tick = "250 ms"
rules = ["rules.evr"]
[http]
enabled = false
[mqtt]
host = "127.0.0.1"
port = {broker.port}
client_id = "evse-test"
{mqtt}
[chargers.garage]
url = "{emu.url}"
min_amps = 6
max_amps = 16
min_on = "0 s"
min_off = "0 s"
mode = "auto"
timeout = "3 s"
{chargers}
[inputs.pv]
kind = "mqtt"
topic = "meter/pv"
unit = "kW"
stale_after = "1 s"
[inputs.tariff]
kind = "mqtt"
topic = "tariff/colour"
type = "text"
stale_after = "1 h"
[inputs.boost]
kind = "mqtt"
topic = "switches/boost"
path = "state"
type = "boolean"
stale_after = "1 h"
""")
    return path


class Engine:
    """`evse-rules run` in the test's loop, with its MQTT service."""

    def __init__(self, path: Path) -> None:
        self.config = load_config(path)
        self.daemon = Daemon(self.config)
        self.services = services(self.config, self.daemon)
        self.mqtt = next(s for s in self.services if isinstance(s, MqttService))
        self.task = asyncio.create_task(self.daemon.run(self.services))

    async def ticks(self, count: int, timeout: float = 10.0) -> None:
        target = self.daemon.ticks + count
        for _ in range(int(timeout / 0.01)):
            if self.daemon.ticks >= target:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"the daemon did not tick {count} times")

    async def stop(self) -> None:
        self.daemon.stop()
        await asyncio.wait_for(self.task, timeout=10)


def _events(engine: Engine) -> list[tuple[str | None, str]]:
    with Journal(engine.config.journal_path) as journal:
        return [(e.source, e.detail or "") for e in journal.entries() if e.type == "event"]


async def _publish_inputs(seen: Recorder, pv_kw: str = "3.5") -> None:
    await seen.publish("meter/pv", pv_kw, retain=True)
    await seen.publish("tariff/colour", "blue", retain=True)
    await seen.publish("switches/boost", json.dumps({"state": "ON"}), retain=True)


async def _meter(seen: Recorder, kw: str = "3.5", hz: float = 4.0) -> None:
    """A PV meter publishing its power over and over."""
    while True:
        await seen.publish("meter/pv", kw)
        await asyncio.sleep(1 / hz)


async def test_state_goes_out_retained_one_value_per_topic(tmp_path: Path) -> None:
    with OpenEvseEmulator("v5.1.2") as emu, Mosquitto(tmp_path / "broker") as broker:
        emu.vehicle = True
        async with Recorder(broker.port) as seen:
            await _publish_inputs(seen)
            engine = Engine(_config(tmp_path, emu, broker))
            await engine.ticks(4)
            await seen.wait_for(lambda: seen.last.get("evse-rules/garage/charging") == "true")
            last = seen.last
            assert last["evse-rules/status"] == "online"
            for key in STATE_KEYS:
                assert f"evse-rules/garage/{key}" in last, key
            assert last["evse-rules/garage/mode"] == "auto"
            assert last["evse-rules/garage/online"] == "true"
            assert last["evse-rules/garage/state"] == "charging"
            assert last["evse-rules/garage/vehicle"] == "true"
            assert float(last["evse-rules/garage/voltage"]) > 100
            # Inputs in their display unit (kW in, W out), text and boolean as they are.
            assert last["evse-rules/input/pv"] == "3500"
            assert last["evse-rules/input/pv/stale"] == "false"
            assert last["evse-rules/input/tariff"] == "blue"
            assert last["evse-rules/input/boost"] == "true"
            assert last["evse-rules/var/target"] == "20"
            assert last["evse-rules/var/note"] == "summer"
            assert last["evse-rules/var/eco"] == "true"
        # A new client gets the whole state from what the broker retained.
        async with Recorder(broker.port, "evse-rules/#") as late:
            await late.wait_for(lambda: "evse-rules/garage/power" in late.last)
            await asyncio.sleep(0.2)
            retained = {topic for topic, _, retain in late.messages if retain}
            # Every known value; an unknown one (no setpoint sent yet) is an empty payload,
            # which removes the retained message.
            known = {f"evse-rules/garage/{key}" for key in STATE_KEYS if last[
                f"evse-rules/garage/{key}"] != ""}
            assert len(known) >= len(STATE_KEYS) - 1 and known <= retained
            assert "evse-rules/input/pv" in retained and "evse-rules/var/target" in retained
        await engine.stop()
        # A clean stop says offline.
        async with Recorder(broker.port, "evse-rules/status") as after:
            await after.wait_for(lambda: after.last.get("evse-rules/status") == "offline")


async def test_commands_reach_the_charger_through_the_command_path(tmp_path: Path) -> None:
    with OpenEvseEmulator("v5.1.2") as emu, Mosquitto(tmp_path / "broker") as broker:
        emu.vehicle = True
        async with Recorder(broker.port) as seen:
            await _publish_inputs(seen)
            # A retained command would come back at every connection: it is not taken.
            await seen.publish("evse-rules/garage/charging/set", "off", retain=True)
            meter = asyncio.create_task(_meter(seen))
            engine = Engine(_config(tmp_path, emu, broker))
            await engine.ticks(3)
            await seen.wait_for(lambda: "retained" in seen.last.get("evse-rules/error", ""))
            await seen.wait_for(lambda: emu.state == 3)
            assert seen.last["evse-rules/garage/mode"] == "auto"
            await seen.publish("evse-rules/garage/charging/set", "", retain=True)
            await seen.publish("evse-rules/garage/charging/set", "off")
            await seen.wait_for(lambda: emu.state == 254)
            await seen.wait_for(lambda: seen.last.get("evse-rules/garage/mode") == "manual")
            await seen.publish("evse-rules/garage/amps/set", "10")
            await seen.wait_for(lambda: claims_posted(emu.requests)[-1]["charge_current"] == 10)
            assert claims_posted(emu.requests)[-1]["state"] == "disabled"
            await seen.publish("evse-rules/garage/enabled/set", "ON")
            await seen.wait_for(lambda: claims_posted(emu.requests)[-1]["state"] == "active")
            await seen.publish("evse-rules/var/target", "x")      # a state topic: ignored
            await seen.publish("evse-rules/var/target/set", "25 kWh")
            await seen.wait_for(lambda: seen.last.get("evse-rules/var/target") == "25")
            await seen.publish("evse-rules/garage/mode/set", "auto")
            await seen.wait_for(lambda: seen.last.get("evse-rules/garage/mode") == "auto")
            # Bad values: refused, said on the error topic, nothing half-done.
            before = len(claims_posted(emu.requests))
            await seen.publish("evse-rules/garage/amps/set", "40")
            await seen.wait_for(lambda: "amps" in seen.last["evse-rules/error"])
            error = json.loads(seen.last["evse-rules/error"])
            assert error["topic"] == "evse-rules/garage/amps/set"
            assert "40 A is above its maximum of 16 A" in error["error"]
            await seen.publish("evse-rules/garage/charging/set", "maybe")
            await seen.wait_for(lambda: "maybe" in seen.last["evse-rules/error"])
            await seen.publish("evse-rules/garage/mode/set", "turbo")
            await seen.wait_for(lambda: "turbo" in seen.last["evse-rules/error"])
            await seen.publish("evse-rules/var/eco/set", "perhaps")
            await seen.wait_for(lambda: "perhaps" in seen.last["evse-rules/error"])
            await engine.ticks(2)
            assert len(claims_posted(emu.requests)) == before
            assert seen.last["evse-rules/garage/mode"] == "auto"
            assert seen.last["evse-rules/var/eco"] == "true"
            assert all(not retain for topic, _, retain in seen.messages
                       if topic == "evse-rules/error")
            meter.cancel()
        await engine.stop()
    events = _events(engine)
    assert ("mqtt", "stop garage: sent stop; mode auto -> manual") in events
    assert ("mqtt", "amps garage 10: sent set_current 10 A") in events
    assert ("mqtt", "start garage: sent start") in events
    assert ("mqtt", "set target = 25 kWh") in events
    assert ("mqtt", "amps garage 40: refused: garage: 40 A is above its maximum of 16 A "
                    "(max_amps; nothing sent)") in events
    assert any(source == "mqtt" and "turbo" in text and "refused" in text
               for source, text in events)
    assert any(source == "mqtt" and "perhaps" in text and "refused" in text
               for source, text in events)


async def _resilient_meter(port: int, kw: str = "3.5", hz: float = 4.0) -> None:
    """A PV meter that keeps publishing, and connects again when the broker comes back."""
    import aiomqtt

    while True:
        client = aiomqtt.Client("127.0.0.1", port, identifier="test-meter")
        try:
            async with client:
                while True:
                    await client.publish("meter/pv", kw)
                    await asyncio.sleep(1 / hz)
        except aiomqtt.MqttError:
            # Taken, so that asyncio does not say it was never retrieved.
            with contextlib.suppress(Exception):
                client._disconnected.exception()
            await asyncio.sleep(0.1)


async def _until(check: Any, timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within the time")


async def test_a_broker_restart_stales_the_inputs_and_never_stops_the_ticks(
    tmp_path: Path,
) -> None:
    with OpenEvseEmulator("v5.1.2", default_state=False) as emu, \
            Mosquitto(tmp_path / "broker") as broker:
        async with Recorder(broker.port) as seen:
            await _publish_inputs(seen)
        assert emu.state == 254
        meter = asyncio.create_task(_resilient_meter(broker.port))
        engine = Engine(_config(tmp_path, emu, broker))
        await _until(lambda: emu.state == 3)           # known(pv): started
        await _until(lambda: engine.mqtt.link is not None)
        link = engine.mqtt.link
        assert link is not None and link.connected.is_set()
        broker.stop()
        ticks = engine.daemon.ticks
        # The engine keeps ticking; pv goes stale; the rule guarded by known(pv) stops.
        await _until(lambda: engine.daemon.store.reading("pv").stale)
        await _until(lambda: emu.state == 254)
        await engine.ticks(4)
        assert engine.daemon.ticks >= ticks + 6
        assert not link.connected.is_set()
        broker.start()
        await _until(lambda: link.connected.is_set())
        await asyncio.sleep(engine.config.tick_seconds)     # one tick
        async with Recorder(broker.port, "evse-rules/#") as after:
            await asyncio.sleep(0.2)
            retained = {topic for topic, text, retain in after.messages if retain and text}
        for key in ("state", "mode", "online", "voltage", "enabled"):
            assert f"evse-rules/garage/{key}" in retained, key
        assert {"evse-rules/status", "evse-rules/var/target", "evse-rules/var/eco",
                "evse-rules/input/pv/stale", "evse-rules/input/tariff"} <= retained
        # The input comes back and the rules start the charger again.
        await _until(lambda: not engine.daemon.store.reading("pv").stale)
        await _until(lambda: emu.state == 3)
        meter.cancel()
        await engine.stop()
    events = _events(engine)
    assert ("inputs.pv", "stale: no fresh value, rules that read it do not fire") in events
    said = [text for source, text in events if source == "inputs.pv"
            and "no message on topic 'meter/pv'" in text]
    # Said once while the broker is away (and once more if the meter is slower to come
    # back than the broker), not at every tick.
    assert 1 <= len(said) <= 2 and "MQTT broker 127.0.0.1" in said[0], said
    assert any(source == "inputs.pv" and text.startswith("fresh again")
               for source, text in events)


# The keys of Home Assistant's MQTT discovery that these payloads use, per component
# (https://www.home-assistant.io/integrations/sensor.mqtt/, select.mqtt, switch.mqtt,
# number.mqtt, text.mqtt; device, availability and origin: integrations/mqtt/).
COMMON = {"name", "unique_id", "device", "origin", "availability", "availability_mode",
          "state_topic"}
DOCUMENTED = {
    "sensor": COMMON | {"device_class", "unit_of_measurement", "state_class"},
    "select": COMMON | {"command_topic", "options"},
    "switch": COMMON | {"command_topic", "payload_on", "payload_off", "state_on",
                        "state_off"},
    "number": COMMON | {"command_topic", "min", "max", "step", "mode",
                        "unit_of_measurement", "device_class"},
    "text": COMMON | {"command_topic", "min", "max", "mode"},
}
DEVICE_KEYS = {"identifiers", "name", "manufacturer", "model", "sw_version"}
AVAILABILITY_KEYS = {"topic", "payload_available", "payload_not_available"}
SENSOR_CLASSES = {"power": ("power", "W", "measurement"),
                  "current": ("current", "A", "measurement"),
                  "voltage": ("voltage", "V", "measurement"),
                  "session_energy": ("energy", "Wh", "total_increasing"),
                  "temp": ("temperature", "°C", "measurement")}


def _configs(seen: Recorder) -> dict[str, dict[str, Any]]:
    return {topic: json.loads(text) for topic, text in seen.last.items()
            if topic.startswith("homeassistant/") and topic.endswith("/config") and text}


async def test_home_assistant_discovery_field_by_field(tmp_path: Path) -> None:
    with OpenEvseEmulator("v5.1.2") as emu, OpenEvseEmulator("v5.1.2") as other, \
            Mosquitto(tmp_path / "broker") as broker:
        carport = f"""
[chargers.carport]
url = "{other.url}"
min_amps = 8
max_amps = 24
timeout = "3 s"
"""
        async with Recorder(broker.port) as seen:
            await _publish_inputs(seen)
            rules = RULES.replace("mode is auto", "garage.mode is auto").replace(
                "then start", "then start garage").replace("then stop", "then stop garage")
            engine = Engine(_config(tmp_path, emu, broker, chargers=carport, rules=rules))
            await seen.wait_for(lambda: len(_configs(seen)) == 2 * 10 + 3)
            configs = _configs(seen)
            state_topics = {t for t in seen.last if t.startswith("evse-rules/")}
            for topic, payload in configs.items():
                _, component, node, _, _ = topic.split("/")
                assert node == "evse-rules"
                assert set(payload) <= DOCUMENTED[component], (topic, set(payload))
                assert set(payload) >= COMMON
                assert set(payload["device"]) == DEVICE_KEYS
                assert payload["availability"][0] == {
                    "topic": "evse-rules/status", "payload_available": "online",
                    "payload_not_available": "offline"}
                assert all(set(a) == AVAILABILITY_KEYS for a in payload["availability"])
                assert payload["availability_mode"] == "all"
                assert payload["state_topic"] in state_topics, payload["state_topic"]
                if "command_topic" in payload:
                    assert payload["command_topic"] == payload["state_topic"] + "/set"
            ids = [p["unique_id"] for p in configs.values()]
            assert len(ids) == len(set(ids))
            for key, (device_class, unit, state_class) in SENSOR_CLASSES.items():
                sensor = configs[f"homeassistant/sensor/evse-rules/garage_{key}/config"]
                assert (sensor["device_class"], sensor["unit_of_measurement"],
                        sensor["state_class"]) == (device_class, unit, state_class)
                assert sensor["state_topic"] == f"evse-rules/garage/{key}"
                assert sensor["availability"][1] == {
                    "topic": "evse-rules/garage/online", "payload_available": "true",
                    "payload_not_available": "false"}
            state = configs["homeassistant/sensor/evse-rules/garage_state/config"]
            assert "device_class" not in state and len(state["availability"]) == 1
            plan = configs["homeassistant/sensor/evse-rules/garage_plan/config"]
            assert (plan["name"], plan["state_topic"]) == ("Charge plan", "evse-rules/garage/plan")
            select = configs["homeassistant/select/evse-rules/garage_mode/config"]
            assert select["options"] == ["auto", "manual"]
            assert select["command_topic"] == "evse-rules/garage/mode/set"
            switch = configs["homeassistant/switch/evse-rules/garage_charging/config"]
            assert (switch["state_topic"], switch["command_topic"]) == (
                "evse-rules/garage/enabled", "evse-rules/garage/enabled/set")
            assert (switch["payload_on"], switch["payload_off"]) == ("true", "false")
            amps = configs["homeassistant/number/evse-rules/garage_amps/config"]
            assert (amps["min"], amps["max"], amps["step"]) == (6, 16, 1)
            assert amps["command_topic"] == "evse-rules/garage/amps/set"
            carport_amps = configs["homeassistant/number/evse-rules/carport_amps/config"]
            assert (carport_amps["min"], carport_amps["max"]) == (8, 24)
            garage_device = amps["device"]
            assert garage_device["identifiers"] == ["evse-rules_garage"]
            assert carport_amps["device"]["identifiers"] == ["evse-rules_carport"]
            target = configs["homeassistant/number/evse-rules/var_target/config"]
            assert (target["command_topic"], target["unit_of_measurement"]) == (
                "evse-rules/var/target/set", "kWh")
            note = configs["homeassistant/text/evse-rules/var_note/config"]
            assert note["state_topic"] == "evse-rules/var/note"
            eco = configs["homeassistant/switch/evse-rules/var_eco/config"]
            assert (eco["payload_on"], eco["state_on"]) == ("true", "true")

            # Home Assistant starting again: the discovery is sent again.
            seen.messages.clear()
            await seen.publish("homeassistant/status", "online")
            await seen.wait_for(lambda: sum(1 for t, _, _ in seen.messages
                                            if t.endswith("/config")) >= 23)
            await engine.stop()

            # The carport and the `note` variable go: their entities are removed (an
            # empty retained config), by the next start, though they were of an earlier run.
            seen.messages.clear()
            engine = Engine(_config(tmp_path, emu, broker,
                                    rules=RULES.replace('var note: text = "summer"\n', "")))
            gone = {t for t in configs if "carport" in t or "var_note" in t}
            assert len(gone) == 11
            await seen.wait_for(lambda: gone <= {t for t, text, _ in seen.messages
                                                 if not text})
            await engine.stop()
        async with Recorder(broker.port, "homeassistant/#") as late:
            await late.wait_for(lambda: len(_configs(late)) == 10 + 2)
            assert not any("carport" in t or "var_note" in t for t in _configs(late))


async def test_a_password_protected_broker_and_no_secret_in_any_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "Brok3r-s3cret-pw"
    monkeypatch.setenv("EVSE_TEST_MQTT_PASSWORD", secret)
    users = {"evse": secret, "viewer": "viewer-pw"}
    with OpenEvseEmulator("v5.1.2") as emu, Mosquitto(tmp_path / "broker", users) as broker:
        emu.vehicle = True
        async with Recorder(broker.port, user="viewer", password="viewer-pw") as seen:
            await _publish_inputs(seen)
            auth = 'user = "evse"\npassword_env = "EVSE_TEST_MQTT_PASSWORD"'
            engine = Engine(_config(tmp_path, emu, broker, mqtt=auth))
            await seen.wait_for(lambda: seen.last.get("evse-rules/garage/charging") == "true")
            await seen.wait_for(lambda: len(_configs(seen)) == 10 + 3)
            await engine.stop()
            await seen.wait_for(lambda: seen.last.get("evse-rules/status") == "offline")
            assert len(seen.messages) > 50
            assert not any(secret in topic or secret in text
                           for topic, text, _ in seen.messages)

            # A wrong password: the engine runs, the inputs say why they have no value.
            monkeypatch.setenv("EVSE_TEST_MQTT_PASSWORD", "wrong")
            (tmp_path / "second").mkdir()
            engine = Engine(_config(tmp_path / "second", emu, broker, mqtt=auth))
            await engine.ticks(8)
            await engine.stop()
    events = _events(engine)
    assert any(source == "inputs.pv" and "not authorized" in text for source, text in events)
    assert not any(secret in text or "wrong" in text for _, text in events)


async def test_a_malformed_payload_is_journaled_and_the_last_value_kept(
    tmp_path: Path,
) -> None:
    with OpenEvseEmulator("v5.1.2") as emu, Mosquitto(tmp_path / "broker") as broker:
        async with Recorder(broker.port) as seen:
            await _publish_inputs(seen, "2.5")
            engine = Engine(_config(tmp_path, emu, broker))
            await engine.ticks(2)
            store = engine.daemon.store
            assert store.reading("pv").value == 2500.0
            updated = store.reading("pv").updated
            bad = "garbage-" * 20
            await seen.publish("meter/pv", bad)
            await seen.publish("tariff/colour", "x" * 300)
            await engine.ticks(2)
            reading = store.reading("pv")
            assert reading.value == 2500.0 and not reading.stale
            assert store.reading("tariff").value == "blue"
            # Malformed messages keep coming: they do not keep the input fresh.
            for _ in range(12):
                await seen.publish("meter/pv", "n/a")
                await asyncio.sleep(0.25)
            assert store.reading("pv").stale
            assert updated is not None
        await engine.stop()
    events = _events(engine)
    cut = bad[:60] + "..."
    assert ("inputs.pv", f"inputs.pv: topic 'meter/pv': payload '{cut}' is not a number; "
                         "the last value is kept") in events
    assert any(source == "inputs.tariff" and "is a text of 300 characters" in text
               for source, text in events)
    assert ("inputs.pv", "inputs.pv: topic 'meter/pv': payload 'n/a' is not a number; the "
                         "last value is kept") in events


async def test_the_last_will_says_offline_when_the_engine_dies(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    with OpenEvseEmulator("v5.1.2") as emu, Mosquitto(tmp_path / "broker") as broker:
        path = _config(tmp_path, emu, broker)
        async with Recorder(broker.port, "evse-rules/status") as seen:
            with (tmp_path / "run.log").open("w") as log:
                process = subprocess.Popen([sys.executable, "-m", "evse_rules", "run",
                                            "--config", str(path)],
                                           stdout=log, stderr=subprocess.STDOUT)
            try:
                await seen.wait_for(lambda: seen.last.get("evse-rules/status") == "online",
                                    timeout=20)
                process.send_signal(signal.SIGKILL)        # no clean stop: the will speaks
                await seen.wait_for(lambda: seen.last.get("evse-rules/status") == "offline",
                                    timeout=10)
            finally:
                process.kill()
                process.wait(10)


async def test_the_state_is_published_again_every_refresh_without_changes(
    tmp_path: Path,
) -> None:
    with OpenEvseEmulator("v5.1.2") as emu, Mosquitto(tmp_path / "broker") as broker:
        async with Recorder(broker.port) as seen:
            engine = Engine(_config(tmp_path, emu, broker))
            engine.mqtt.refresh = 0.5
            await seen.wait_for(lambda: "evse-rules/var/target" in seen.last)
            await engine.ticks(2)
            # The variable does not change: it goes out again only with the whole state.
            await seen.wait_for(lambda: sum(1 for t, _, _ in seen.messages
                                            if t == "evse-rules/var/target") >= 3, timeout=5)
            # The discovery is not part of the refresh: each config went out once.
            configs = [t for t, _, _ in seen.messages if t.endswith("/config")]
            assert len(configs) == 10 + 3 and len(set(configs)) == len(configs)
            await engine.stop()


async def test_tls_with_a_ca_file_and_not_with_the_system_cas(tmp_path: Path) -> None:
    with OpenEvseEmulator("v5.1.2") as emu, \
            Mosquitto(tmp_path / "broker", tls=True) as broker:
        assert broker.ca_file is not None
        async with Recorder(broker.port, ca_file=broker.ca_file) as seen:
            await _publish_inputs(seen)
            engine = Engine(_config(tmp_path, emu, broker, mqtt=f'ca_file = "{broker.ca_file}"'))
            await seen.wait_for(lambda: seen.last.get("evse-rules/status") == "online")
            await seen.wait_for(lambda: seen.last.get("evse-rules/input/pv") == "3500")
            await engine.stop()
            # The system's CAs do not know the test's own CA: refused, and said.
            (tmp_path / "system").mkdir()
            engine = Engine(_config(tmp_path / "system", emu, broker, mqtt="tls = true"))
            await engine.ticks(6)
            assert engine.mqtt.link is not None and not engine.mqtt.link.connected.is_set()
            await engine.stop()
    events = _events(engine)
    said = [text for source, text in events if source == "inputs.pv"]
    assert said and "certificate verify failed" in said[0], said


async def test_a_charger_removed_while_running_leaves_home_assistant_and_the_topics(
    tmp_path: Path,
) -> None:
    with OpenEvseEmulator("v5.1.2") as emu, OpenEvseEmulator("v5.1.2") as other, \
            Mosquitto(tmp_path / "broker") as broker:
        carport = f'[chargers.carport]\nurl = "{other.url}"\ntimeout = "3 s"\n'
        rules = RULES.replace("mode is auto", "garage.mode is auto").replace(
            "then start", "then start garage").replace("then stop", "then stop garage")
        async with Recorder(broker.port) as seen:
            await _publish_inputs(seen)
            path = _config(tmp_path, emu, broker, chargers=carport, rules=rules)
            engine = Engine(path)
            await seen.wait_for(lambda: len(_configs(seen)) == 2 * 10 + 3)
            await seen.wait_for(lambda: seen.last.get("evse-rules/carport/online") == "true")
            path.write_text(path.read_text().replace(carport, ""))
            await seen.wait_for(lambda: len(_configs(seen)) == 10 + 3, timeout=10)
            await seen.wait_for(lambda: seen.last.get("evse-rules/carport/online") == "")
            assert all(text == "" for topic, text in seen.last.items()
                       if topic.startswith("evse-rules/carport/"))
            assert seen.last["evse-rules/garage/online"] == "true"
            await engine.stop()
