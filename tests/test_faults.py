"""Every charger fault, injected into the emulated OpenEVSE while the real daemon drives it.

The daemon runs on the wall clock (0.25 s ticks) with rules that ask, tick after tick, for
currents outside every limit (40 A, then 2 A, with max_amps = 16) and for start, then stop.
All the faults run at once, each with its own emulator, daemon and journal (log records are
told apart by the daemon's task); then each fault's case (FAULTS, parametrized) holds that:

(a) every claim the charger received is whole: `state` and `charge_current` both there, the
    current an integer within [max(6, min_amps, min_current_hard), min(max_amps,
    max_current_hard)] (a hard limit that is not a finite number is no limit); when that
    range is empty, nothing but a stop was posted (`state: disabled`, the current within
    the config's [min_amps, max_amps]): a safety stop is never held back;
(b) the daemon kept ticking: `daemon.ticks` advanced and the ticks were journaled after the
    fault;
(c) no traceback reached the log, save at most one per distinct unexpected error;
(d) the fault was journaled or logged with its reason;
(e) the charger's password is in no log line and no journal entry.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import itertools
import logging
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from evse_rules.chargers.firmware import DEFAULT_CLIENT_ID
from evse_rules.config import load_config
from evse_rules.engine.journal import Journal
from evse_rules.live import Daemon
from evse_rules.testing.emulator import OpenEvseEmulator, RecordedRequest

PASSWORD = "pw-faults-s3cret"
MIN_AMPS, MAX_AMPS = 6, 16
TICK = 0.25
CONFIG_RANGE = range(MIN_AMPS, MAX_AMPS + 1)
TICKS_BEFORE, TICKS_DURING, TICKS_AFTER = 2, 4, 2

# Out of every limit, both ways, and a start and a stop on alternate ticks.
RULES = """\
var flip: boolean = false
if flip then set flip to false else set flip to true
var high: A = 40 A
var low: A = 2 A
if flip then set amps to high else set amps to low
if flip then start else stop
"""


@dataclass(frozen=True)
class Fault:
    """One way a charger goes wrong, and what the claims may be while it does."""

    name: str
    inject: Callable[[OpenEvseEmulator], None]
    reason: str                          # a regex the journal or the log must match
    hard_min: float | None = None        # the charger's limits while the fault holds
    hard_max: float | None = None        # (None or not finite: the charger says nothing)
    before_start: bool = False           # there before the daemon starts (a left claim)
    heal: Callable[[OpenEvseEmulator], None] | None = None

    def allowed(self) -> range:
        low, high = MIN_AMPS, MAX_AMPS
        if self.hard_min is not None and math.isfinite(self.hard_min):
            low = max(low, math.ceil(self.hard_min))
        if self.hard_max is not None and math.isfinite(self.hard_max):
            high = min(high, math.floor(self.hard_max))
        return range(low, high + 1)


def _field(path: str, key: str, value: Any) -> Callable[[OpenEvseEmulator], None]:
    return lambda emu: emu.set_field(path, key, value)


def _raw(path: str, key: str, raw: str) -> Callable[[OpenEvseEmulator], None]:
    return lambda emu: emu.set_raw_field(path, key, raw)


def _fault(kind: Any, **options: Any) -> Callable[[OpenEvseEmulator], None]:
    def inject(emu: OpenEvseEmulator) -> None:
        emu.set_fault(kind, **options)
    inject.emulator_fault = kind  # type: ignore[attr-defined]
    return inject


def _state(code: int) -> Callable[[OpenEvseEmulator], None]:
    def inject(emu: OpenEvseEmulator) -> None:
        emu.state = code
    return inject


def _reopen(emu: OpenEvseEmulator) -> None:
    emu.start()


def _claim_left(emu: OpenEvseEmulator) -> None:
    emu.set_claim(DEFAULT_CLIENT_ID, {"state": "active", "charge_current": 32})


NOT_A_NUMBER = r"(?i)nan|inf|not a (finite )?number|finite|out of range"

FAULTS: tuple[Fault, ...] = (
    # /config limits that leave no current at all
    Fault("config_min_current_hard_20", _field("/config", "min_current_hard", 20),
          r"min_current_hard|20 A", hard_min=20),
    Fault("config_max_current_hard_0", _field("/config", "max_current_hard", 0),
          r"max_current_hard|0 A", hard_max=0),
    # /config limits that are not numbers
    Fault("config_min_current_hard_nan", _raw("/config", "min_current_hard", "NaN"),
          NOT_A_NUMBER),
    Fault("config_max_current_hard_infinity", _raw("/config", "max_current_hard", "Infinity"),
          NOT_A_NUMBER),
    Fault("config_max_current_hard_1e400", _raw("/config", "max_current_hard", "1e400"),
          NOT_A_NUMBER),
    Fault("config_min_current_hard_minus_infinity",
          _raw("/config", "min_current_hard", "-Infinity"), NOT_A_NUMBER),
    # /status fields that are not numbers
    Fault("status_amp_nan", _raw("/status", "amp", "NaN"), NOT_A_NUMBER),
    Fault("status_pilot_infinity", _raw("/status", "pilot", "Infinity"), NOT_A_NUMBER),
    Fault("status_voltage_1e400", _raw("/status", "voltage", "1e400"), NOT_A_NUMBER),
    Fault("status_power_minus_infinity", _raw("/status", "power", "-Infinity"), NOT_A_NUMBER),
    Fault("status_state_nan", _raw("/status", "state", "NaN"), NOT_A_NUMBER),
    Fault("status_temp_1e400", _raw("/status", "temp", "1e400"), NOT_A_NUMBER),
    # bodies no parser should have to swallow
    Fault("deep_json", _fault("deep_json", depth=100_000),
          r"(?i)deep|nest|recursion|invalid JSON|not a JSON object"),
    Fault("huge_body", _fault("huge_body", size=8 << 20),
          r"(?i)too (large|big|long)|bytes|size|missing|not a JSON object"),
    # an unknown state code
    Fault("unknown_state_999", _state(999), r"999"),
    # the network and the server
    Fault("wrong_password", _fault("401"), r"authentication failed"),
    Fault("closed_port", lambda emu: emu.stop(), r"(?i)could not connect|connection failed",
          heal=_reopen),
    Fault("timeout", _fault("timeout"), r"no answer"),
    Fault("delay_past_the_timeout", _fault("delay", seconds=1.0), r"no answer"),
    Fault("http_500", _fault("500"), r"HTTP 500"),
    Fault("invalid_json", _fault("invalid_json"), r"invalid JSON"),
    Fault("dropped_connection", _fault("drop"), r"(?i)dropped|connection failed"),
    # a claim with our client id, left at 32 A by someone else (or an older config)
    Fault("claim_left_at_32_a", _claim_left, r"32", before_start=True),
)
FAULT_COUNT = len(FAULTS)


def _config(tmp_path: Path, emu: OpenEvseEmulator) -> Path:
    (tmp_path / "faults.evr").write_text(RULES)
    path = tmp_path / "evse-rules.toml"
    path.write_text(f"""
