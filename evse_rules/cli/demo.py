"""`evse-rules demo`: the engine and its dashboard on an emulated charger and a replayed sunny
day, faster than real time, with no hardware.

Everything is real but the charger and the meters: the daemon of `evse-rules run`, its API
and dashboard, the OpenEVSE emulator on loopback (the one the tests use), and two loopback
meters (PV and house) that serve a bundled recorded day. The daemon's clock runs `--speed`
times faster than the wall clock, starting at `--start` on that day, so a minute tick comes
every second at the default speed of 60; the meters serve the recorded value at the
daemon's time (the day repeats when it ends). Journal and state live in a temporary folder
that is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from evse_rules.cli._command import add_command
from evse_rules.errors import EvseRulesError

_EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
_REPO = Path(__file__).resolve().parents[2]


def add_commands(subparsers: Any) -> None:
    parser = add_command(subparsers, "demo", demo)
    parser.add_argument("--speed", type=float, default=60.0, metavar="X",
                        help="how much faster than real time the day runs (default 60: a "
                             "minute tick every second)")
    parser.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                        help="where the dashboard is served (default 127.0.0.1:8080; port 0: "
                             "any free port)")
    parser.add_argument("--data", metavar="FILE.csv", default=None,
                        help="a recorded day (time, pv[W], house[W]); default: the bundled "
                             "clear day")
    parser.add_argument("--rules", metavar="FILE.evr", default=None,
                        help="the rule file (default: the bundled solar_surplus.evr)")
    parser.add_argument("--start", metavar="HH:MM", default="09:00",
                        help="the time of day the replay starts at (default 09:00)")
    parser.add_argument("--ticks", type=int, default=None, metavar="N",
                        help="stop after N ticks (default: run until Ctrl-C)")


def example(name: str) -> Path:
    """A bundled example file: in the installed package, or in the source tree."""
    for path in (_EXAMPLES / name, _REPO / "rules" / name, _REPO / "data" / name):
        if path.is_file():
            return path
    raise EvseRulesError(f"demo: the bundled example {name} is missing from this install")


def demo(args: argparse.Namespace) -> int:
    """Try the engine and its dashboard with no hardware: an emulated charger, a sunny day.

    evse-rules demo [--speed 60] [--listen 127.0.0.1:8080] [--start 09:00] [--data DAY.csv]
                    [--rules FILE.evr] [--ticks N]

    Starts the engine of `evse-rules run` on an emulated OpenEVSE charger with a car plugged
    in, and two meters replaying a recorded day (PV and house), `--speed` times faster than
    real time. Open the address it prints: the tile follows the sun, and ON, OFF, Man./Auto.
    and the slider act on the emulated charger as they would on a real one. Ctrl-C stops it.
    """
    from evse_rules.config import split_listen

    if not 1.0 <= args.speed <= 3600.0:
        raise EvseRulesError(f"demo: --speed must be between 1 and 3600, got {args.speed:g}")
    try:
        split_listen(args.listen)
        hour, minute = (int(part) for part in args.start.split(":"))
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError
    except ValueError as error:
        what = "--start must be HH:MM" if "listen" not in str(error) else str(error)
        raise EvseRulesError(f"demo: {what}, got {args.start!r}") from None
    data = Path(args.data) if args.data else example("clear-day.csv")
    rules = Path(args.rules) if args.rules else example("solar_surplus.evr")
    day = RecordedDay.load(data)
    return asyncio.run(_run(args, day, rules, hour * 60 + minute))


class RecordedDay:
    """A recorded day's PV and house power by time of day, repeating."""

    def __init__(self, start: datetime, seconds: list[float], pv: list[float],
                 house: list[float]) -> None:
        self.start, self.seconds, self.pv, self.house = start, seconds, pv, house
        self.length = max(seconds[-1] + 60.0, 60.0)

    @classmethod
    def load(cls, path: Path) -> RecordedDay:
        import csv

        try:
            with path.open(newline="") as handle:
                rows = list(csv.reader(handle))
        except OSError as error:
            raise EvseRulesError(f"demo: cannot read {path}: {error.strerror}") from None
        if len(rows) < 3:
            raise EvseRulesError(f"demo: {path} has no data rows")
        header = [cell.strip().lower() for cell in rows[0]]
        try:
            pv_at = next(i for i, h in enumerate(header) if h.startswith("pv"))
        except StopIteration:
            raise EvseRulesError(f"demo: {path}: no pv column (pv[W])") from None
        house_at = next((i for i, h in enumerate(header) if h.startswith("house")), None)
        scale = 1000.0 if "kw" in header[pv_at] else 1.0
        seconds, pv, house = [], [], []
        start: datetime | None = None
        for line, row in enumerate(rows[1:], start=2):
            try:
                at = datetime.fromisoformat(row[0])
                start = start or at
                seconds.append((at - start).total_seconds())
                pv.append(float(row[pv_at]) * scale)
                house.append(float(row[house_at]) if house_at is not None else 300.0)
            except (ValueError, IndexError):
                raise EvseRulesError(f"demo: {path}:{line}: not a time and numbers: "
                                     f"{','.join(row)[:60]!r}") from None
        assert start is not None
        return cls(start, seconds, pv, house)

    def at(self, moment: datetime) -> tuple[float, float]:
        """PV and house power at `moment` (its time of day on the recorded day)."""
        offset = (moment - self.start).total_seconds() % self.length
        index = max(0, bisect.bisect_right(self.seconds, offset) - 1)
        return self.pv[index], self.house[index]


