"""Hand control through the running engine, end to end: `evse-rules run`'s API on loopback,
the daemon on the wall clock, the emulated OpenEVSE. Every press goes through the engine's
one command path, reaches the charger as a whole claim, and is journaled with its source."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from evse_rules.cli.live import services
from evse_rules.config import load_config
from evse_rules.engine.journal import Journal
from evse_rules.live import Daemon
from evse_rules.testing.emulator import OpenEvseEmulator
from tests.openevse_fixtures import claims_posted

REPO = Path(__file__).resolve().parent.parent


def _config(tmp_path: Path, emu: OpenEvseEmulator, rules: str = "manual_only.evr",
            extra: str = "") -> Path:
    shutil.copy(REPO / "rules" / rules, tmp_path / rules)
    path = tmp_path / "evse-rules.toml"
    path.write_text(f"""
tick = "250 ms"
rules = ["{rules}"]
[http]
listen = "127.0.0.1:0"
[chargers.garage]
url = "{emu.url}"
min_amps = 6
max_amps = 16
min_on = "10 min"
min_off = "5 min"
timeout = "500 ms"
{extra}
""")
    return path


class Engine:
    """`evse-rules run` in the test's loop, with its API."""

    def __init__(self, path: Path) -> None:
        self.config = load_config(path)
        self.daemon = Daemon(self.config)
        self.services = services(self.config, self.daemon)
        self.task = asyncio.create_task(self.daemon.run(self.services))

    async def ready(self) -> httpx.AsyncClient:
        for _ in range(500):
            if self.daemon.ticks >= 2:
                break
            await asyncio.sleep(0.01)
        assert self.daemon.ticks >= 2, "the daemon did not tick"
        service: Any = self.services[0]
        return httpx.AsyncClient(base_url=service.url, timeout=5.0)

    async def stop(self) -> None:
        self.daemon.stop()
        await asyncio.wait_for(self.task, timeout=5)


def _last_claim(emu: OpenEvseEmulator) -> dict[str, Any]:
    claims = claims_posted(emu.requests)
    assert claims, "nothing was claimed"
    return claims[-1]


async def test_a_hand_off_then_a_current_leaves_the_charger_disabled_and_on_starts_it(
    tmp_path: Path,
) -> None:
    with OpenEvseEmulator("v5.1.2") as emu:
        engine = Engine(_config(tmp_path, emu))
        client = await engine.ready()
        async with client:
            before = len(emu.requests)
            answer = await client.post("/api/v1/chargers/garage/stop",
                                       headers={"X-Evse-Source": "dashboard"})
            assert answer.status_code == 200, answer.text
            assert _last_claim(emu) == {"state": "disabled", "charge_current":
                                        _last_claim(emu)["charge_current"],
                                        "auto_release": False}
            assert emu.state == 254

            answer = await client.post("/api/v1/chargers/garage/amps", json={"amps": 10})
            assert answer.status_code == 200, answer.text
            # The whole claim: the current changes, the charger stays disabled.
            assert _last_claim(emu) == {"state": "disabled", "charge_current": 10,
                                        "auto_release": False}
            await asyncio.sleep(0.6)            # a few ticks of the rules
            assert emu.state == 254
            assert all(c["state"] == "disabled"
                       for c in claims_posted(emu.requests[before:]))

            answer = await client.post("/api/v1/chargers/garage/start",
                                       headers={"X-Evse-Source": "cli"})
            assert answer.status_code == 200, answer.text
            assert _last_claim(emu) == {"state": "active", "charge_current": 10,
                                        "auto_release": False}
            state = (await client.get("/api/v1/state")).json()
            tile = state["chargers"][0]
            assert tile["mode"] == "manual" and tile["setpoint"] == 10
        await engine.stop()
    with Journal(engine.config.journal_path) as journal:
        events = [(e.source, e.detail) for e in journal.entries() if e.type == "event"]
        commands = [(e.kind, e.detail) for e in journal.entries() if e.type == "command"]
    assert ("dashboard", "stop garage: sent stop") in events
    assert ("api", "amps garage 10: sent set_current 10 A") in events
    assert ("cli", "start garage: sent start") in events
    assert ("stop", "by hand (dashboard)") in commands
    assert ("set_current", "by hand (api)") in commands