tick = "{TICK * 1000:g} ms"
rules = ["faults.evr"]
[http]
enabled = false
[chargers.garage]
url = "{emu.url}"
user = "admin"
password_env = "EVSE_FAULTS_PASSWORD"
min_amps = {MIN_AMPS}
max_amps = {MAX_AMPS}
min_on = "0 s"
min_off = "0 s"
mode = "auto"
timeout = "500 ms"
""")
    return path


async def _ticks(daemon: Daemon, task: asyncio.Task[None], n: int) -> None:
    """Wait for `n` more ticks; a daemon that stops or stalls fails the test."""
    target = daemon.ticks + n
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60.0
    while daemon.ticks < target:
        if task.done():
            task.result()
            raise AssertionError("the daemon stopped")
        if loop.time() > deadline:
            raise AssertionError(f"no {n} tick(s) within 60 s: the daemon is stuck")
        await asyncio.sleep(0.01)


def _journaled_ticks(path: Path) -> int:
    with Journal(path) as journal:
        return journal.counts()["ticks"]


def _journal_text(path: Path) -> str:
    with Journal(path) as journal:
        entries = journal.entries()
    return "\n".join(e.detail or "" for e in entries if e.type in ("event", "command"))


# Which fault's daemon a log record comes from: each daemon runs in a task of its own, and
# a task (with every task it starts) sees the context it was created in.
_RUNNING: contextvars.ContextVar[str | None] = contextvars.ContextVar("fault", default=None)


class _PerFault(logging.Handler):
    """Log records sorted by the fault whose daemon emitted them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: dict[str, list[logging.LogRecord]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        fault = _RUNNING.get()
        if fault is not None:
            self.records.setdefault(fault, []).append(record)


@dataclass
class FaultRun:
    """What one fault's daemon did, for the assertions."""

    before: list[RecordedRequest] = field(default_factory=list)
    during: list[RecordedRequest] = field(default_factory=list)
    ticks_at_fault: int = 0
    ticks_after: int = 0
    journaled_at_fault: int = 0
    journaled_after: int = 0
    journal: str = ""
    error: BaseException | None = None


async def _run(fault: Fault, tmp_path: Path, run: FaultRun) -> None:
    """The daemon against the emulator: a few ticks, the fault, more ticks (then healed)."""
    _RUNNING.set(fault.name)
    emu = OpenEvseEmulator("v5.1.2", user="admin", password=PASSWORD).start()
    try:
        config = load_config(_config(tmp_path, emu))
        if fault.before_start:
            fault.inject(emu)
        daemon = Daemon(config)
        task = asyncio.create_task(daemon.run())
        try:
            await _ticks(daemon, task, TICKS_BEFORE)
            run.before = emu.requests
            if not fault.before_start:
                fault.inject(emu)
            run.journaled_at_fault = _journaled_ticks(config.journal_path)
            run.ticks_at_fault = daemon.ticks
            await _ticks(daemon, task, TICKS_DURING)
            run.during = emu.requests[len(run.before):]
            run.ticks_after = daemon.ticks
            run.journaled_after = _journaled_ticks(config.journal_path)
            if fault.heal is not None:
                # The charger back: the daemon reads it again.
                fault.heal(emu)
                await _ticks(daemon, task, TICKS_AFTER)
            emu.clear_fault()   # the release at the end is not the point here
            emu.clear_fields()
        finally:
            daemon.stop()
            await asyncio.wait_for(task, timeout=15)
        run.journal = _journal_text(config.journal_path)
    finally:
        emu.stop()


@pytest.fixture(scope="module")
def fault_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[dict[str, FaultRun], _PerFault]]:
    """Every fault at once, each with its own emulator, daemon and journal: the suite
    costs the time of one run, not of 23."""
    handler = _PerFault()
    root = logging.getLogger()
    package = logging.getLogger("evse_rules")
    old_level = package.level
    root.addHandler(handler)
    package.setLevel(logging.INFO)
    previous = os.environ.get("EVSE_FAULTS_PASSWORD")
    os.environ["EVSE_FAULTS_PASSWORD"] = PASSWORD
    runs = {fault.name: FaultRun() for fault in FAULTS}

    async def run_all() -> None:
        async def one(fault: Fault) -> None:
            try:
                await _run(fault, tmp_path_factory.mktemp(fault.name), runs[fault.name])
            except Exception as error:      # reported by that fault's test, not the others'
                runs[fault.name].error = error
        await asyncio.gather(*(one(fault) for fault in FAULTS))

    try:
        asyncio.run(run_all())
        yield runs, handler
    finally:
        root.removeHandler(handler)
        package.setLevel(old_level)
        if previous is None:
            os.environ.pop("EVSE_FAULTS_PASSWORD", None)
        else:
            os.environ["EVSE_FAULTS_PASSWORD"] = previous


