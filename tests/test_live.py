"""The live daemon on a fake clock: ticks, commands, requests, persistence, reload, stop.

The program here is a small hand-written one (the design-card rule plus start and stop), so
that these tests exercise the daemon alone; tests/test_e2e.py runs real rule files against
the emulated charger and a real HTTP meter.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evse_rules.chargers.base import Charger
from evse_rules.chargers.simulated import SimulatedCharger
from evse_rules.config import Config, load_config, parse_config
from evse_rules.engine.journal import Journal
from evse_rules.errors import ChargerError, Location, RuleFileErrors, SourceError
from evse_rules.inputs.base import InputError, Reading
from evse_rules.language.program import (
    MODES,
    ActionKind,
    Environment,
    External,
    ExternalKind,
    Kind,
    ProposedAction,
    RuleRef,
    TickResult,
    Value,
    ValueType,
    VariableDecl,
)
from evse_rules.language.units import ENERGY, POWER, VOLTAGE
from evse_rules.live import Daemon, FakeTime, next_tick

START = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)

CONFIG = """
tick = "1 min"
rules = ["solar.evr"]
[chargers.garage]
driver = "simulated"
min_on = "0 s"
min_off = "0 s"
mode = "auto"
on_exit = "release"      # these tests see the release at the end (the default keeps the claim)
[inputs.pv]
kind = "constant"
value = "3000 W"
"""


@dataclass
class FakeProgram:
    """`if mode is auto and pv > 1400W then set amps to pv/voltage` + start / stop."""

    path: str = "solar.evr"
    threshold: float = 1400.0
    ticks: list[datetime] = field(default_factory=list)
    resets: list[int] = field(default_factory=list)   # len(ticks) at each reset

    @property
    def externals(self) -> tuple[External, ...]:
        return (External("pv", ExternalKind.INPUT, ValueType(Kind.NUMBER, POWER)),
                External("garage.mode", ExternalKind.CHARGER, ValueType(Kind.ENUM,
                                                                        choices=MODES)),
                External("garage.voltage", ExternalKind.CHARGER,
                         ValueType(Kind.NUMBER, VOLTAGE)))

    @property
    def variables(self) -> tuple[VariableDecl, ...]:
        return (VariableDecl("target", ValueType(Kind.NUMBER, ENERGY), 0.0),)

    @property
    def rules(self) -> tuple[RuleRef, ...]:
        return (self._rule(1), self._rule(2))

    @property
    def files(self) -> tuple[str, ...]:
        return (self.path,)

    def _rule(self, line: int) -> RuleRef:
        return RuleRef(line - 1, self.path, line, 1, f"rule {line}")

    def tick(self, now: datetime, values: list[Value]) -> TickResult:
        self.ticks.append(now)
        pv, mode, volts = values
        actions: list[ProposedAction] = []
        fired: list[RuleRef] = []
        if (mode == "auto" and isinstance(pv, float) and pv > self.threshold
                and isinstance(volts, float) and volts > 0):
            shown = (("pv", f"{pv:g} W"),)
            actions.append(ProposedAction(ActionKind.SET_AMPS, self._rule(1), "garage",
                                          value=pv / volts, values=shown))
            actions.append(ProposedAction(ActionKind.START, self._rule(1), "garage",
                                          values=shown))
            fired.append(self._rule(1))
        elif mode == "auto" and isinstance(pv, float):
            actions.append(ProposedAction(ActionKind.STOP, self._rule(2), "garage"))
            fired.append(self._rule(2))
        return TickResult(actions, fired, {})

    def reset(self) -> None:
        self.resets.append(len(self.ticks))


class Recorder(SimulatedCharger):
    """A simulated charger that records what it was asked, and can be made to fail."""

    def __init__(self, name: str) -> None:
        super().__init__(name, voltage=240.0)
        self.calls: list[str] = []
        self.fail: set[str] = set()

    async def start(self) -> None:
        await self._do("start")
        await super().start()

    async def stop(self) -> None:
        await self._do("stop")
        await super().stop()

    async def set_current(self, amps: int) -> None:
        await self._do(f"amps {amps}")
        await super().set_current(amps)

    async def set_voltage(self, volts: float) -> None:
        await self._do(f"voltage {volts:g}")
        await super().set_voltage(volts)

    async def release(self) -> None:
        await self._do("release")

    async def _do(self, call: str) -> None:
        self.calls.append(call)
        if call.split()[0] in self.fail:
            raise ChargerError(self.name, f"{call.split()[0]} refused (HTTP 500)")


@dataclass
class Harness:
    config: Config
    program: FakeProgram
    charger: Recorder
    time: FakeTime
    daemon: Daemon


def _harness(tmp_path: Path, text: str = CONFIG, *, ticks: int | None = 3,
             loader: object = None) -> Harness:
    (tmp_path / "solar.evr").write_text("good\n")
    config = parse_config(text, "evse-rules.toml", tmp_path)
    program = FakeProgram(str(tmp_path / "solar.evr"))
    charger = Recorder("garage")
    time = FakeTime(START)

    def load(paths: Sequence[Path], env: Environment) -> FakeProgram:
        assert env.chargers == ("garage",)
        return program

    def factory(name: str, _config: Config) -> Charger:
        return charger

    daemon = Daemon(config, clock=time.clock, sleep=time.sleep,
                    loader=loader or load,  # type: ignore[arg-type]
                    charger_factory=factory, max_ticks=ticks)
    return Harness(config, program, charger, time, daemon)


def test_ticks_fall_on_whole_multiples_of_the_interval() -> None:
    assert next_tick(datetime(2026, 6, 1, 12, 0, 13, tzinfo=UTC), 60) == \
        datetime(2026, 6, 1, 12, 1, tzinfo=UTC)
    assert next_tick(datetime(2026, 6, 1, 12, 1, tzinfo=UTC), 60) == \
        datetime(2026, 6, 1, 12, 1, tzinfo=UTC)
    assert next_tick(datetime(2026, 6, 1, 12, 3, 1, tzinfo=UTC), 300) == \
        datetime(2026, 6, 1, 12, 5, tzinfo=UTC)
    assert next_tick(datetime(2026, 6, 1, 12, 0, 0, 300_000, tzinfo=UTC), 0.5) == \
        datetime(2026, 6, 1, 12, 0, 0, 500_000, tzinfo=UTC)


async def test_the_daemon_ticks_sends_commands_and_journals_them(tmp_path: Path) -> None:
    h = _harness(tmp_path)
    await h.daemon.run()
    # 3000 W / 240 V = 12.5 A, rounded down; the current goes before the start.
    assert h.charger.calls[:2] == ["amps 12", "start"]
    assert h.charger.calls[-1] == "release"
    assert h.program.ticks == [datetime(2026, 6, 1, 12, m, tzinfo=UTC) for m in range(3)]
    with Journal(h.config.journal_path) as journal:
        entries = journal.entries()
        assert journal.counts()["ticks"] == 3
        last = journal.last_tick()
    commands = [(e.kind, e.value, e.ok) for e in entries if e.type == "command"]
    assert commands == [("set_current", "12 A", True), ("start", None, True)]
    assert last is not None and last.samples["pv"] == 3000.0
    assert last.samples["garage.state"] == "charging" and last.samples["garage.mode"] == "auto"


async def test_a_failed_command_is_journaled_and_the_next_ones_wait(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = _harness(tmp_path, ticks=2)
    h.charger.fail.add("amps")
    caplog.set_level(logging.INFO, "evse_rules")
    await h.daemon.run()
    with Journal(h.config.journal_path) as journal:
        commands = [e for e in journal.entries() if e.type == "command"]
    assert [(c.kind, c.ok) for c in commands] == [("set_current", False), ("start", False)] * 2
    assert commands[0].detail == "amps refused (HTTP 500)"
    assert commands[1].detail == "not sent: an earlier command failed (amps refused (HTTP 500))"
    assert "start" not in h.charger.calls
    assert "garage: set_current 12 A failed: amps refused (HTTP 500)" in caplog.text


async def test_requests_are_taken_on_the_next_tick_and_persisted(tmp_path: Path) -> None:
    h = _harness(tmp_path, CONFIG.replace('mode = "auto"', 'mode = "manual"'), ticks=2)
    with Journal(h.config.journal_path) as journal:
        journal.add_request("mode", "garage", "auto", START)
        journal.add_request("set", "target", 36e6, START)
        journal.add_request("set", "nothing", 1.0, START)
        journal.add_request("mode", "shed", "auto", START)
    await h.daemon.run()
    assert "start" in h.charger.calls
    with Journal(h.config.journal_path) as journal:
        assert journal.pending_requests() == []
        assert journal.request_result(1) is not None
        results = [journal.request_result(n) for n in (1, 2, 3, 4)]
    assert [r[1] for r in results if r] == [
        "done", "done", "refused: the rules declare no variable 'nothing' (variables: target)",
        "refused: no charger named 'shed' (chargers: garage)"]
    with Journal(h.config.journal_path) as journal:
        requests = [e.detail for e in journal.entries() if e.source == "cli"]
    # The journal shows a variable's value in its declared unit, as it was asked for.
    assert requests == ["mode garage auto: done", "set target = 10 kWh",
                        "set nothing 1: refused: the rules declare no variable 'nothing' "
                        "(variables: target)",
                        "mode shed auto: refused: no charger named 'shed' (chargers: garage)"]

    # A new daemon on the same files starts in the requested mode, with the variable.
    again = _harness(tmp_path, CONFIG.replace('mode = "auto"', 'mode = "manual"'), ticks=1)
    await again.daemon.run()
    assert again.daemon.store.mode("garage") == "auto"
    assert again.daemon.store.variable("target") == 36e6


class FlakyInput:
    """An input whose reads fail while `dead` is true."""

    def __init__(self, name: str, value: float, clock: FakeTime) -> None:
        self.name = name
        self.value = value
        self.every = 60.0
        self.stale_after = 120.0
        self.dead = False
        self._time = clock

    async def read(self) -> Reading:
        if self.dead:
            raise InputError(self.name, "http://meter/: HTTP 500 Internal Server Error")
        return Reading(self.value, self._time.now)

    async def close(self) -> None:
        return None


async def test_a_dead_input_goes_stale_and_nothing_is_claimed_from_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = CONFIG.replace('kind = "constant"\nvalue = "3000 W"',
                          'kind = "http"\nurl = "http://meter/"\npath = "pv"\nunit = "W"\n'
                          'stale_after = "2 min"')
    h = _harness(tmp_path, text, ticks=1)
    meter = FlakyInput("pv", 3000.0, h.time)
    monkeypatch.setattr("evse_rules.live.daemon.build_inputs", lambda config, client, clock=None: {
        "pv": meter})
    caplog.set_level(logging.INFO, "evse_rules")
    daemon = h.daemon
    daemon.max_ticks = None
    runner = asyncio.create_task(daemon.run())

    async def ticks(n: int) -> None:
        target = daemon.ticks + n
        while daemon.ticks < target:
            await asyncio.sleep(0)

    await ticks(1)
    assert h.charger.calls == ["amps 12", "start"]
    meter.dead = True
    meter.value = 200.0
    await ticks(4)
    # Two minutes without a reading: stale; the stop rule reads pv, so it does not fire.
    assert h.charger.calls == ["amps 12", "start"]
    assert daemon.store.input_value("pv") is None
    meter.dead = False
    await ticks(1)
    daemon.stop()
    await runner
    assert h.charger.calls == ["amps 12", "start", "stop", "release"]
    assert caplog.text.count("inputs.pv: http://meter/: HTTP 500") == 1
    assert "inputs.pv: stale" in caplog.text and "inputs.pv: reading again" in caplog.text


async def test_a_broken_rule_file_keeps_the_old_rules(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    programs: list[FakeProgram] = []

    def load(paths: Sequence[Path], env: Environment) -> FakeProgram:
        text = paths[0].read_text()
        if "broken" in text:
            where = Location(str(paths[0]), 3, 8, 3, 11)
            raise RuleFileErrors([SourceError(where, "cannot compare power (W) with current (A)",
                                              "if pv > 16A then stop")])
        programs.append(FakeProgram(str(paths[0]), threshold=float(text.split()[1])))
        return programs[-1]

    h = _harness(tmp_path, ticks=None, loader=load)
    rules = tmp_path / "solar.evr"
    rules.write_text("threshold 1400\n")
    caplog.set_level(logging.INFO, "evse_rules")
    runner = asyncio.create_task(h.daemon.run())

    async def ticks(n: int) -> None:
        target = h.daemon.ticks + n
        while h.daemon.ticks < target:
            await asyncio.sleep(0)

    await ticks(1)
    rules.write_text("broken\n")
    await ticks(2)
    assert f"{rules}:3:8: error: cannot compare power (W) with current (A)" in caplog.text
    assert caplog.text.count("not reloaded") == 1
    assert len(programs) == 1 and len(programs[0].ticks) == 3
    rules.write_text("threshold 5000 # fixed\n")
    await ticks(1)
    h.daemon.stop()
    await runner
    assert len(programs) == 2 and programs[1].ticks
    assert h.charger.calls[-2:] == ["stop", "release"]     # 3000 W is below the new 5000 W
    with Journal(h.config.journal_path) as journal:
        events = [e.detail or "" for e in journal.entries() if e.type == "event"]
    assert any(e.startswith("rule files not reloaded") for e in events)
    assert any(e.startswith("rule files reloaded") for e in events)


def _broken_loader(programs: list[FakeProgram]) -> object:
    """A loader that refuses a file saying "broken" (two errors) and otherwise runs the
    FakeProgram with the threshold the file gives."""

    def load(paths: Sequence[Path], env: Environment) -> FakeProgram:
        text = paths[0].read_text()
        if "broken" in text:
            errors = [SourceError(Location(str(paths[0]), line, 8, line, 11),
                                  "cannot compare power (W) with current (A)",
                                  "if pv > 16A then stop") for line in (3, 7)]
            raise RuleFileErrors(errors)
        programs.append(FakeProgram(str(paths[0]), threshold=float(text.split()[1])))
        return programs[-1]

    return load


async def _ticks(daemon: Daemon, n: int) -> None:
    target = daemon.ticks + n
    while daemon.ticks < target:
        await asyncio.sleep(0)


async def test_broken_rules_at_start_run_nothing_until_they_are_fixed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    programs: list[FakeProgram] = []
    h = _harness(tmp_path, CONFIG.replace('mode = "auto"', 'mode = "manual"'), ticks=None,
                 loader=_broken_loader(programs))
    rules = tmp_path / "solar.evr"
    rules.write_text("broken\n")
    h.config.state_path.write_text('{"format": 1, "variables": {"target": 1.0}}')
    with Journal(h.config.journal_path) as journal:
        journal.add_request("mode", "garage", "auto", START)
        journal.add_request("set", "nothing", 1.0, START)
        journal.add_request("set", "target", 36e6, START)
    caplog.set_level(logging.INFO, "evse_rules")
    runner = asyncio.create_task(h.daemon.run())
    await _ticks(h.daemon, 3)

    # Every error is logged with FILE:LINE:COL, once; the daemon polls and journals, takes
    # the requests, and sends nothing at all.
    assert f"{rules}:3:8: error: cannot compare" in caplog.text
    assert f"{rules}:7:8: error: cannot compare" in caplog.text
    assert caplog.text.count("running without rules until they are fixed") == 1
    assert h.charger.calls == [] and programs == []
    first = h.daemon.rules_error
    assert first is not None and first.startswith(f"{rules}:3:8: error: cannot compare")
    assert first.endswith("(and 1 more error)")
    assert h.daemon.store.mode("garage") == "auto"
    with Journal(h.config.journal_path) as journal:
        assert journal.counts()["ticks"] == 3 and journal.counts()["commands"] == 0
        last = journal.last_tick()
        results = [journal.request_result(n) for n in (1, 2, 3)]
    assert last is not None and last.samples["pv"] == 3000.0
    assert last.samples["garage.state"] == "sleeping"
    assert last.rules_error == first
    assert [r[1] for r in results if r] == [
        "done", "refused: no rules are running (the rule files have errors) and no saved "
        "variable is named 'nothing'", "done"]

    # Still broken, another way: reported once more, still nothing sent.
    rules.write_text("broken again\n")
    await _ticks(h.daemon, 2)
    assert caplog.text.count("rule files still have errors") == 1
    assert h.charger.calls == []

    # Fixed: loaded at the next tick, and control begins in that tick.
    rules.write_text("threshold 1400\n")
    await _ticks(h.daemon, 1)
    assert h.charger.calls == ["amps 12", "start"]
    assert h.daemon.rules_error is None and len(programs) == 1
    assert h.daemon.store.variable("target") == 36e6      # kept: it fits its declaration
    h.daemon.stop()
    await runner
    with Journal(h.config.journal_path) as journal:
        events = [e.detail or "" for e in journal.entries() if e.type == "event"]
        last = journal.last_tick()
    assert any(e.startswith("rule files have errors; running without rules") for e in events)
    assert any(e.startswith("rule files loaded, the rules run") for e in events)
    assert last is not None and last.rules_error is None


async def test_rules_reading_an_unconfigured_input_do_not_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = _harness(tmp_path, CONFIG.replace("[inputs.pv]", "[inputs.sun]"), ticks=2)
    await h.daemon.run()
    assert h.charger.calls == ["release"]
    assert h.daemon.rules_error == "the rules read pv but the config has no [inputs.pv]"
    assert "the rules read pv but the config has no [inputs.pv]" in caplog.text


async def test_a_restart_within_min_off_waits_for_min_off_since_the_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = CONFIG.replace('min_off = "0 s"', 'min_off = "5 min"')
    first = _harness(tmp_path, text, ticks=None)
    runner = asyncio.create_task(first.daemon.run())
    await _ticks(first.daemon, 1)                   # 12:00 start
    first.program.threshold = 5000.0
    await _ticks(first.daemon, 1)                   # 12:01 stop
    first.daemon.stop()
    await runner
    assert first.charger.calls == ["amps 12", "start", "stop", "release"]
    saved = json.loads(first.config.state_path.read_text())["contactor"]["garage"]
    assert saved == {"last_start": "2026-06-01T12:00:00+00:00",
                     "last_stop": "2026-06-01T12:01:00+00:00"}

    # Restarted at 12:02:30 with the sun back: the start waits until 12:06, five minutes
    # after the stop, not five minutes after the restart and not at once.
    again = _harness(tmp_path, text, ticks=5)
    again.time.now = START + timedelta(minutes=2, seconds=30)
    caplog.set_level(logging.INFO, "evse_rules")
    await again.daemon.run()
    assert ("garage: last start 2026-06-01T12:00:00+00:00, last stop 2026-06-01T12:01:00+00:00"
            in caplog.text)
    assert again.charger.calls == ["amps 12", "start", "release"]
    with Journal(again.config.journal_path) as journal:
        entries = journal.entries()
    starts = [e.at for e in entries if e.type == "command" and e.kind == "start"]
    assert starts[-1] == START + timedelta(minutes=6)
    held = [e for e in entries if e.type == "held" and e.guard == "min_off"]
    assert [e.at.minute for e in held] == [3, 4, 5]
    assert "stopped 2 min ago" in (held[0].detail or "")


async def test_stop_releases_the_claim_even_when_a_charger_refuses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = _harness(tmp_path, ticks=1)
    h.charger.fail.add("release")
    await h.daemon.run()
    assert h.charger.calls[-1] == "release"
    assert "garage: claim not released: release refused (HTTP 500)" in caplog.text


async def test_the_reference_voltage_comes_from_an_input_and_is_sent_once(tmp_path: Path) -> None:
    text = CONFIG.replace('mode = "auto"', 'mode = "manual"\nvoltage = "grid"') + \
        '[inputs.grid]\nkind = "constant"\nvalue = "236 V"\n'
    h = _harness(tmp_path, text, ticks=3)
    await h.daemon.run()
    assert h.charger.calls == ["voltage 236", "release"]
    assert h.charger.voltage == 236.0


async def test_a_missing_password_variable_is_a_clear_error_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evse_rules.errors import ConfigError

    monkeypatch.delenv("EVSE_LIVE_NO_SUCH_PASSWORD", raising=False)
    text = CONFIG.replace('driver = "simulated"', 'url = "http://127.0.0.1:9"\nuser = "admin"\n'
                          'password_env = "EVSE_LIVE_NO_SUCH_PASSWORD"')
    (tmp_path / "solar.evr").write_text("good\n")
    config = parse_config(text, "evse-rules.toml", tmp_path)
    daemon = Daemon(config, loader=lambda paths, env: FakeProgram())
    with pytest.raises(ConfigError) as info:
        await daemon.run()
    assert str(info.value) == ("evse-rules.toml: chargers.garage.password_env: error: the "
                               "environment variable EVSE_LIVE_NO_SUCH_PASSWORD is not set")


async def test_a_clock_going_back_restarts_the_rule_timers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = _harness(tmp_path, ticks=4)
    moved = False

    async def sleep(seconds: float, stop: asyncio.Event) -> bool:
        nonlocal moved
        stopped = await h.time.sleep(seconds, stop)
        if h.daemon.ticks == 2 and not moved:
            h.time.now -= timedelta(hours=1)      # NTP corrects a clock that ran ahead
            moved = True
        return stopped

    h.daemon.sleep = sleep
    await h.daemon.run()
    assert "the clock went back" in caplog.text
    ticks = h.program.ticks
    assert h.program.resets == [3]
    assert [t.hour for t in ticks] == [12, 12, 12, 11]
    assert ticks[:3] == sorted(ticks[:3])


async def test_rules_see_the_local_time_of_the_configured_zone(tmp_path: Path) -> None:
    h = _harness(tmp_path, 'timezone = "Europe/Paris"\n' + CONFIG, ticks=1)
    await h.daemon.run()
    [tick] = h.program.ticks
    assert tick == START and (tick.hour, tick.utcoffset()) == (14, timedelta(hours=2))


async def test_a_tick_does_not_wait_for_a_source_that_is_failing() -> None:
    from evse_rules.live.sources import InputResult, Sources

    class Meter:
        name, every, stale_after = "pv", 1.0, 3.0

        def __init__(self) -> None:
            self.reads = 0
            self.release = asyncio.Event()

        async def read(self) -> Reading:
            self.reads += 1
            if self.reads == 1:
                raise InputError("pv", "http://meter/: connection failed")
            await self.release.wait()          # hangs, like a meter that stopped answering
            return Reading(1500.0, START)

        async def close(self) -> None:
            return None

    meter = Meter()
    sources = Sources({"pv": meter}, {}, {})
    [first] = await sources.gather(START, budget=30.0)
    assert isinstance(first, InputResult) and first.error is not None
    # Failing now: the next tick launches the read but does not wait 30 s for it.
    assert await asyncio.wait_for(sources.gather(START + timedelta(seconds=1), 30.0), 2.0) == []
    meter.release.set()
    await asyncio.sleep(0)
    [late] = await sources.gather(START + timedelta(seconds=1.5), budget=30.0)  # not due
    assert isinstance(late, InputResult) and late.value == 1500.0
    assert late.at == START + timedelta(seconds=1)   # stamped with the tick that asked
    await sources.cancel()


async def test_a_second_daemon_on_the_same_journal_refuses_to_start(tmp_path: Path) -> None:
    from evse_rules.errors import ConfigError

    first = _harness(tmp_path, ticks=None)
    runner = asyncio.create_task(first.daemon.run())
    while first.daemon.ticks < 1:
        await asyncio.sleep(0)
    second = _harness(tmp_path, ticks=1)
    with pytest.raises(ConfigError, match="another `evse-rules run` is already running"):
        await second.daemon.run()
    first.daemon.stop()
    await runner
    again = _harness(tmp_path, ticks=1)       # the first one is gone: the lock is free
    await again.daemon.run()
    assert again.daemon.ticks == 1


async def test_a_clock_going_back_does_not_hold_the_contactor_until_the_old_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = _harness(tmp_path, CONFIG.replace('min_off = "0 s"', 'min_off = "5 min"'), ticks=9)

    async def sleep(seconds: float, stop: asyncio.Event) -> bool:
        if h.daemon.ticks == 2 and h.time.now.hour == 12:
            h.time.now -= timedelta(hours=1)        # NTP corrects a clock that ran ahead
        if h.daemon.ticks == 1:
            h.program.threshold = 5000.0            # 12:01: the stop rule fires
        if h.daemon.ticks == 2:
            h.program.threshold = 1400.0            # then the start rule again
        return await h.time.sleep(seconds, stop)

    h.daemon.sleep = sleep
    await h.daemon.run()
    assert "the clock went back" in caplog.text
    with Journal(h.config.journal_path) as journal:
        commands = [(e.kind, e.at.strftime("%H:%M")) for e in journal.entries()
                    if e.type == "command"]
    # Ticks 12:00, 12:01, 12:02, then 11:02.. The stop at 12:01 lies an hour ahead once
    # the clock reads 11:02: it counts from 11:02, so the start comes at 11:07, not 12:06.
    # (The journal lists in time order: the 11:07 start comes first.)
    assert commands == [("start", "11:07"), ("set_current", "12:00"), ("start", "12:00"),
                        ("stop", "12:01")]


async def test_sighup_loads_rules_that_were_broken_at_start(tmp_path: Path) -> None:
    # The loader refuses while the "checker" says no, then accepts: nothing in the file
    # changes, so only the reload request (SIGHUP) can load it.
    refuse = True
    program = FakeProgram(str(tmp_path / "solar.evr"))

    def load(paths: Sequence[Path], env: Environment) -> FakeProgram:
        if refuse:
            raise RuleFileErrors([SourceError(Location(str(paths[0]), 1, 1, 1, 2),
                                              "unknown input 'pv'", "good")])
        return program

    h = _harness(tmp_path, ticks=None, loader=load)
    runner = asyncio.create_task(h.daemon.run())
    await _ticks(h.daemon, 2)
    refuse = False
    await _ticks(h.daemon, 2)
    assert h.charger.calls == [] and h.daemon.rules_error is not None   # not asked yet
    h.daemon.reload()
    await _ticks(h.daemon, 1)
    h.daemon.stop()
    await runner
    assert h.charger.calls == ["amps 12", "start", "release"]
    assert len(program.ticks) == 1


@pytest.mark.parametrize("driver", ["openevse", "rapi"])
def test_the_configured_phases_reach_the_driver(tmp_path: Path, driver: str) -> None:
    from evse_rules.live.build import default_charger_factory

    text = CONFIG.replace('driver = "simulated"',
                          f'driver = "{driver}"\nurl = "http://127.0.0.1:9"\nphases = 3')
    config = parse_config(text, "evse-rules.toml", tmp_path)
    charger = default_charger_factory("garage", config)
    assert getattr(charger, "phases", None) == 3


async def test_a_changed_config_is_applied_or_reported_once_with_what_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "evse-rules.toml"
    path.write_text(CONFIG)
    h = _harness(tmp_path, ticks=None)
    h.daemon = Daemon(load_config(path), clock=h.time.clock, sleep=h.time.sleep,
                      loader=lambda paths, env: h.program,
                      charger_factory=lambda name, config: h.charger)
    caplog.set_level(logging.INFO, "evse_rules")
    runner = asyncio.create_task(h.daemon.run())
    await _ticks(h.daemon, 1)
    path.write_text(CONFIG + "# a comment changes no setting\n")
    await _ticks(h.daemon, 2)
    assert f"{path} changed" not in caplog.text
    path.write_text(CONFIG.replace('mode = "auto"', 'mode = "auto"\nmax_amps = 16')
                    .replace('"3000 W"', '"2500 W"'))
    await _ticks(h.daemon, 2)
    path.write_text(CONFIG.replace("[inputs.pv]", "[inputs.pv]\nfrequency = 3"))
    await _ticks(h.daemon, 2)
    h.daemon.stop()
    await runner
    with Journal(h.daemon.config.journal_path) as journal:
        events = [(e.kind, e.detail or "") for e in journal.entries() if e.type == "event"]
    changes = [(kind, detail) for kind, detail in events if f"{path} changed" in detail]
    # Applied live at the next tick (live/reconfigure.py), said with the keys.
    assert changes[0] == ("info", f"{path} changed and is applied: chargers.garage.max_amps, "
                                  "inputs.pv.value (2 key(s); chargers reconnected: garage)")
    assert changes[1][0] == "error" and changes[1][1].startswith(
        f"{path} changed and has errors; the daemon keeps running on the config it has, and "
        "a restart would refuse this version:\n")
    assert "inputs.pv.frequency" in changes[1][1]
    assert len(changes) == 2                                # once per version
    assert h.charger.calls[0] == "amps 12"                  # still the config it started with
