"""A changed config file applied while the engine runs: chargers and inputs added, removed
or changed at the next tick, whole or not at all; what needs a restart says so."""

from __future__ import annotations

import asyncio
from pathlib import Path

from evse_rules.chargers.base import Charger
from evse_rules.config import Config, load_config
from evse_rules.engine.journal import Journal
from evse_rules.live import Daemon, FakeTime, default_charger_factory
from tests.test_live import START, Recorder

RULES = """\
input pv: W
if garage.mode is auto and pv > 1400 W then set amps of garage to pv / 240 V
if garage.mode is auto and pv > 1400 W then start garage
"""

CONFIG = """
tick = "1 min"
rules = ["solar.evr"]
[chargers.garage]
driver = "simulated"
min_on = "0 s"
min_off = "0 s"
mode = "auto"
[inputs.pv]
kind = "constant"
value = "3000 W"
"""

CARPORT = """
[chargers.carport]
driver = "simulated"
mode = "manual"
max_amps = 16
"""


class Setup:
    def __init__(self, tmp_path: Path) -> None:
        (tmp_path / "solar.evr").write_text(RULES)
        self.path = tmp_path / "evse-rules.toml"
        self.path.write_text(CONFIG)
        self.chargers: dict[str, list[Recorder]] = {}
        self.time = FakeTime(START)

        def factory(name: str, config: Config) -> Charger:
            if config.chargers[name].url:       # a real driver (it reads its password)
                return default_charger_factory(name, config)
            recorder = Recorder(name)
            self.chargers.setdefault(name, []).append(recorder)
            return recorder

        self.daemon = Daemon(load_config(self.path), clock=self.time.clock,
                             sleep=self.time.sleep, charger_factory=factory)
        self.runner: asyncio.Task[None] | None = None

    async def ticks(self, n: int) -> None:
        if self.runner is None:
            self.runner = asyncio.create_task(self.daemon.run())
        target = self.daemon.ticks + n
        while self.daemon.ticks < target:
            assert not self.runner.done(), self.runner
            await asyncio.sleep(0)

    async def stop(self) -> list[tuple[str, str]]:
        self.daemon.stop()
        assert self.runner is not None
        await self.runner
        with Journal(self.daemon.config.journal_path) as journal:
            return [(e.kind, e.detail or "") for e in journal.entries()
                    if e.type == "event" and e.source == "config"]