def _claims(requests: list[RecordedRequest]) -> list[Any]:
    return [r.body for r in requests
            if r.method == "POST" and r.path.startswith(("/claims/", "/override"))]


def _bad_claims(bodies: list[Any], allowed: range) -> list[str]:
    """What is wrong with each claim body, given the currents the charger may be asked."""
    problems = []
    for body in bodies:
        if not isinstance(body, dict) or not {"state", "charge_current"} <= body.keys():
            problems.append(f"{body!r}: not both `state` and `charge_current`")
            continue
        current = body["charge_current"]
        if not allowed and body["state"] != "disabled":
            problems.append(f"{body!r}: more than a stop although no current is allowed")
            continue
        # A stop on a charger whose limits leave no current still goes (a safety stop is
        # never held back), with the config's minimum as its current.
        within = allowed or CONFIG_RANGE
        if isinstance(current, bool) or not isinstance(current, int):
            problems.append(f"{body!r}: the current is not a whole number of amperes")
        elif current not in within:
            problems.append(f"{body!r}: {current} A is outside "
                            f"{within.start}..{within.stop - 1} A")
    return problems


def _tracebacks(records: list[logging.LogRecord]) -> list[str]:
    """Log records with a traceback that repeat the same unexpected error."""
    seen: dict[tuple[str, str], int] = {}
    for record in records:
        if record.exc_info and record.exc_info[0] is not None:
            key = (str(record.msg), record.exc_info[0].__name__)
            seen[key] = seen.get(key, 0) + 1
    return [f"{msg!r} with {kind}: {n} tracebacks" for (msg, kind), n in seen.items() if n > 1]


