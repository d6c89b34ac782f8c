"""Control quality: the OpenEVSE firmware's solar divert, evcc's PV mode and
rules/solar_surplus.evr on the same days, in closed loop, with the same accounting.

    .venv/bin/python benchmarks/bench_control.py              # the bundled days and a year
    .venv/bin/python benchmarks/bench_control.py --days 30    # a shorter "year"
    .venv/bin/python benchmarks/bench_control.py --foresight  # and the bound with foresight

The site: one phase, 240 V, a charger of 6..32 A, a car that never fills and is plugged in
all day; a grid meter (import positive) that sees the house, the roof AND the car, as it
does live: grid = house - pv + the car's power, the car's power being what the controller
set at its last step. The days are data/*-day.csv; the year is built from them as
benchmarks/bench_replay.py builds it (winter days from November to February, otherwise a
seeded mix of clear and cloudy days).

Accounting, the same for the three (that of `evse-rules simulate`, DESIGN.md section 7):
per interval dt after a controller's step, the car's energy is its power x dt; the sun's
share is min(max(pv - house, 0), car power) x dt, the rest comes from the grid. A charge is
one transition into charging. The figures: solar kWh into the car, grid kWh into the car,
charges (contactor closings).

The two reference controllers are written from their documented behaviour and source:

* OpenEVSE WiFi firmware, solar divert in grid mode (src/divert.cpp and
  src/input_filter.cpp of github.com/OpenEVSE/openevse_esp32_firmware; user guide
  "Solar PV Divert"): on each meter reading, the available current is the export before the
  car, -(grid / V - car amps), less a reserve of (PV ratio - 1) x 1000 W / V when it is
  positive, else 0; it is smoothed by an exponential filter, factor 1 - exp(-dt / tau),
  tau = 20 s (attack) when it rises and 600 s (decay) when it falls. The charge current is
  the floor of the UNSMOOTHED available current (plus 1 when the fraction exceeds
  min(1, ratio), never with ratio 1.1); the charger is claimed active at that current when
  the smoothed current reaches min x min(1, ratio) + 0.5 A (6.5 A), released (disabled)
  when it falls to min x min(1, ratio) (6 A) and the charge has lasted the minimum charge
  time (600 s); in between nothing changes. A current below the minimum is charged at
  the minimum (the EVSE clamps it). Here it reads the meter once a minute (the data's rows).
* evcc, PV mode with its defaults (core/loadpoint.go `pvMaxCurrent`; docs.evcc.io,
  loadpoint `enable`/`disable` thresholds and delays): every 30 s (its `interval`), the
  target current is the present charging current + (-grid) / V; not charging, a target of
  at least the minimum current (6 A) with the grid exporting (threshold 0 W) for 1 min
  enables the charger at 6 A; charging, a target below 6 A with the grid importing
  (threshold 0 W) holds 6 A for 3 min, then disables it; otherwise the current is the
  target in whole amperes (rounded down), within 6..32 A. No minimum on or off time (evcc
  removed its guard timer).

evse-rules runs rules/solar_surplus.evr written on the grid meter (`let surplus = power -
grid` for `let surplus = pv - house`: the car's own power plus the export) through
`evse-rules simulate`'s replay, which adds the car to the recorded grid meter each tick.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evse_rules.simulate import prepare, run  # noqa: E402

RULES = ROOT / "rules" / "solar_surplus.evr"
DAYS = {name: ROOT / "data" / f"{name}-day.csv" for name in ("clear", "cloudy", "winter")}
VOLTS = 240.0
MIN_AMPS, MAX_AMPS = 6, 32
_KWH = 3.6e6


@dataclass
class Figures:
    """What a controller did over some days: energies in kWh."""

    solar_kwh: float = 0.0
    grid_kwh: float = 0.0
    charges: int = 0

    def add(self, other: Figures) -> None:
        self.solar_kwh += other.solar_kwh
        self.grid_kwh += other.grid_kwh
        self.charges += other.charges


@dataclass
class Day:
    """Rows of a data file: POSIX seconds, pv and house in W."""

    times: list[float]
    pv: list[float]
    house: list[float]


def read_day(path: Path) -> Day:
    times, pv, house = [], [], []
    for line in path.read_text().splitlines()[1:]:
        stamp, p, h = line.split(",")
        times.append(datetime.fromisoformat(stamp).timestamp())
        pv.append(float(p))
        house.append(float(h))
    return Day(times, pv, house)


def make_year(path: Path, days: int, seed: int = 2025) -> None:
    """`days` days of one-minute rows from the bundled days (as bench_replay builds them)."""
    bodies = {name: [line[10:] for line in source.read_text().splitlines()[1:]]
              for name, source in DAYS.items()}
    rng = random.Random(seed)
    with path.open("w") as out:
        out.write("time,pv[W],house[W]\n")
        day = date(2025, 1, 1)
        for _ in range(days):
            if day.month in (11, 12, 1, 2):
                kind = "winter"
            else:
                kind = "cloudy" if rng.random() < 0.4 else "clear"
            out.write("".join(f"{day.isoformat()}{rest}\n" for rest in bodies[kind]))
            day += timedelta(days=1)


class Firmware:
    """The OpenEVSE firmware's solar divert, grid mode (see the module's docstring)."""

    interval = 60.0
    attack, decay = 20.0, 600.0
    ratio = 1.1
    hysteresis = 0.5
    min_charge_time = 600.0

    def __init__(self) -> None:
        self.smoothed = 0.0
        self.active = False
        self.amps = MIN_AMPS
        self.min_charge_end = -math.inf
        self.last: float | None = None

    def step(self, t: float, grid_w: float, car_amps: float, charging: bool) -> tuple[bool, int]:
        i_grid = grid_w / VOLTS - car_amps
        reserve = 1000.0 * max(self.ratio - 1.0, 0.0) / VOLTS
        available = max(-i_grid - reserve, 0.0) if i_grid < 0 else 0.0
        dt = 0.0 if self.last is None else t - self.last
        self.last = t
        tau = self.attack if available > self.smoothed else self.decay
        factor = 1.0 - math.exp(-dt / tau) if dt > 0 else 0.0
        self.smoothed = available * factor + self.smoothed * (1.0 - factor)
        rate = math.floor(available)
        if available - rate > min(1.0, self.ratio):
            rate += 1
        trigger = MIN_AMPS * min(1.0, self.ratio)
        if self.smoothed >= trigger + self.hysteresis:
            if not self.active:
                self.min_charge_end = t + self.min_charge_time
            self.active = True
            self.amps = min(max(rate, MIN_AMPS), MAX_AMPS)
        elif self.smoothed <= trigger and self.active and t >= self.min_charge_end:
            self.active = False
        return self.active, self.amps


class Evcc:
    """evcc's PV mode with its default thresholds and delays (see the module's docstring)."""

    interval = 30.0
    enable_delay, disable_delay = 60.0, 180.0
    enable_threshold = disable_threshold = 0.0

    def __init__(self) -> None:
        self.enabled = False
        self.amps = MIN_AMPS
        self.timer: float | None = None

    def step(self, t: float, grid_w: float, car_amps: float, charging: bool) -> tuple[bool, int]:
        effective = float(self.amps) if self.enabled and charging else 0.0
        target = max(effective + (-grid_w) / VOLTS, 0.0)
        if not self.enabled:
            if grid_w <= -self.enable_threshold and target >= MIN_AMPS:
                if self.timer is None:
                    self.timer = t
                if t - self.timer >= self.enable_delay:
                    self.enabled, self.amps, self.timer = True, MIN_AMPS, None
            else:
                self.timer = None
            return self.enabled, self.amps
        if target < MIN_AMPS:
            if grid_w >= self.disable_threshold:
                if self.timer is None:
                    self.timer = t
                if t - self.timer >= self.disable_delay:
                    self.enabled, self.timer = False, None
                    return False, self.amps
            else:
                self.timer = None
            self.amps = MIN_AMPS
            return True, self.amps
        self.timer = None
        self.amps = min(math.floor(target), MAX_AMPS)
        return True, self.amps


def closed_loop(day: Day, controller: Firmware | Evcc) -> Figures:
    """Run `controller` over `day` at its interval with the replay's accounting."""
    dt = controller.interval
    times = day.times
    t0, rows = times[0], len(times)
    # The rows span the day's last minute too: it ends one row spacing after the last row.
    end = times[-1] + (times[1] - times[0] if rows > 1 else 60.0)
    ticks = math.floor((end - t0) / dt + 1e-9)
    row = 0
    pv = house = 0.0
    power = 0.0
    charging = False
    figures = Figures()
    solar_j = grid_j = 0.0
    for k in range(ticks):
        t = t0 + k * dt
        while row < rows and times[row] <= t + 1e-6:
            pv, house = day.pv[row], day.house[row]
            row += 1
        grid_w = house - pv + power       # the meter sees the car's present power
        enabled, amps = controller.step(t, grid_w, power / VOLTS, charging)
        power = amps * VOLTS if enabled else 0.0
        if enabled and not charging:
            figures.charges += 1
        charging = enabled
        available = (pv - house) * dt if pv > house else 0.0
        joules = power * dt
        share = joules if joules < available else available
        solar_j += share
        grid_j += joules - share
    figures.solar_kwh, figures.grid_kwh = solar_j / _KWH, grid_j / _KWH
    return figures


