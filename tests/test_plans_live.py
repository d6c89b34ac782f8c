"""Charge plans through the running engine: the API's POST and DELETE, the state's plan,
`why`, the journal, the state file across a restart, and the config's checks."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from evse_rules.cli import main
from evse_rules.config import load_config
from evse_rules.errors import EvseRulesError
from evse_rules.testing.emulator import OpenEvseEmulator
from tests.test_hand_live import REPO, Engine

PRICES = """
[inputs.price]
kind = "prices"
offpeak = ["22:00-06:00"]
offpeak_price = 0.18
peak_price = 0.32
"""


def _config(tmp_path: Path, emu: OpenEvseEmulator, charger_extra: str = 'plan_price = "price"',
            inputs: str = PRICES) -> Path:
    shutil.copy(REPO / "rules" / "manual_only.evr", tmp_path / "manual_only.evr")
    path = tmp_path / "evse-rules.toml"
    path.write_text(f"""
tick = "250 ms"
rules = ["manual_only.evr"]
timezone = "UTC"
[http]
listen = "127.0.0.1:0"
[chargers.garage]
url = "{emu.url}"
max_amps = 16
timeout = "500 ms"
{charger_extra}
{inputs}
""")
    return path


async def test_a_plan_set_shown_and_cancelled_through_the_api(tmp_path: Path) -> None:
    with OpenEvseEmulator("v5.1.2") as emu:
        path = _config(tmp_path, emu)
        engine = Engine(path)
        client = await engine.ready()
        async with client:
            answer = await client.post("/api/v1/chargers/garage/plan",
                                       json={"energy": "20 kWh", "by": "07:00"},
                                       headers={"X-Evse-Source": "dashboard"})
            assert answer.status_code == 200, answer.text
            message = answer.json()["message"]
            assert message.startswith("plan garage 20 kWh by 07:00: plan 20.0 kWh by ")
            assert "(0.18)" in message and "expected 20.0 kWh, cost 3.60" in message
            state = (await client.get("/api/v1/state")).json()
            tile = state["chargers"][0]
            assert tile["mode"] == "auto"
            plan = tile["plan"]
            assert plan["energy_kwh"] == 20.0 and plan["can_meet"] is True
            assert plan["cost"] == pytest.approx(3.6)
            assert {slot["price"] for slot in plan["slots"]} == {0.18}
            assert plan["source"] == "dashboard"
            why = (await client.get("/api/v1/why/garage")).json()["text"]
            assert "plan: 20.0 kWh by" in why and "can be met" in why
            bad = await client.post("/api/v1/chargers/garage/plan",
                                    json={"energy": "20 W", "by": "07:00"})
            assert bad.status_code == 400
            assert "not an energy" in bad.json()["detail"]
            missing = await client.post("/api/v1/chargers/garage/plan", json={"energy": 20})
            assert missing.status_code in (400, 422)
        await engine.stop()
        saved = json.loads((tmp_path / "evse-rules-state.json").read_text())
        assert saved["plans"]["garage"]["wanted_wh"] == 20_000.0

        again = Engine(path)                       # a restart keeps the plan
        client = await again.ready()
        async with client:
            tile = (await client.get("/api/v1/chargers/garage")).json()
            assert tile["plan"]["energy_kwh"] == 20.0
            assert tile["plan"]["slots"], tile["plan"]
            gone = await client.delete("/api/v1/chargers/garage/plan")
            assert gone.status_code == 200, gone.text
            assert "cancelled" in gone.json()["message"]
            assert (await client.get("/api/v1/chargers/garage")).json()["plan"] is None
            twice = await client.delete("/api/v1/chargers/garage/plan")
            assert twice.status_code == 409
            assert "no plan to cancel" in twice.json()["detail"]
            history = (await client.get("/api/v1/journal?limit=50")).json()["entries"]
            texts = [entry["text"] for entry in history]
            assert any("cancelled" in text for text in texts), texts
        await again.stop()


def test_plan_price_must_name_a_price_input(tmp_path: Path) -> None:
    with OpenEvseEmulator("v5.1.2") as emu:
        path = _config(tmp_path, emu, 'plan_price = "prize"')
        with pytest.raises(EvseRulesError, match=r"chargers\.garage\.plan_price: error: no input "
                                                 r"named 'prize' \(did you mean 'price'\?\)"):
            load_config(path)
        path = _config(tmp_path, emu, 'plan_solar = "house"',
                       PRICES + '[inputs.house]\nkind = "constant"\nvalue = "300 W"\n')
        with pytest.raises(EvseRulesError, match="plan_solar: error: input 'house' is of kind "
                                                 "'constant'"):
            load_config(path)


async def test_the_plan_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with OpenEvseEmulator("v5.1.2") as emu:
        path = _config(tmp_path, emu)
        config = ["--config", str(path)]
        assert main(["plan", "garage", "20kWh", "07:00", *config]) == 1   # no engine runs
        assert "no engine is running" in capsys.readouterr().err
        engine = Engine(path)
        client = await engine.ready()
        async with client:
            assert await asyncio.to_thread(main, ["plan", "garage", "20kWh", "07:00",
                                                  *config]) == 0
            out = capsys.readouterr().out
            assert "plan garage 20kWh by 07:00: plan 20.0 kWh by" in out and "slots" in out
            assert (await client.get("/api/v1/chargers/garage")).json()["plan"]["source"] \
                == "cli"
            assert await asyncio.to_thread(main, ["why", "garage", *config]) == 0
            why = capsys.readouterr().out
            assert "  plan: 20.0 kWh by" in why and "can be met" in why, why
            assert await asyncio.to_thread(main, ["plan", "garage", "20 W", "07:00",
                                                  *config]) == 1
            assert "not an energy" in capsys.readouterr().err
            assert await asyncio.to_thread(main, ["plan", "garage", "--cancel", *config]) == 0
            assert "cancelled" in capsys.readouterr().out
            assert await asyncio.to_thread(main, ["plan", "garage", *config]) == 1
            assert "give an energy and a time" in capsys.readouterr().err
            assert await asyncio.to_thread(main, ["plan", "garage", "5kWh", "06:00",
                                                  *config]) == 0
        await engine.stop()
        capsys.readouterr()
        assert main(["why", "garage", *config]) == 0     # no engine: the state file's plan
        assert "  plan: 5.0 kWh by" in capsys.readouterr().out


async def test_with_the_api_off_a_plan_waits_in_the_journal_for_the_next_tick(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evse_rules.cli.live import services
    from evse_rules.live import Daemon

    with OpenEvseEmulator("v5.1.2") as emu:
        path = _config(tmp_path, emu)
        path.write_text(path.read_text().replace('listen = "127.0.0.1:0"', "enabled = false"))
        config = load_config(path)
        daemon = Daemon(config)
        task = asyncio.create_task(daemon.run(services(config, daemon)))
        for _ in range(500):
            if daemon.ticks >= 2:
                break
            await asyncio.sleep(0.01)
        argv = ["plan", "garage", "20kWh", "07:00", "--wait", "--config", str(path)]
        assert await asyncio.to_thread(main, argv) == 0
        assert "plan garage 20kWh by 07:00: done (taken at" in capsys.readouterr().out
        assert daemon.store.plans["garage"].wanted_wh == 20_000.0
        assert daemon.store.plans["garage"].source == "cli"
        daemon.stop()
        await asyncio.wait_for(task, timeout=5)
