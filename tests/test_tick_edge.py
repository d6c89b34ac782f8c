"""The tick never dies: what raises inside a tick is caught at its edge, said once, counted.

Failures are injected with the test doubles of tests/test_live.py: a rule program that
raises, a journal or state file on a full disk (a monkeypatched write), a charger in a
fault state; the last tests SIGTERM `python -m evse_rules run` in a subprocess.
"""

from __future__ import annotations

import errno
import logging
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pytest

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine.journal import Entry, Journal
from evse_rules.engine.persist import StateFile
from evse_rules.language.program import TickResult, Value
from tests.test_live import CONFIG, FakeProgram, Harness, Recorder, _harness

UTC_CONFIG = 'timezone = "UTC"\n' + CONFIG


@dataclass
class Raising(FakeProgram):
    """The hand-written program, raising at its first `failing` ticks (a rule's bug)."""

    failing: int = 0

    def tick(self, now: datetime, values: list[Value]) -> TickResult:
        if len(self.ticks) < self.failing:
            self.ticks.append(now)
            raise ZeroDivisionError("float division by zero")
        return super().tick(now, values)


def _raising_harness(tmp_path: Path, failing: int, ticks: int | None) -> tuple[Harness, Raising]:
    program = Raising(str(tmp_path / "solar.evr"), failing=failing)
    h = _harness(tmp_path, UTC_CONFIG, ticks=ticks,
                 loader=lambda paths, env: program)
    return h, program


def _events(h: Harness, source: str) -> list[Entry]:
    with Journal(h.config.journal_path) as journal:
        return [e for e in journal.entries() if e.type == "event" and e.source == source]


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


def _tracebacks(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.exc_info)


async def test_a_rule_that_raises_is_one_traceback_then_counts_and_the_ticks_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h, program = _raising_harness(tmp_path, failing=12, ticks=14)
    caplog.set_level(logging.INFO, "evse_rules")
    await h.daemon.run()
    # Every tick ran: 12 that raised, then 2 that worked and sent the commands.
    assert len(program.ticks) == 14
    assert h.charger.calls[:2] == ["amps 12", "start"]
    assert _tracebacks(caplog) == 1
    failed = [m for m in _messages(caplog) if m.startswith("tick failed")]
    assert failed[0].startswith("tick failed: ZeroDivisionError: float division by zero (at ")
    # The same failure again: a count at the 2nd and 10th time, not a line per tick.
    assert failed[1:] == ["tick failed again (2 times since 12:00): same error",
                          "tick failed again (10 times since 12:00): same error"]
    assert "tick works again after failing 12 times since 12:00" in _messages(caplog)
    events = _events(h, "daemon")
    errors = [e for e in events if e.kind == "error"]
    assert len(errors) == 1 and "ZeroDivisionError" in (errors[0].detail or "")
    assert [e.detail for e in events if e.kind == "info" and "works again" in (e.detail or "")
            ] == ["tick works again after failing 12 times since 12:00"]


async def test_a_failure_that_changes_is_said_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h, program = _raising_harness(tmp_path, failing=4, ticks=4)
    calls = 0
    original = Raising.tick

    def tick(self: Raising, now: datetime, values: list[Value]) -> TickResult:
        nonlocal calls
        calls += 1
        if calls > 2:
            self.ticks.append(now)
            raise KeyError("pv")
        return original(self, now, values)

    program.tick = tick.__get__(program)  # type: ignore[method-assign]
    caplog.set_level(logging.INFO, "evse_rules")
    await h.daemon.run()
    failed = [m for m in _messages(caplog) if m.startswith("tick failed")]
    assert [m.split(" (")[0] for m in failed] == [
        "tick failed: ZeroDivisionError: float division by zero",
        "tick failed again", "tick failed: KeyError: 'pv'", "tick failed again"]
    assert _tracebacks(caplog) == 2
    assert len([e for e in _events(h, "daemon") if e.kind == "error"]) == 2


async def test_a_failure_that_comes_back_after_a_good_tick_is_not_a_traceback_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h, program = _raising_harness(tmp_path, failing=0, ticks=6)
    original = FakeProgram.tick

    def tick(self: Raising, now: datetime, values: list[Value]) -> TickResult:
        if len(self.ticks) % 2 == 0:
            self.ticks.append(now)
            raise ZeroDivisionError("float division by zero")
        return original(self, now, values)

    program.tick = tick.__get__(program)  # type: ignore[method-assign]
    caplog.set_level(logging.INFO, "evse_rules")
    await h.daemon.run()
    assert _tracebacks(caplog) == 1
    assert sum(m.startswith("tick failed: ZeroDivisionError") for m in _messages(caplog)) == 3


def _full_disk() -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = sqlite3.SQLITE_FULL
    return error


