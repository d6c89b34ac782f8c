"""Charge plans and the site limit over MQTT, against a real Mosquitto and the emulated
OpenEVSE: `<charger>/plan/set` through the one command path, `<charger>/plan` and
`site/...` retained."""

from __future__ import annotations

import json
from pathlib import Path

from evse_rules.testing.emulator import OpenEvseEmulator
from tests.mosquitto import Mosquitto, Recorder
from tests.test_mqtt_live import Engine, _config, _events, _publish_inputs

SITE = """
[site]
max_amps = 25
house = "pv"
"""


async def test_a_plan_set_and_cancelled_over_mqtt_and_the_supply_published(
        tmp_path: Path) -> None:
    with OpenEvseEmulator("v5.1.2") as emu, Mosquitto(tmp_path / "broker") as broker:
        emu.vehicle = True
        async with Recorder(broker.port) as seen:
            await _publish_inputs(seen)               # pv 3.5 kW, read here as the house
            engine = Engine(_config(tmp_path, emu, broker, chargers=SITE))
            await engine.ticks(3)
            # 3500 W of house on 25 A at 230 V: 9.8 A left for the chargers.
            await seen.wait_for(lambda: seen.last.get("evse-rules/site/room") == "9.8")
            assert seen.last["evse-rules/site/house"] == "3500"
            assert seen.last["evse-rules/site/fallback"] == "false"
            assert seen.last["evse-rules/site/text"].startswith("site limit 25 A: house 3500 W")
            assert seen.last.get("evse-rules/garage/plan", "") == ""

            await seen.publish("evse-rules/garage/plan/set", "20 kWh by 07:00")
            await seen.wait_for(lambda: seen.last.get("evse-rules/garage/plan", "") != "")
            await seen.publish("evse-rules/garage/plan/set", "lots by 07:00")
            await seen.wait_for(lambda: "lots" in seen.last.get("evse-rules/error", ""))
            error = json.loads(seen.last["evse-rules/error"])
            assert error["topic"] == "evse-rules/garage/plan/set"
            assert seen.last["evse-rules/garage/plan"] != ""      # the plan is kept
            await seen.publish("evse-rules/garage/plan/set", "cancel")
            await seen.wait_for(lambda: seen.last.get("evse-rules/garage/plan") == "")
        await engine.stop()
    events = _events(engine)
    assert any(source == "mqtt" and text.startswith("plan garage 20 kWh by 07:00")
               for source, text in events), events
    assert any(source == "mqtt" and "lots" in text and "refused" in text
               and "like '20 kWh'" in text for source, text in events), events
    assert any(source == "mqtt" and text.startswith("cancel_plan garage")
               for source, text in events), events
