"""End to end: real rule files, the daemon on the wall clock, the emulated OpenEVSE and a
PV meter served over HTTP on 127.0.0.1.

    if mode is auto and pv > 1400W then set amps to surplus/voltage

PV stepping 0 -> 3000 W -> 800 W must give the emulator the right claims at the right ticks;
a dead meter must claim nothing while the charger keeps being polled; a broken rule file
must leave the old rules running, and one at start must leave the charger alone until
fixed. Ticks are 1 s (0.25 s where the tick is not the point).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from evse_rules.config import load_config
from evse_rules.engine.journal import Journal
from evse_rules.live import Daemon
from evse_rules.testing.emulator import OpenEvseEmulator, RecordedRequest
from evse_rules.testing.meter import PvMeter, pv_meter
from tests.openevse_fixtures import claims_posted

RULES = """\
# The design card, with a start and a stop around it.
let surplus = pv - house
if mode is auto and pv > 1400W then set amps to surplus/voltage
if mode is auto and pv > 1400W then start
if mode is auto and pv < 1000W then stop
var boost: boolean = false
"""

PASSWORD = "pw-e2e-s3cret"


def _config(tmp_path: Path, emu: OpenEvseEmulator, meter: PvMeter, tick: str = "1 s") -> Path:
    (tmp_path / "solar.evr").write_text(RULES)
    path = tmp_path / "evse-rules.toml"
    path.write_text(f"""
tick = "{tick}"
rules = ["solar.evr"]
[chargers.garage]
url = "{emu.url}"
user = "admin"
password_env = "EVSE_E2E_PASSWORD"
min_on = "0 s"
min_off = "0 s"
mode = "auto"
timeout = "500 ms"
[inputs.pv]
kind = "http"
url = "{meter.url}"
path = "site.meters.0.power"
unit = "W"
timeout = "300 ms"
stale_after = "2 s"
[inputs.house]
kind = "constant"
value = "0 W"
""")
    return path


class Run:
    """A daemon running in the test's event loop, observed tick by tick."""

    def __init__(self, daemon: Daemon, emu: OpenEvseEmulator) -> None:
        self.daemon = daemon
        self.emu = emu
        self.task = asyncio.create_task(daemon.run())
        self.seen = 0

    async def ticks(self, n: int = 1) -> list[RecordedRequest]:
        """Wait for `n` more ticks; the requests the emulator got meanwhile."""
        target = self.daemon.ticks + n
        # Generous for a loaded machine, and a stuck daemon fails the test instead of hanging.
        deadline = asyncio.get_running_loop().time() + 30.0
        while self.daemon.ticks < target:
            if self.task.done():
                self.task.result()
                raise AssertionError("the daemon stopped")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {n} tick(s) within 30 s")
            await asyncio.sleep(0.01)
        requests = self.emu.requests
        new, self.seen = requests[self.seen:], len(requests)
        return new

    async def stop(self) -> None:
        self.daemon.stop()
        await asyncio.wait_for(self.task, timeout=5)