async def test_a_full_disk_under_the_journal_is_one_line_and_the_chargers_are_still_driven(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, _program = _raising_harness(tmp_path, failing=0, ticks=12)
    record = Journal.record
    full = True
    records = 0

    def failing_record(self: Journal, tick: object) -> int:
        nonlocal records
        records += 1
        if full and records <= 10:
            raise _full_disk()
        return record(self, tick)  # type: ignore[arg-type]

    monkeypatch.setattr(Journal, "record", failing_record)
    caplog.set_level(logging.INFO, "evse_rules")
    await h.daemon.run()
    # The commands went out at the first tick although it could not be journaled.
    assert h.charger.calls[:2] == ["amps 12", "start"]
    assert records == 12
    lines = [m for m in _messages(caplog) if "journal" in m]
    assert lines[0] == (f"journal {h.config.journal_path}: cannot write: the disk is full "
                        "(database or disk is full) (the chargers are still controlled; "
                        "ticks are not journaled until it works again)")
    assert lines[1:] == ["journal failed again (2 times since 12:00): same error",
                         "journal failed again (10 times since 12:00): same error",
                         "journal works again after failing 10 times since 12:00"]
    assert _tracebacks(caplog) == 0
    with Journal(h.config.journal_path) as journal:
        assert journal.counts()["ticks"] == 2
        recovered = [e for e in journal.entries() if e.source == "journal"]
    assert [e.detail for e in recovered] == [
        "journal works again after failing 10 times since 12:00"]


async def test_a_prune_on_a_full_disk_is_the_journal_line_not_a_failed_tick(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = Raising(str(tmp_path / "solar.evr"))
    h = _harness(tmp_path, UTC_CONFIG.replace('tick = "1 min"', 'tick = "1 h"'), ticks=3,
                 loader=lambda paths, env: program)
    prune = Journal.prune
    prunes = 0

    def failing_prune(self: Journal, before: datetime) -> int:
        nonlocal prunes
        prunes += 1
        if prunes > 1:                  # the one at start works, the hourly ones do not
            raise _full_disk()
        return prune(self, before)

    monkeypatch.setattr(Journal, "prune", failing_prune)
    caplog.set_level(logging.INFO, "evse_rules")
    await h.daemon.run()
    assert prunes == 3 and len(program.ticks) == 3      # at start, then 13:00 and 14:00
    assert _tracebacks(caplog) == 0
    assert not [m for m in _messages(caplog) if m.startswith("tick failed")]
    assert [m.split(":")[0] for m in _messages(caplog) if "cannot write" in m] == [
        f"journal {h.config.journal_path}"]


async def test_a_full_disk_under_the_state_file_is_one_line_then_it_is_saved_when_it_can(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, _program = _raising_harness(tmp_path, failing=0, ticks=5)
    save = StateFile.save
    attempts = 0

    def failing_save(self: StateFile, state: object, now: datetime | None = None) -> bool:
        nonlocal attempts
        attempts += 1
        if attempts <= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(self, state, now)  # type: ignore[arg-type]

    monkeypatch.setattr(StateFile, "save", failing_save)
    caplog.set_level(logging.INFO, "evse_rules")
    await h.daemon.run()
    assert h.charger.calls[:2] == ["amps 12", "start"]
    lines = [m for m in _messages(caplog) if "cannot save" in m or "state file" in m]
    assert lines == [
        f"{h.config.state_path}: cannot save the state: the disk is full (No space left on "
        "device) (modes and variables are kept in memory and saved once it works again)",
        "state file failed again (2 times since 12:00): same error",
        "state file works again after failing 3 times since 12:00"]
    assert [e.kind for e in _events(h, "state")] == ["error", "info"]
    assert h.config.state_path.exists()


class Faulty(Recorder):
    """A charger whose state is `error` (an unknown state code) while `fault` is set."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.fault: str | None = None

    async def refresh(self) -> ChargerStatus:
        status = await super().refresh()
        if self.fault is None:
            return status
        return replace(status, state=ChargerState.ERROR, error=self.fault)


async def test_a_charger_fault_is_said_once_with_its_reason_and_once_when_it_clears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.test_live import _ticks

    h, _program = _raising_harness(tmp_path, failing=0, ticks=None)
    charger = Faulty("garage")
    charger.fault = "unknown state code 999"
    h.daemon._charger_factory = lambda name, config: charger
    caplog.set_level(logging.INFO, "evse_rules")
    import asyncio

    runner = asyncio.create_task(h.daemon.run())
    await _ticks(h.daemon, 5)
    charger.fault = None
    await _ticks(h.daemon, 2)
    h.daemon.stop()
    await runner
    faults = [m for m in _messages(caplog) if m.startswith("garage: fault")]
    assert faults == ["garage: fault: unknown state code 999",
                      "garage: fault cleared (charging), was: unknown state code 999 since "
                      "12:00"]
    events = _events(h, "chargers.garage")
    assert [(e.kind, (e.detail or "").split(" (")[0]) for e in events] == [
        ("error", "fault: unknown state code 999"), ("info", "fault cleared")]


async def test_a_charger_offline_for_the_same_reason_is_one_warning_and_one_recovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    from evse_rules.chargers.base import offline_status
    from tests.test_live import _ticks

    h, _program = _raising_harness(tmp_path, failing=0, ticks=None)
    refresh = h.charger.refresh
    dead = True

    async def flaky() -> ChargerStatus:
        if dead:
            return offline_status("no answer within 5 s")
        return await refresh()

    h.charger.refresh = flaky  # type: ignore[method-assign]
    caplog.set_level(logging.INFO, "evse_rules")
    runner = asyncio.create_task(h.daemon.run())
    await _ticks(h.daemon, 6)
    dead = False
    await _ticks(h.daemon, 2)
    h.daemon.stop()
    await runner
    said = [m for m in _messages(caplog) if m.startswith("garage: o")]
    assert said == ["garage: offline: no answer within 5 s",
                    "garage: online again (sleeping) after 6 failed reads since 12:00"]
    events = [e.detail for e in _events(h, "chargers.garage")]
    assert events == ["offline: no answer within 5 s", said[1].removeprefix("garage: ")]


# -- the process: SIGTERM exits 0 ---------------------------------------------------------

RUN_CONFIG = """
tick = "200 ms"
rules = ["r.evr"]
journal = "j.sqlite"
state = "s.json"
[chargers.garage]
driver = "simulated"
min_on = "0 s"
min_off = "0 s"
mode = "auto"
[inputs.pv]
kind = "constant"
value = "3000 W"
[http]
enabled = false
"""

RULES = "input pv: W\nif mode is auto and pv > 1400W then start, set amps to pv / voltage\n"

# Run `python -m evse_rules` with every tick raising and, once started, a journal that can
# no longer be written (the last lines of the shutdown fail too); each tick leaves a mark.
BROKEN_RUN = """
import runpy, sqlite3, sys
from pathlib import Path
from evse_rules.engine import Engine
from evse_rules.engine.journal import Journal

marks = Path(sys.argv.pop(1))
started = Journal.event
def step(self, now):
    with marks.open("a") as out:
        out.write("tick\\n")
    raise ZeroDivisionError("float division by zero")
def event(self, at, what):
    if what.message.startswith("started"):
        return started(self, at, what)
    raise sqlite3.OperationalError("database or disk is full")
def record(self, tick):
    raise sqlite3.OperationalError("database or disk is full")
Engine.step = step
Journal.event = event
Journal.record = record
runpy.run_module("evse_rules", run_name="__main__", alter_sys=True)
"""


def _sigterm_after(command: list[str], cwd: Path, ready: object) -> tuple[int, str]:
    process = subprocess.Popen(command, cwd=cwd, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not ready() and time.monotonic() < deadline:  # type: ignore[operator]
            if process.poll() is not None:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, err


def _files(tmp_path: Path) -> None:
    (tmp_path / "cfg.toml").write_text(RUN_CONFIG)
    (tmp_path / "r.evr").write_text(RULES)


def test_sigterm_stops_run_with_exit_0(tmp_path: Path) -> None:
    _files(tmp_path)

    def ticked() -> bool:
        try:
            with Journal(tmp_path / "j.sqlite") as journal:
                return journal.counts()["ticks"] >= 2
        except sqlite3.Error:
            return False

    code, err = _sigterm_after([sys.executable, "-m", "evse_rules", "run", "--config",
                                "cfg.toml"], tmp_path, ticked)
    assert ticked()
    assert (code, "Traceback" in err) == (0, False), err


def test_sigterm_exits_0_after_failing_ticks_and_a_full_journal(tmp_path: Path) -> None:
    _files(tmp_path)
    (tmp_path / "broken_run.py").write_text(BROKEN_RUN)
    marks = tmp_path / "marks"

    def ticked() -> bool:
        return marks.exists() and marks.read_text().count("tick") >= 4

    code, err = _sigterm_after([sys.executable, "broken_run.py", str(marks), "run",
                                "--config", "cfg.toml"], tmp_path, ticked)
    assert ticked(), err
    assert code == 0, err
    assert err.count("Traceback") == 1, err           # the first failing tick, only
    assert err.count("tick failed: ZeroDivisionError") == 1
    assert "tick failed again (2 times since" in err
    assert "journal" in err and "the disk is full" in err


async def test_a_source_or_driver_bug_at_every_tick_is_one_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Recorder):
        async def refresh(self) -> ChargerStatus:
            raise ValueError("a driver bug")

    h = _harness(tmp_path, ticks=5)
    broken = Broken("garage")
    h.daemon._charger_factory = lambda name, config: broken
    caplog.set_level(logging.INFO, "evse_rules")
    await h.daemon.run()
    assert h.daemon.ticks == 5
    traced = [r for r in caplog.records if r.exc_info]
    assert len(traced) == 1 and "refresh failed unexpectedly" in traced[0].getMessage()
    # The same again is for -v only; the health report says once that it is offline.
    again = [r for r in caplog.records if "refresh failed unexpectedly" in r.getMessage()]
    assert len(again) == 1