async def test_a_charger_added_then_removed_while_running(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    await setup.ticks(2)
    [garage] = setup.chargers["garage"]
    assert garage.calls[:2] == ["amps 12", "start"]
    setup.path.write_text(CONFIG + CARPORT)
    await setup.ticks(2)
    assert setup.daemon.engine is not None
    assert set(setup.daemon.engine.settings) == {"garage", "carport"}
    assert setup.daemon.store.mode("carport") == "manual"
    # The garage keeps its driver and what it was sent: nothing is sent again.
    assert setup.chargers["garage"] == [garage] and garage.calls[:2] == ["amps 12", "start"]
    assert "start" not in garage.calls[2:] and "amps 12" not in garage.calls[2:]
    [carport] = setup.chargers["carport"]

    setup.path.write_text(CONFIG)
    await setup.ticks(2)
    assert set(setup.daemon.engine.settings) == {"garage"}
    assert carport.calls == ["release"]          # nothing drives it any more
    events = await setup.stop()
    assert events[0] == ("info", f"{setup.path} changed and is applied: chargers.carport "
                                 "(1 key(s); chargers added: carport)")
    assert events[1][0] == "info" and events[1][1].startswith("charger carport removed: its "
                                                              "claim is released")
    assert "chargers removed: carport" in events[2][1]


async def test_a_changed_limit_applies_at_the_next_tick_and_the_mode_carries_over(
    tmp_path: Path,
) -> None:
    setup = Setup(tmp_path)
    await setup.ticks(1)
    setup.daemon.store.set_mode("garage", "auto")
    setup.path.write_text(CONFIG.replace('mode = "auto"', 'mode = "manual"\nmax_amps = 10'))
    await setup.ticks(2)
    # max_amps is a connection setting (the driver enforces it too): a new driver, clamped.
    assert len(setup.chargers["garage"]) == 2
    assert setup.chargers["garage"][1].calls[0] == "amps 10"
    assert setup.daemon.store.mode("garage") == "auto"        # the running mode, kept
    events = await setup.stop()
    assert "chargers.garage.max_amps, chargers.garage.mode" in events[0][1]


async def test_restart_keys_are_said_and_a_version_the_rules_refuse_changes_nothing(
    tmp_path: Path,
) -> None:
    setup = Setup(tmp_path)
    await setup.ticks(1)
    setup.path.write_text(CONFIG.replace('tick = "1 min"', 'tick = "30 s"'))
    await setup.ticks(1)
    assert setup.daemon.config.tick_seconds == 60.0
    # The rules name the garage: a version without it is refused whole.
    setup.path.write_text(CONFIG.replace("[chargers.garage]", "[chargers.shed]"))
    await setup.ticks(1)
    assert setup.daemon.engine is not None and set(setup.daemon.engine.settings) == {"garage"}
    assert setup.chargers["garage"][0].calls.count("release") == 0
    events = await setup.stop()
    assert events[0] == ("warning", f"{setup.path} changed (tick): these apply at the next "
                                    "start (restart evse-rules)")
    assert events[1][0] == "error" and "is not applied: the rule files do not check" in \
        events[1][1]
    assert "the engine keeps running on the config it had" in events[1][1]


async def test_a_new_charger_whose_driver_cannot_be_built_changes_nothing(
    tmp_path: Path,
) -> None:
    setup = Setup(tmp_path)
    await setup.ticks(1)
    setup.path.write_text(CONFIG + """
[chargers.carport]
url = "http://127.0.0.1:9"
user = "admin"
password_env = "EVSE_RECONFIGURE_NOT_SET"
""")
    await setup.ticks(1)
    assert setup.daemon.engine is not None and set(setup.daemon.engine.settings) == {"garage"}
    events = await setup.stop()
    assert events[-1][0] == "error" and "EVSE_RECONFIGURE_NOT_SET" in events[-1][1]


async def test_a_long_rule_reload_leaves_the_event_loop_free(tmp_path: Path) -> None:
    import threading
    import time

    from evse_rules.live.reload import default_loader

    setup = Setup(tmp_path)
    loaded_in: list[str] = []

    def slow_loader(paths, env):
        loaded_in.append(threading.current_thread().name)
        if len(loaded_in) > 1:
            time.sleep(0.4)         # a long file
        return default_loader(paths, env)

    setup.daemon.loader = slow_loader
    setup.daemon.watcher.loader = slow_loader
    await setup.ticks(1)
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            await asyncio.sleep(0.01)
            beats += 1

    beating = asyncio.create_task(heartbeat())
    (tmp_path / "solar.evr").write_text(RULES + "# edited\n")
    await setup.ticks(2)
    beating.cancel()
    await setup.stop()
    assert len(loaded_in) == 2 and loaded_in[1] != threading.main_thread().name
    assert beats >= 5           # the loop ran on during the 0.4 s of loading (blocked: 0)


def test_a_simulated_charger_of_the_config_has_its_battery(tmp_path: Path) -> None:
    from evse_rules.config import parse_config

    config = parse_config('rules = ["x.evr"]\n[chargers.garage]\ndriver = "simulated"\n'
                          'battery = "40 kWh"\nsoc = "75 %"\n', "x.toml", tmp_path)
    charger = default_charger_factory("garage", config)
    assert getattr(charger, "capacity_wh", None) == 40_000.0
    assert getattr(charger, "soc", None) == 75.0
