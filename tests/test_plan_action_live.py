"""A rule's plan in the running engine: the API shows it with source "rule", the journal
names the rule once (not once per tick), and the mode is left as it was."""

from __future__ import annotations

import asyncio
from pathlib import Path

from evse_rules.testing.emulator import OpenEvseEmulator
from tests.test_hand_live import Engine
from tests.test_plans_live import PRICES


async def test_a_rules_plan_is_shown_and_journaled_once_with_its_rule(tmp_path: Path) -> None:
    (tmp_path / "night.evr").write_text("if vehicle then plan 20 kWh by 07:00\n")
    with OpenEvseEmulator("v5.1.2") as emu:
        path = tmp_path / "evse-rules.toml"
        path.write_text(f"""
tick = "250 ms"
rules = ["night.evr"]
timezone = "UTC"
[http]
listen = "127.0.0.1:0"
[chargers.garage]
url = "{emu.url}"
max_amps = 16
timeout = "500 ms"
plan_price = "price"
{PRICES}
""")
        engine = Engine(path)
        client = await engine.ready()
        async with client:
            for _ in range(500):              # several ticks in which the rule holds
                if engine.daemon.ticks >= 8:
                    break
                await asyncio.sleep(0.01)
            tile = (await client.get("/api/v1/chargers/garage")).json()
            assert tile["plan"]["source"] == "rule"
            assert tile["plan"]["energy_kwh"] == 20.0
            assert tile["mode"] == "manual"             # the config's; the rule left it
            history = (await client.get("/api/v1/journal?limit=200")).json()["entries"]
            texts = [entry["text"] for entry in history]
            taken = [text for text in texts if "night.evr:1: plan 20.0 kWh by" in text]
            assert len(taken) == 1, texts
            assert "slots" in taken[0] and "expected 20.0 kWh" in taken[0]
        await engine.stop()