async def test_out_of_range_and_unknown_are_4xx_and_nothing_is_sent(tmp_path: Path) -> None:
    with OpenEvseEmulator("v5.1.2") as emu:
        engine = Engine(_config(tmp_path, emu))
        client = await engine.ready()
        async with client:
            before = len(claims_posted(emu.requests))
            answer = await client.post("/api/v1/chargers/garage/amps", json={"amps": 40})
            assert answer.status_code == 400
            assert "above its maximum of 16 A" in answer.json()["detail"]
            answer = await client.post("/api/v1/chargers/garage/amps", json={"amps": 5})
            assert answer.status_code == 400 and "below its minimum of 6 A" in answer.text
            answer = await client.post("/api/v1/chargers/nowhere/stop")
            assert answer.status_code == 404 and "no charger named 'nowhere'" in answer.text
            answer = await client.post("/api/v1/variables/house_limit", json={"value": "20 W"})
            assert answer.status_code == 400 and "a current" in answer.text
            assert len(claims_posted(emu.requests)) == before
            assert engine.daemon.store.mode("garage") == "manual"
            # A variable in its unit is taken, and the rules read it at the next tick.
            answer = await client.post("/api/v1/variables/house_limit", json={"value": 12})
            assert answer.status_code == 200, answer.text
            assert engine.daemon.store.variable("house_limit") == 12.0
        await engine.stop()
    with Journal(engine.config.journal_path) as journal:
        refused = [e.detail or "" for e in journal.entries() if e.type == "event"
                   and "refused" in (e.detail or "")]
    assert any("40 A is above its maximum of 16 A" in r for r in refused)


async def test_a_persons_off_is_not_held_by_min_on(tmp_path: Path) -> None:
    with OpenEvseEmulator("v5.1.2") as emu:
        engine = Engine(_config(tmp_path, emu))
        client = await engine.ready()
        async with client:
            assert (await client.post("/api/v1/chargers/garage/start")).status_code == 200
            # min_on is 10 min: a rule's stop would wait; a person's does not.
            answer = await client.post("/api/v1/chargers/garage/stop")
            assert answer.status_code == 200, answer.text
            assert _last_claim(emu)["state"] == "disabled"
        await engine.stop()


@pytest.mark.parametrize("charging", [True, False])
async def test_sigterm_and_restart_change_nothing_on_the_charger(
    tmp_path: Path, charging: bool,
) -> None:
    """With the solar rules charging (or the charger sleeping), a stop and a new start of
    the engine never change what the charger does, nor raise its pilot."""
    shutil.copy(REPO / "rules" / "solar_surplus.evr", tmp_path / "solar_surplus.evr")
    with OpenEvseEmulator("v5.1.2") as emu:
        power = "6000 W" if charging else "0 W"
        extra = f"""mode = "auto"
min_on = "0 s"
min_off = "0 s"
[inputs.pv]
kind = "constant"
value = "{power}"
[inputs.house]
kind = "constant"
value = "300 W"
"""
        path = _config(tmp_path, emu, "solar_surplus.evr", extra)
        text = path.read_text().replace('min_on = "10 min"\nmin_off = "5 min"\n', "")
        path.write_text(text)
        first = Engine(path)
        client = await first.ready()
        if not charging:
            # Sleeping: a person's OFF, then Auto: with no sun the rules never start it.
            async with client:
                assert (await client.post("/api/v1/chargers/garage/stop")).status_code == 200
                answer = await client.post("/api/v1/chargers/garage/mode", json={"mode": "auto"})
                assert answer.status_code == 200
        for _ in range(400):
            if (charging and emu.state == 3) or (not charging and emu.state == 254):
                break
            await asyncio.sleep(0.01)
        expected = 3 if charging else 254
        assert emu.state == expected
        pilot = emu.pilot
        sent = max(c["charge_current"] for c in claims_posted(emu.requests))
        states: list[int] = []
        pilots: list[int] = []

        async def watch() -> None:
            while True:
                states.append(emu.state)
                pilots.append(emu.pilot)
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch())
        await first.stop()
        await asyncio.sleep(0.3)
        second = Engine(path)
        await second.ready()
        await asyncio.sleep(0.5)
        await second.stop()
        watcher.cancel()
        assert set(states) == {expected}
        assert max(pilots) <= max(sent, pilot)
        assert not any(r.method == "DELETE" for r in emu.requests)


