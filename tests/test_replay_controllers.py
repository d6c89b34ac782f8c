"""The reference controllers of benchmarks/bench_control.py do what their sources say: the
OpenEVSE firmware's divert and evcc's PV mode, step by step on made-up meter readings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

# Loaded from its path: benchmarks/ is a folder of scripts, not a package.
_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_control.py"
_spec = importlib.util.spec_from_file_location("bench_control", _PATH)
assert _spec is not None and _spec.loader is not None
bench_control = importlib.util.module_from_spec(_spec)
sys.modules["bench_control"] = bench_control
_spec.loader.exec_module(bench_control)
Day, Evcc, Firmware = bench_control.Day, bench_control.Evcc, bench_control.Firmware
closed_loop = bench_control.closed_loop

VOLTS = 240.0


def test_firmware_starts_when_the_smoothed_current_reaches_6_5_a_at_the_floor() -> None:
    fw = Firmware()
    # 7.9 A of export before the car: above 6.5 A once smoothed (attack 20 s), current 7 A
    # (the floor, after the 100 W reserve of PV ratio 1.1: 7.9 - 0.42 = 7.48 A).
    grid = -7.9 * VOLTS
    assert fw.step(0.0, grid, 0.0, False) == (False, 6)       # first reading: nothing yet
    assert fw.step(60.0, grid, 0.0, False) == (True, 7)


def test_firmware_keeps_a_charge_its_minimum_time_then_stops_below_6_a() -> None:
    fw = Firmware()
    fw.step(0.0, -10 * VOLTS, 0.0, False)
    assert fw.step(60.0, -10 * VOLTS, 0.0, False)[0]           # started at t = 60
    # The sun goes: the car's 6 A now come from the grid (meter +6 A x V).
    t, active = 60.0, True
    while active:
        t += 60.0
        active, amps = fw.step(t, 6 * VOLTS, 6.0, True)
        assert amps >= 6
    # Not before the minimum charge time (600 s from the start), and the decay (600 s) of
    # the smoothed current from ~9.6 A to 6 A takes about 5 minutes more.
    assert t >= 60.0 + 600.0


def test_evcc_enables_after_a_minute_of_surplus_at_6_a() -> None:
    evcc = Evcc()
    grid = -7 * VOLTS
    assert evcc.step(0.0, grid, 0.0, False) == (False, 6)
    assert evcc.step(30.0, grid, 0.0, False) == (False, 6)
    assert evcc.step(60.0, grid, 0.0, False) == (True, 6)       # 1 min: enable at 6 A
    # Charging 6 A with 7 A exported beyond it: the target is 13 A.
    assert evcc.step(90.0, -7 * VOLTS, 6.0, True) == (True, 13)


def test_evcc_holds_6_a_for_3_minutes_of_import_then_disables() -> None:
    evcc = Evcc()
    evcc.enabled, evcc.amps = True, 6
    states = [evcc.step(30.0 * k, 2 * VOLTS, 6.0, True) for k in range(8)]
    assert states[:6] == [(True, 6)] * 6                        # 0 .. 150 s
    assert states[6] == (False, 6)                              # 180 s: disabled


def test_closed_loop_counts_solar_and_grid_as_the_replay_does() -> None:
    # One hour of 2 kW surplus: evcc charges at 8 A (1920 W) after its minute.
    times = [60.0 * k for k in range(60)]
    day = Day(times, [2500.0] * 60, [500.0] * 60)
    figures = closed_loop(day, Evcc())
    assert figures.charges == 1 and figures.grid_kwh == 0.0
    # The first minute waits, then half a minute at 6 A, then 8 A to the end of the hour.
    assert abs(figures.solar_kwh - (1440 * 0.5 + 1920 * 58.5) / 60000) < 1e-9


def _minutes(surplus_amps: list[float]) -> Any:
    """A day of minute rows whose surplus is the given current at 240 V (no house load)."""
    return Day([60.0 * k for k in range(len(surplus_amps))],
               [amps * VOLTS for amps in surplus_amps], [0.0] * len(surplus_amps))


def test_the_foresight_bound_rides_a_short_dark_dip_and_stops_for_a_long_one() -> None:
    foresight = bench_control.foresight
    # 30 min of 10 A, a 2-minute dark dip (1 A), 30 min of 10 A: a stop would keep the car
    # off for min_off (5 min) of sun, so the bound rides the dip at 6 A.
    short = foresight(_minutes([10.0] * 30 + [1.0] * 2 + [10.0] * 30))
    assert short.charges == 1
    assert abs(short.grid_kwh - 2 * 5 * VOLTS / 60_000) < 1e-9
    # The same with an hour of dark: stopping costs less than an hour of 5 A from the grid.
    long = foresight(_minutes([10.0] * 30 + [1.0] * 60 + [10.0] * 30))
    assert long.charges == 2 and long.grid_kwh < 0.05
    # Nothing is charged with no sun at all.
    assert foresight(_minutes([0.0] * 60)).charges == 0


def test_the_verdict_says_which_goal_fails() -> None:
    verdict, Figures = bench_control.verdict, bench_control.Figures
    firmware, evcc = Figures(44.87, 2.53, 13), Figures(43.23, 0.91, 19)
    assert verdict("days", firmware, evcc, Figures(44.99, 0.86, 11)).endswith(": beats both")
    assert verdict("year", firmware, evcc, Figures(44.99, 0.92, 11)).endswith(
        ": does not beat both")