def grid_rules(directory: Path) -> Path:
    """rules/solar_surplus.evr read on a grid meter: `power - grid` for `pv - house`."""
    text = RULES.read_text()
    lines = []
    for line in text.splitlines():
        if line.startswith("input pv:"):
            line = "input grid: W"
        elif line.startswith("input house:"):
            continue
        lines.append(line)
    rewritten = "\n".join(lines).replace("let surplus = pv - house", "let surplus = power - grid")
    if rewritten == "\n".join(lines):
        raise SystemExit("rules/solar_surplus.evr no longer says `let surplus = pv - house`")
    path = directory / "solar_surplus_grid.evr"
    path.write_text(rewritten + "\n")
    return path


def grid_data(source: Path, target: Path) -> Path:
    """A data file as a grid meter records it without the car: grid = house - pv."""
    lines = ["time,grid[W]"]
    for line in source.read_text().splitlines()[1:]:
        stamp, pv, house = line.split(",")
        lines.append(f"{stamp},{float(house) - float(pv):.0f}")
    target.write_text("\n".join(lines) + "\n")
    return target


def ours(rules: Path, data: Path, days: int) -> Figures:
    """rules/solar_surplus.evr through the replay (closed loop on the grid meter). The
    replay counts a tick per row; the last minute of each day is then counted too."""
    result = run(prepare([rules], data)).to_json()
    return Figures(result["ev_from_solar_kwh"], result["ev_from_grid_kwh"], result["charges"])