async def test_pv_steps_claims_and_a_dead_meter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("EVSE_E2E_PASSWORD", PASSWORD)
    caplog.set_level(logging.DEBUG)
    with OpenEvseEmulator("v5.1.2", user="admin", password=PASSWORD) as emu, \
            pv_meter() as meter:
        config = load_config(_config(tmp_path, emu, meter))
        run = Run(Daemon(config), emu)

        # PV 0 W: the stop rule claims `disabled`, once.
        assert [c["state"] for c in claims_posted(await run.ticks())] == ["disabled"]
        assert claims_posted(await run.ticks()) == []

        # 3000 W: 3000 W / 240 V = 12.5 A -> 12 A, then active, in the very next tick.
        meter.power = 3000.0
        claims = claims_posted(await run.ticks())
        assert claims and claims[-1]["state"] == "active" and claims[-1]["charge_current"] == 12
        assert claims_posted(await run.ticks()) == []

        # 800 W: below 1000 W, the stop rule claims `disabled` again.
        meter.power = 800.0
        claims = claims_posted(await run.ticks())
        assert [c["state"] for c in claims] == ["disabled"]

        meter.power = 3000.0
        assert claims_posted(await run.ticks())[-1]["state"] == "active"

        # The meter dies, and the sun with it: nothing may be claimed from stale data, and
        # the charger keeps being polled every tick.
        meter.mode = "dead"
        meter.power = 800.0
        during = await run.ticks(4)
        assert claims_posted(during) == []
        assert sum(r.method == "GET" and r.path == "/status" for r in during) >= 3
        assert run.daemon.store.input_value("pv") is None

        # Back: control resumes with the fresh value.
        meter.mode = "ok"
        back = await run.ticks(2)
        assert [c["state"] for c in claims_posted(back)] == ["disabled"]
        await run.stop()
        # Stopping the engine changes nothing on the charger: the claim stays as it was.
        assert [r for r in emu.requests if r.method == "DELETE"] == []
        assert [claim["state"] for claim in emu.claims.values()] == ["disabled"]

    with Journal(config.journal_path) as journal:
        entries = journal.entries(fires=True)
    events = [e.detail or "" for e in entries if e.type == "event"]
    assert any("stale" in e for e in events) and any("reading again" in e for e in events)
    sent = [(e.kind, e.value) for e in entries if e.type == "command"]
    assert sent[:3] == [("stop", None), ("set_current", "12 A"), ("start", None)]
    assert "inputs.pv: stale" in caplog.text
    # The password is in no log line and nowhere in the journal.
    assert PASSWORD not in caplog.text
    assert PASSWORD.encode() not in config.journal_path.read_bytes()


async def test_a_broken_rule_file_keeps_the_old_rules_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("EVSE_E2E_PASSWORD", PASSWORD)
    caplog.set_level(logging.INFO, "evse_rules")
    with OpenEvseEmulator("v5.1.2", user="admin", password=PASSWORD) as emu, \
            pv_meter() as meter:
        meter.power = 3000.0
        config = load_config(_config(tmp_path, emu, meter, tick="250 ms"))
        run = Run(Daemon(config), emu)
        # The emulated charger is already active: only the current is claimed (at the first
        # tick whose meter reading arrived in time: a loaded machine may miss the first).
        claims: list[dict[str, Any]] = []
        for _ in range(8):
            claims = claims_posted(await run.ticks())
            if claims:
                break
        assert claims and claims[-1]["charge_current"] == 12

        rules = tmp_path / "solar.evr"
        rules.write_text(RULES.replace("pv > 1400W then start", "pv > 16A then start"))
        await run.ticks(2)
        assert f"{rules}:4:26: error: cannot compare power (W) with current (A)" in caplog.text
        assert caplog.text.count("rule files not reloaded") == 1

        # The old rules still run: at 800 W they stop the charger.
        meter.power = 800.0
        assert [c["state"] for c in claims_posted(await run.ticks(2))] == ["disabled"]

        # Fixed with a higher threshold: reloaded, and 3000 W no longer starts it.
        rules.write_text(RULES.replace("1400W", "5000W"))
        meter.power = 3000.0
        assert claims_posted(await run.ticks(3)) == []
        await run.stop()
    assert "rule files reloaded" in caplog.text


async def test_a_daemon_started_on_a_broken_rule_file_controls_once_it_is_fixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("EVSE_E2E_PASSWORD", PASSWORD)
    caplog.set_level(logging.INFO, "evse_rules")
    with OpenEvseEmulator("v5.1.2", user="admin", password=PASSWORD) as emu, \
            pv_meter() as meter:
        meter.power = 3000.0
        path = _config(tmp_path, emu, meter, tick="250 ms")
        rules = tmp_path / "solar.evr"
        rules.write_text(RULES.replace("pv > 1400W then start", "pv > 16A then start"))
        config = load_config(path)
        run = Run(Daemon(config), emu)

        # Running without rules: the charger and the meter are read every tick, and the
        # charger is sent nothing at all: it is only read (GET), never claimed.
        before = await run.ticks(3)
        assert {r.method for r in before} == {"GET"}
        assert sum(r.path == "/status" for r in before) >= 3
        assert f"{rules}:4:26: error: cannot compare power (W) with current (A)" in caplog.text
        assert run.daemon.store.input_value("pv") == 3000.0
        assert run.daemon.watcher.problem is not None

        # Fixed: the rules load at the next tick and claim 12 A at once.
        rules.write_text(RULES)
        claims = claims_posted(await run.ticks(2))
        assert claims and claims[-1]["charge_current"] == 12
        assert run.daemon.rules_error is None
        await run.stop()
    assert "rule files loaded, the rules run" in caplog.text
    with Journal(config.journal_path) as journal:
        sent = [e for e in journal.entries() if e.type == "command"]
    assert sent and sent[0].kind == "set_current" and sent[0].value == "12 A"


