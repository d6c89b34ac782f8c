"""The site limit live: `run`'s daemon, two emulated OpenEVSEs and a house meter over HTTP on
127.0.0.1. The rules ask 32 A of both; the supply is 25 A."""

from __future__ import annotations

from pathlib import Path

from evse_rules.config import load_config
from evse_rules.engine.journal import Journal
from evse_rules.live import Daemon
from evse_rules.testing.emulator import OpenEvseEmulator
from evse_rules.testing.meter import PvMeter, pv_meter
from tests.openevse_fixtures import claims_posted
from tests.test_e2e import Run

RULES = """charger garage, carport
start garage, set amps of garage to 32 A
start carport, set amps of carport to 32 A
"""


def _config(tmp_path: Path, garage: OpenEvseEmulator, carport: OpenEvseEmulator,
            meter: PvMeter) -> Path:
    (tmp_path / "full.evr").write_text(RULES)
    path = tmp_path / "evse-rules.toml"
    chargers = "".join(f"""
[chargers.{name}]
url = "{emu.url}"
min_on = "10 min"
min_off = "0 s"
timeout = "500 ms"
priority = {priority}
""" for name, emu, priority in (("garage", garage, 1), ("carport", carport, 0)))
    path.write_text(f"""
tick = "250 ms"
rules = ["full.evr"]
[http]
enabled = false
[site]
max_amps = 25
house = "house"
fallback_after = "1 s"
{chargers}
[inputs.house]
kind = "http"
url = "{meter.url}"
path = "site.meters.0.power"
unit = "W"
timeout = "200 ms"
stale_after = "500 ms"
""")
    return path


def _current(emu: OpenEvseEmulator) -> tuple[str, int] | None:
    """The state and current of the engine's claim on `emu`."""
    claims = list(emu.claims.values())
    if not claims:
        return None
    return claims[-1].get("state", ""), int(claims[-1].get("charge_current", 0))


def _state(emu: OpenEvseEmulator) -> str | None:
    current = _current(emu)
    return None if current is None else current[0]


async def test_two_live_chargers_share_the_supply_and_stop_on_a_dead_meter(
    tmp_path: Path,
) -> None:
    with OpenEvseEmulator("v5.1.2") as garage, OpenEvseEmulator("v5.1.2") as carport, \
            pv_meter() as meter:
        meter.power = 400.0                  # 1.7 A of house: 23.3 A for the chargers
        config = load_config(_config(tmp_path, garage, carport, meter))
        run = Run(Daemon(config), garage)
        await run.ticks(4)
        # Minimums first (6 + 6 A), the rest to the garage (priority 1): 17 A.
        assert _current(garage) == ("active", 17)
        assert _current(carport) == ("active", 6)
        # 3.5 kW of house (15.2 A): one minimum fits; the carport is paused at once,
        # min_on (10 min) notwithstanding.
        meter.power = 3500.0
        await run.ticks(4)
        assert _current(garage) == ("active", 9)
        assert _state(carport) == "disabled"
        # The meter dies: its last reading counts for fallback_after (1 s), then every
        # charger is paused (fallback_amps 0) in the first tick past it.
        meter.mode = "dead"
        for _ in range(40):
            await run.ticks(1)
            if _state(garage) == "disabled":
                break
        assert _state(garage) == "disabled"
        assert [c["state"] for c in claims_posted(garage.requests)][-1] == "disabled"
        await run.stop()
    with Journal(config.journal_path) as journal:
        entries = journal.entries()
    commands = [e for e in entries if e.type == "command"]
    notes = [e.detail or "" for e in commands]
    assert any("site limit 25 A: house 3500 W (15.2 A); carport paused" in n for n in notes)
    assert any("house unknown for" in n and "fallback 0 A per phase" in n for n in notes)
    assert all(e.ok for e in commands)



async def test_rule_files_with_errors_still_keep_the_supply(tmp_path: Path) -> None:
    with OpenEvseEmulator("v5.1.2") as garage, OpenEvseEmulator("v5.1.2") as carport, \
            pv_meter() as meter:
        meter.power = 3500.0                 # 15.2 A of house: 9.8 A left, one minimum fits
        path = _config(tmp_path, garage, carport, meter)
        (tmp_path / "full.evr").write_text("start garage, set amps of garage to 40 W\n")
        run = Run(Daemon(load_config(path)), garage)
        await run.ticks(4)
        assert run.daemon.rules_error is not None
        # Both chargers charge at their own 32 A, no rule runs: the site lowers the garage
        # and pauses the carport all the same.
        assert _current(garage) == ("active", 9)
        assert _state(carport) == "disabled"
        await run.stop()