def row(label: str, figures: list[Figures]) -> str:
    cells = "".join(f"  {f.solar_kwh:9.2f} {f.grid_kwh:8.2f} {f.charges:7d}" for f in figures)
    return f"{label:<14}{cells}"


def foresight(day: Day, grid_weight: float = 5.0, charge_weight_kwh: float = 0.2,
              round_up: float = 0.25, min_on: int = 10, min_off: int = 5) -> Figures:
    """A bound, not a controller: the best a controller could do on `day` knowing every
    minute ahead. A dynamic program over every start and stop the contactor times allow
    (minute rows; the current is the minute's surplus plus `round_up`, rounded down, within
    6..32 A, as the rules set it), maximising solar kWh - `grid_weight` x grid kWh -
    `charge_weight_kwh` per charge. States: charging or not, minutes since the last
    switch (capped); each keeps its best value and its figures."""
    span = max(min_on, min_off)
    best: dict[tuple[bool, int], tuple[float, float, float, int]] = {
        (False, span): (0.0, 0.0, 0.0, 0)}
    for pv, house in zip(day.pv, day.house, strict=True):
        surplus = pv - house
        amps = min(max(math.floor(surplus / VOLTS + round_up), MIN_AMPS), MAX_AMPS)
        solar = min(max(surplus, 0.0), amps * VOLTS) / 60_000     # kWh in the minute
        grid = amps * VOLTS / 60_000 - solar
        after: dict[tuple[bool, int], tuple[float, float, float, int]] = {}
        for (on, since), (value, sun, bought, charges) in best.items():
            moves = [(on, min(since + 1, span))]
            if since >= (min_on if on else min_off):
                moves.append((not on, 1))
            for charging, elapsed in moves:
                started = charging and not on
                figures = ((value + solar - grid_weight * grid, sun + solar, bought + grid,
                            charges) if charging else (value, sun, bought, charges))
                if started:
                    figures = (figures[0] - charge_weight_kwh, *figures[1:3], charges + 1)
                if (charging, elapsed) not in after or after[charging, elapsed][0] < figures[0]:
                    after[charging, elapsed] = figures
        best = after
    _, sun, bought, charges = max(best.values())
    return Figures(sun, bought, charges)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="days in the year (365)")
    parser.add_argument("--foresight", action="store_true",
                        help="also print the bound a controller knowing every minute ahead "
                             "reaches (a dynamic program; slower)")
    args = parser.parse_args()
    names = ("OpenEVSE firmware", "evcc PV mode", "solar_surplus.evr")
    width = 28
    print("Control quality, closed loop on a grid meter; per controller: solar kWh into "
          "the car, grid kWh into the car, charges")
    print(f"{'':<14}" + "".join(f"  {name:<{width - 2}}" for name in names))
    print(f"{'':<14}" + "  ".join(f"{'solar':>9} {'grid':>8} {'charges':>7}"
                                    for _ in names).join(["  ", ""]))
    total = [Figures(), Figures(), Figures()]
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        rules = grid_rules(directory)
        for name, path in DAYS.items():
            day = read_day(path)
            found = [closed_loop(day, Firmware()), closed_loop(day, Evcc()),
                     ours(rules, grid_data(path, directory / f"{name}.csv"), 1)]
            for sum_, one in zip(total, found, strict=True):
                sum_.add(one)
            print(row(f"{name} day", found))
        print(row("the 3 days", total))
        year_path = directory / "year.csv"
        make_year(year_path, args.days)
        year = read_day(year_path)
        found = [closed_loop(year, Firmware()), closed_loop(year, Evcc()),
                 ours(rules, grid_data(year_path, directory / "year-grid.csv"), args.days)]
        print(row(f"{args.days} days", found))
        if args.foresight:
            print("A bound, knowing every minute ahead (solar - 5 x grid - 0.2 kWh a charge, "
                  "the rules' rounding, the contactor times):")
            bound = Figures()
            for name, path in DAYS.items():
                one = foresight(read_day(path))
                bound.add(one)
                print(row(f"{name} day", [one]))
            print(row("the 3 days", [bound]))
            print(row(f"{args.days} days", [foresight(year)]))
    print(verdict("bundled days", *total))
    print(verdict(f"{args.days} days", *found))
    return 0


def verdict(label: str, firmware: Figures, evcc: Figures, mine: Figures) -> str:
    """The goal: at least the firmware's solar energy, at most evcc's grid energy, at most
    the firmware's charges; each figure says which side of it the rules are."""
    beats = (mine.solar_kwh >= firmware.solar_kwh and mine.grid_kwh <= evcc.grid_kwh
             and mine.charges <= firmware.charges)
    return (f"{label}: solar_surplus.evr solar {mine.solar_kwh:.2f} kWh (firmware "
            f"{firmware.solar_kwh:.2f}), grid {mine.grid_kwh:.2f} kWh (evcc {evcc.grid_kwh:.2f}), "
            f"charges {mine.charges} (firmware {firmware.charges}): "
            f"{'beats both' if beats else 'does not beat both'}")


if __name__ == "__main__":
    sys.exit(main())
