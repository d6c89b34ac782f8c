"""End to end: a charger that does not follow a command is not sent it again at every tick.

The emulated OpenEVSE caps the pilot at its own `max_current_soft` (16 A) while the rules
ask for 20 A, and a manual override keeps it disabled while the rules ask it to start. The
daemon claims once per change, not once per tick (DESIGN.md section 4: a command that
changes nothing is not sent).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from evse_rules.config import load_config
from evse_rules.engine.journal import Journal
from evse_rules.live import Daemon
from evse_rules.testing.emulator import OpenEvseEmulator
from evse_rules.testing.model import MANUAL_CLIENT, MANUAL_PRIORITY
from tests.openevse_fixtures import claims_posted

# 4800 W / 240 V: the rules ask for 20 A at every tick.
RULES = """\
if mode is auto and pv > 1400W then set amps to pv/voltage
if mode is auto and pv > 1400W then start
"""


def _config(tmp_path: Path, emu: OpenEvseEmulator) -> Path:
    (tmp_path / "solar.evr").write_text(RULES)
    path = tmp_path / "evse-rules.toml"
    path.write_text(f"""
tick = "250 ms"
rules = ["solar.evr"]
[chargers.garage]
url = "{emu.url}"
min_on = "0 s"
min_off = "0 s"
mode = "auto"
timeout = "500 ms"
[inputs.pv]
kind = "constant"
value = "4800 W"
""")
    return path


async def _ticks(daemon: Daemon, task: asyncio.Task[None], n: int) -> None:
    target = daemon.ticks + n
    deadline = asyncio.get_running_loop().time() + 30.0
    while daemon.ticks < target:
        if task.done():
            task.result()
            raise AssertionError("the daemon stopped")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {n} tick(s) within 30 s")
        await asyncio.sleep(0.01)


async def _claims_during(daemon: Daemon, task: asyncio.Task[None], emu: OpenEvseEmulator,
                         n: int) -> list[dict[str, Any]]:
    """The claims the daemon posted during its next `n` ticks."""
    seen = len(emu.requests)
    await _ticks(daemon, task, n)
    return claims_posted(emu.requests[seen:])


async def test_one_claim_per_change_when_the_charger_does_not_follow(tmp_path: Path) -> None:
    with OpenEvseEmulator("v5.1.2", max_current_soft=16) as emu:
        config = load_config(_config(tmp_path, emu))
        daemon = Daemon(config)
        task = asyncio.create_task(daemon.run())

        # 20 A is claimed once; the charger keeps 16 A, and nothing more is claimed.
        first = await _claims_during(daemon, task, emu, 8)
        assert [claim.get("charge_current") for claim in first] == [20]
        assert emu.pilot == 16

        # Someone raises the soft limit: the charger now reports 18 A, a change: claimed
        # again, once.
        with emu.model.lock:
            emu.model.max_current_soft = 18
            emu.model.evaluate_claims()
        raised = await _claims_during(daemon, task, emu, 8)
        assert [claim.get("charge_current") for claim in raised] == [20]

        # A manual override disables the charger: the start the rules ask for is claimed
        # once, and the charger stays disabled.
        with emu.model.lock:
            emu.model.claim(MANUAL_CLIENT, MANUAL_PRIORITY, {"state": "disabled"})
        overridden = await _claims_during(daemon, task, emu, 8)
        assert [claim.get("state") for claim in overridden] == ["active"]
        daemon.stop()
        await asyncio.wait_for(task, timeout=5)

    with Journal(config.journal_path) as journal:
        entries = journal.entries()
    assert [(e.kind, e.value) for e in entries if e.type == "command"] == [
        ("set_current", "20 A"), ("set_current", "20 A"), ("start", None)]