def _zone(start: datetime) -> str:
    """The recorded day's own time zone, so that the dashboard shows its times of day: a
    whole-hour offset as the fixed zone Etc/GMT-N (POSIX signs: east is minus); else UTC."""
    offset = start.utcoffset()
    if offset is None:
        return "UTC"
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    if rest or not -14 <= hours <= 12:
        return "UTC"
    return "UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"


class FastClock:
    """The daemon's clock and sleep, `speed` times faster than the wall clock."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start, self.speed = start, speed
        self._wall = time.monotonic()

    def clock(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._wall) * self.speed)

    async def sleep(self, seconds: float, stop: asyncio.Event) -> bool:
        try:
            await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds) / self.speed)
        except TimeoutError:
            return False
        return True


def _config(folder: Path, rules: Path, emulator: str, pv: str, house: str,
            listen: str, zone: str) -> str:
    return f"""
tick = "1 min"
timezone = "{zone}"
rules = ["{rules.resolve().as_posix()}"]
journal = "{(folder / 'demo.sqlite').as_posix()}"
state = "{(folder / 'demo-state.json').as_posix()}"

[http]
listen = "{listen}"

[chargers.garage]
url = "{emulator}"
mode = "auto"
max_amps = 32
timeout = "2 s"

[inputs.pv]
kind = "http"
url = "{pv}"
path = "site.pv_power"
unit = "W"
every = "30 s"
stale_after = "3 min"

[inputs.house]
kind = "http"
url = "{house}"
path = "site.pv_power"
unit = "W"
every = "30 s"
stale_after = "3 min"
"""


async def _run(args: argparse.Namespace, day: RecordedDay, rules: Path, minute: int) -> int:
    from evse_rules.cli.live import _setup_logging, services
    from evse_rules.config import parse_config
    from evse_rules.live import Daemon
    from evse_rules.testing.emulator import OpenEvseEmulator
    from evse_rules.testing.meter import pv_meter

    _setup_logging(getattr(args, "verbose", 0))
    begin = day.start.replace(hour=minute // 60, minute=minute % 60, second=0)
    clock = FastClock(begin, args.speed)
    with tempfile.TemporaryDirectory(prefix="evse-rules-demo-") as folder, \
            OpenEvseEmulator("v5.1.2") as emulator, pv_meter() as pv, pv_meter() as house:
        text = _config(Path(folder), rules, emulator.url, pv.url, house.url, args.listen,
                       _zone(day.start))
        config = parse_config(text, "<demo>", Path(folder))
        daemon = Daemon(config, clock=clock.clock, sleep=clock.sleep, max_ticks=args.ticks)

        async def follow_the_day() -> None:
            while True:
                pv.power, house.power = day.at(clock.clock())
                await asyncio.sleep(0.05)

        pv.power, house.power = day.at(clock.clock())
        feeder = asyncio.create_task(follow_the_day())
        faces = services(config, daemon)
        runner = asyncio.create_task(daemon.run(faces))
        for _ in range(500):
            if runner.done() or all(getattr(face, "started", True) for face in faces):
                break
            await asyncio.sleep(0.01)
        url = getattr(faces[0], "url", None) if faces else None
        print(f"evse-rules demo: the dashboard is at {url}/ (a day at {args.speed:g}x from "
              f"{args.start}; Ctrl-C stops)", flush=True)
        try:
            await runner
        finally:
            feeder.cancel()
    return 0