def _journal_counts(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    with Journal(path) as journal:
        return journal.counts()


def _reloaded(path: Path) -> bool:
    with Journal(path) as journal:
        return any((e.detail or "").startswith("rule files reloaded")
                   for e in journal.entries() if e.type == "event")


async def _wait_for(condition: Any, what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_kill_9_then_restart_keeps_modes_variables_and_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import base64
    import os
    import signal
    import sqlite3
    import subprocess
    import sys

    from evse_rules.cli import main

    monkeypatch.setenv("EVSE_E2E_PASSWORD", PASSWORD)
    with OpenEvseEmulator("v5.1.2", user="admin", password=PASSWORD) as emu, \
            pv_meter() as meter:
        meter.power = 3000.0
        path = _config(tmp_path, emu, meter, tick="200 ms")
        path.write_text(path.read_text().replace('mode = "auto"', 'mode = "manual"'))
        config = load_config(path)
        # What a person asks before (or while) the daemon runs: taken at its next tick.
        assert main(["mode", "garage", "auto", "--config", str(path)]) == 0
        assert main(["set", "boost", "on", "--config", str(path)]) == 0
        assert main(["set", "boost", "maybe", "--config", str(path)]) == 1
        assert "boost is a boolean" in capsys.readouterr().err

        command = [sys.executable, "-m", "evse_rules", "run", "--config", str(path)]
        log_file = tmp_path / "daemon.log"
        with log_file.open("w") as log:   # -vv: every HTTP request is logged, not a secret
            daemon = subprocess.Popen([*command[:3], "-vv", *command[3:]], stderr=log, text=True)
        try:
            await _wait_for(lambda: _journal_counts(config.journal_path).get("ticks", 0) >= 5,
                            "five ticks")
            before = _journal_counts(config.journal_path)
            daemon.send_signal(signal.SIGKILL)
            daemon.wait(timeout=5)
        finally:
            if daemon.poll() is None:
                daemon.kill()
        assert daemon.returncode == -signal.SIGKILL
        logged = log_file.read_text()
        assert "GET /status" in logged or "/status" in logged
        assert PASSWORD not in logged
        assert base64.b64encode(f"admin:{PASSWORD}".encode()).decode() not in logged

        # The journal opens and holds every row committed before the kill.
        db = sqlite3.connect(config.journal_path)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
        after = _journal_counts(config.journal_path)
        assert all(after[table] >= count for table, count in before.items())
        assert after["commands"] >= 1

        # Restart: the mode and the variable come back from the state file; SIGTERM then
        # releases the claim and exits 0 within seconds.
        emu.clear_requests()
        daemon = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        try:
            ticks = after["ticks"]
            await _wait_for(
                lambda: _journal_counts(config.journal_path)["ticks"] >= ticks + 3,
                "three more ticks")
            daemon.send_signal(signal.SIGHUP)       # reload the rule files, as is
            await _wait_for(lambda: _reloaded(config.journal_path), "a reload on SIGHUP")
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=5)
        finally:
            if daemon.poll() is None:
                daemon.kill()
        assert daemon.returncode == 0
        # SIGTERM keeps the claim (on_exit = keep): nothing is deleted.
        assert not any(r.method == "DELETE" for r in emu.requests)
    with Journal(config.journal_path) as journal:
        last = journal.last_tick()
        requests = [journal.request_result(n) for n in (1, 2)]
    assert last is not None
    assert last.samples["garage.mode"] == "auto" and last.samples["boost"] is True
    assert [r[1] for r in requests if r] == ["done", "done"]
    assert os.path.exists(config.state_path)
