"""kill -9 at random points: `python -m evse_rules run` is killed with SIGKILL again and again
(KILL9_RUNS times, 10 by default), at a random moment of its life each time (while it
starts, between ticks, inside one), and started again. Through all of it:

- the journal opens (`PRAGMA integrity_check` is ok) and keeps every tick it had committed
  before each kill;
- the mode a person chose, the user variables and the contactor times are kept: a counter
  the rules raise every tick never goes back, and the last start the guards count from is
  the one of the first run;
- the emulated charger's claim is never changed by a kill or a restart: the charger does
  not stop, start or change its current because of them, and no claim is ever released.

The kill moments come from a seeded generator (KILL9_SEED, printed on failure); where in a
tick they land depends on the machine, which is the point.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evse_rules.chargers.firmware import DEFAULT_CLIENT_ID
from evse_rules.cli import main
from evse_rules.testing.emulator import OpenEvseEmulator

RUNS = int(os.environ.get("KILL9_RUNS", "10"))
SEED = int(os.environ.get("KILL9_SEED", "9"))
PASSWORD = "pw-kill9-s3cret"

RULES = """\
input pv: W
var n: number = 0
var boost: boolean = false
set n to n + 1
if mode is auto and pv > 1400W then set amps to pv/voltage
if mode is auto and pv > 1400W then start
"""


def _config(tmp_path: Path, emu: OpenEvseEmulator) -> Path:
    (tmp_path / "kill9.evr").write_text(RULES)
    path = tmp_path / "evse-rules.toml"
    path.write_text(f"""
tick = "200 ms"
rules = ["kill9.evr"]
[http]
enabled = false
[chargers.garage]
url = "{emu.url}"
user = "admin"
password_env = "EVSE_KILL9_PASSWORD"
min_on = "10 min"
min_off = "5 min"
mode = "manual"
timeout = "500 ms"
[inputs.pv]
kind = "constant"
value = "3000 W"
""")
    return path


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _ticks(journal: Path) -> list[tuple[int, dict[str, Any]]]:
    """Every journaled tick: (id, sampled values), read as another process would."""
    if not journal.exists():
        return []
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute("SELECT id, samples FROM ticks ORDER BY id").fetchall()
    except sqlite3.OperationalError:      # created, tables not there yet
        return []
    finally:
        db.close()
    return [(int(i), json.loads(s).get("values", {})) for i, s in rows]


def _integrity(journal: Path) -> str:
    db = sqlite3.connect(journal, timeout=10)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def _contactor(state: Path) -> dict[str, Any]:
    contactor: dict[str, Any] = json.loads(state.read_text()).get("contactor", {})
    return contactor


def _charger(emu: OpenEvseEmulator) -> tuple[dict[str, Any] | None, int, int]:
    """What the charger does: our claim, its state code, its pilot."""
    return emu.claims.get(DEFAULT_CLIENT_ID), emu.state, emu.pilot


def test_kill_9_at_random_points_keeps_the_journal_the_state_and_the_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EVSE_KILL9_PASSWORD", PASSWORD)
    rnd = random.Random(SEED)
    # The charger sleeps until claimed: the first run's start is one the guards count from.
    with OpenEvseEmulator("v5.1.2", user="admin", password=PASSWORD,
                          default_state=False) as emu:
        path = _config(tmp_path, emu)
        journal, state = tmp_path / "evse-rules.sqlite", tmp_path / "evse-rules-state.json"
        # What a person asks before the daemon runs: taken at its first tick, then kept.
        assert main(["mode", "garage", "auto", "--config", str(path)]) == 0
        assert main(["set", "boost", "on", "--config", str(path)]) == 0
        capsys.readouterr()
        command = [sys.executable, "-m", "evse_rules", "run", "--config", str(path)]

        # The first run brings the charger to its steady claim: active at 3000/240 -> 12 A.
        steady: tuple[dict[str, Any] | None, int, int] | None = None
        contactor: dict[str, Any] | None = None
        kills: list[str] = []
        for run in range(RUNS):
            log = (tmp_path / f"run-{run}.log").open("w")
            daemon = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            try:
                if steady is None:
                    _wait_for(lambda: _charger(emu)[1:] == (3, 12) and len(_ticks(journal)) >= 3,
                              "the first run to claim 12 A, active")
                    steady = _charger(emu)
                    contactor = _contactor(state)
                    assert contactor["garage"]["last_start"], contactor
                    requests_at_steady = len(emu.requests)
                delay = rnd.uniform(0.0, 2.0)
                time.sleep(delay)
                committed = {i for i, _ in _ticks(journal)}
                daemon.send_signal(signal.SIGKILL)
                daemon.wait(timeout=10)
            finally:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.wait()
                log.close()
            kills.append(f"run {run}: killed {delay:.2f} s after start")
            where = f"seed {SEED}, " + "; ".join(kills)
            assert daemon.returncode == -signal.SIGKILL, where

            # The journal opens whole and holds every tick committed before the kill.
            assert _integrity(journal) == "ok", where
            after = {i for i, _ in _ticks(journal)}
            assert committed <= after, f"{where}: ticks lost: {sorted(committed - after)}"
            # The charger was not touched by the kill, nor by the restart before it.
            assert _charger(emu) == steady, where
            assert _contactor(state) == contactor, where

    # Across every restart: no claim released, every claim posted after the steady one the
    # same, the counter never went back nor skipped more than the one tick a kill can lose
    # between saving the state and journaling the tick.
    later = emu.requests[requests_at_steady:]
    assert [r for r in later if r.method == "DELETE"] == []
    posted = [r.body for r in later if r.method == "POST"]
    assert all(body["state"] == "active" and body["charge_current"] == 12 for body in posted), \
        posted
    ticks = _ticks(journal)
    counts = [values["n"] for _, values in ticks if "n" in values]
    steps = {b - a for a, b in itertools.pairwise(counts)}
    assert steps <= {1.0, 2.0}, f"the counter went {sorted(steps)} between ticks: {counts}"
    assert all(values.get("garage.mode") == "auto" and values.get("boost") is True
               for _, values in ticks), "the mode or the variable was lost in a restart"
    assert len(ticks) >= 3