NO_FAULT = Fault("none", lambda emu: None, "")


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_a_charger_fault_never_gives_a_bad_claim_nor_stops_the_tick(
    fault: Fault, fault_runs: tuple[dict[str, FaultRun], _PerFault],
) -> None:
    runs, handler = fault_runs
    run = runs[fault.name]
    if run.error is not None:
        raise run.error
    records = handler.records.get(fault.name, [])
    # (a) whole claims within the limits; none when no current is allowed.
    first = fault.allowed() if fault.before_start else NO_FAULT.allowed()
    problems = _bad_claims(_claims(run.before), first)
    problems += _bad_claims(_claims(run.during), fault.allowed())
    assert problems == [], f"{fault.name}: claims the charger must never get:\n" + \
        "\n".join(problems)
    # (b) the daemon kept ticking, and journaled its ticks.
    assert run.ticks_after >= run.ticks_at_fault + TICKS_DURING
    assert run.journaled_after >= run.journaled_at_fault + TICKS_DURING - 1
    # (c) no traceback per tick: at most one for each distinct unexpected error.
    assert _tracebacks(records) == []
    # (d) the fault was said, with its reason.
    said = run.journal + "\n" + "\n".join(r.getMessage() for r in records)
    assert re.search(fault.reason, said), f"{fault.name}: no reason /{fault.reason}/ in:\n" \
        + said[-3000:]
    # (e) whatever went wrong, the password is in no message.
    token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    assert PASSWORD not in said and token not in said


def test_every_fault_kind_of_the_emulator_is_injected() -> None:
    from evse_rules.testing.emulator import FAULT_KINDS

    used = {getattr(fault.inject, "emulator_fault", None) for fault in FAULTS}
    assert set(FAULT_KINDS) <= used, f"not injected: {set(FAULT_KINDS) - used}"
    assert FAULT_COUNT == len({fault.name for fault in FAULTS}) == 23


TWO_RULES = """\
charger garage, carport
var flip: boolean = false
if flip then set flip to false else set flip to true
if flip then set amps of garage to 10 A else set amps of garage to 12 A
if flip then set amps of carport to 10 A else set amps of carport to 12 A
"""


async def test_a_charger_that_never_answers_does_not_hold_the_other_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVSE_FAULTS_PASSWORD", PASSWORD)
    with OpenEvseEmulator("v5.1.2") as dead, OpenEvseEmulator("v5.1.2") as alive:
        dead.set_fault("timeout")
        (tmp_path / "two.evr").write_text(TWO_RULES)
        path = tmp_path / "evse-rules.toml"
        chargers = "".join(f"""
[chargers.{name}]
url = "{emu.url}"
min_on = "0 s"
min_off = "0 s"
mode = "auto"
timeout = "500 ms"
""" for name, emu in (("garage", dead), ("carport", alive)))
        path.write_text(f'tick = "{TICK * 1000:g} ms"\nrules = ["two.evr"]\n'
                        f"[http]\nenabled = false\n{chargers}")
        daemon = Daemon(load_config(path))
        task = asyncio.create_task(daemon.run())
        try:
            await _ticks(daemon, task, 2)
            alive.clear_requests()
            await _ticks(daemon, task, 8)
            requests = alive.requests
        finally:
            daemon.stop()
            await asyncio.wait_for(task, timeout=15)
    # The live charger is read and driven at every tick while the other hangs: 10 A, 12 A,
    # 10 A... one claim a tick (two ticks of slack for the edges of the window).
    currents = [body["charge_current"] for body in _claims(requests)]
    assert len(currents) >= 6, currents
    assert all(a != b for a, b in itertools.pairwise(currents)), currents
    assert sum(r.method == "GET" and r.path == "/status" for r in requests) >= 6
    assert _claims(dead.requests) == []