async def test_the_cli_hand_commands_go_through_the_running_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from evse_rules.cli import main

    with OpenEvseEmulator("v5.1.2") as emu:
        path = _config(tmp_path, emu)
        engine = Engine(path)
        client = await engine.ready()
        await client.aclose()
        config = ["--config", str(path)]
        assert await asyncio.to_thread(main, ["stop", "garage", *config]) == 0
        assert capsys.readouterr().out == "stop garage: sent stop\n"
        assert _last_claim(emu)["state"] == "disabled"
        assert await asyncio.to_thread(main, ["amps", "garage", "40", *config]) == 1
        assert "40 A is above its maximum of 16 A" in capsys.readouterr().err
        assert await asyncio.to_thread(main, ["amps", "garage", "9 A", *config]) == 0
        assert _last_claim(emu) == {"state": "disabled", "charge_current": 9,
                                    "auto_release": False}
        assert await asyncio.to_thread(main, ["set", "house_limit", "14 A", *config]) == 0
        assert engine.daemon.store.variable("house_limit") == 14.0
        capsys.readouterr()
        for _ in range(300):       # the next read of the charger after the stop
            status = engine.daemon.store.charger_status("garage")
            if status is not None and status.state.value == "sleeping":
                break
            await asyncio.sleep(0.01)
        assert await asyncio.to_thread(main, ["status", *config]) == 0
        out = capsys.readouterr().out
        assert "garage: Sleeping (paused, not charging), mode manual" in out
        assert "var house_limit: 14 A" in out

        # Around the engine, on the same charger: refused, pointing to the engine.
        before = len(emu.requests)
        assert await asyncio.to_thread(main, ["charger", emu.url, "start"]) == 1
        err = capsys.readouterr().err
        assert "garage is driven by the engine running with" in err
        assert f"evse-rules start garage --config {path}" in err
        assert [r for r in emu.requests[before:] if r.method == "POST"] == []
        await engine.stop()
    with Journal(engine.config.journal_path) as journal:
        sources = {e.source for e in journal.entries() if e.type == "event"}
    assert "cli" in sources


def test_with_no_engine_running_the_cli_says_so_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from evse_rules.cli import main

    with OpenEvseEmulator("v5.1.2") as emu:
        path = _config(tmp_path, emu)
        config = ["--config", str(path)]
        assert main(["start", "garage", *config]) == 1
        err = capsys.readouterr().err
        assert "no engine is running with" in err and "nothing was sent" in err
        assert main(["mode", "garage", "auto", "--wait", *config]) == 1
        assert "nothing to wait for" in capsys.readouterr().err
        # Without --wait, a mode is kept for the next start; a start never is.
        assert main(["mode", "garage", "auto", *config]) == 0
        assert "queued, the next `evse-rules run` takes it" in capsys.readouterr().out
        with Journal(load_config(path).journal_path) as journal:
            assert [(r.kind, r.value) for r in journal.pending_requests()] == [("mode", "auto")]
        assert [r for r in emu.requests if r.method == "POST"] == []


async def test_a_charger_whose_limits_leave_no_current_is_faulted_once_and_takes_no_on(
    tmp_path: Path,
) -> None:
    with OpenEvseEmulator("v5.1.2") as emu:
        emu.set_field("/config", "min_current_hard", 20)     # above our max_amps = 16
        engine = Engine(_config(tmp_path, emu))
        client = await engine.ready()
        async with client:
            await asyncio.sleep(0.6)
            answer = await client.post("/api/v1/chargers/garage/amps", json={"amps": 10})
            assert answer.status_code == 409, answer.text
            assert "no current is possible" in answer.json()["detail"]
            answer = await client.post("/api/v1/chargers/garage/start")
            assert answer.status_code == 409
            # OFF always goes.
            assert (await client.post("/api/v1/chargers/garage/stop")).status_code == 200
            emu.set_field("/config", "min_current_hard", 6)      # mended on the charger
            await asyncio.sleep(0.8)
        await engine.stop()
    assert all(c["charge_current"] <= 16 for c in claims_posted(emu.requests))
    with Journal(engine.config.journal_path) as journal:
        faults = [(e.kind, e.detail) for e in journal.entries() if e.type == "event"
                  and e.source == "chargers.garage"]
    assert faults.count(("error", "faulted, no current and no start is sent: "
                                  "min_current_hard 20 A > max_amps 16 A: nothing sent")) == 1
    assert ("info", "its limits allow a current again: commands are sent again") in faults
