"""The benchmark scripts run, small, and their cross-checks hold.

The figures themselves are for people to read (`python benchmarks/...`); no test times
anything. What is tested: each script still runs against the present code, and the replay
benchmark's hand-written loop, an independent implementation of rules/solar_surplus.evr
with the engine's guards and accounting, gives the same energy figures as the engine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def bench(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(BENCHMARKS / name), *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_replay_agrees_with_the_hand_written_loop_over_days_of_data() -> None:
    out = bench("bench_replay.py", "--days", "4", "--repeat", "1", "--no-tracemalloc")
    assert "same figures: yes" in out
    figures = re.search(r"evse-rules EV ([\d.]+) kWh, from solar ([\d.]+) kWh, (\d+) charges",
                        out)
    assert figures is not None and float(figures[1]) > 0 and int(figures[3]) > 0
    assert re.search(r"ratio evse-rules / hand-written: [\d.]+x", out)


def test_refresh_reports_the_dead_chargers_offline() -> None:
    out = bench("bench_refresh.py", "--chargers", "4", "--dead", "1", "--timeout", "0.2")
    assert re.search(r"all 4, concurrent .*\(1 offline\)", out)


def test_memory_runs_its_ticks_against_the_emulator() -> None:
    out = bench("bench_memory.py", "--ticks", "200")
    assert re.search(r"RSS at start: [\d.]+ MB; after 200 ticks: [\d.]+ MB", out)


def test_language_benchmark_runs() -> None:
    out = bench("bench_language.py")
    assert re.search(r"compiled rule: +[\d.]+ s", out)
    assert "whole Program.tick" in out


def test_api_benchmark_measures_state_commands_and_pushes() -> None:
    out = bench("bench_api.py", "--chargers", "2", "--seconds", "3", "--requests", "30")
    for label in ("GET /api/v1/state", "hand command -> charger", "push delay after a tick"):
        assert re.search(rf"{re.escape(label)}.* p50 +[\d.]+ ms +p99 +[\d.]+ ms", out), out


def test_compile_benchmark_runs() -> None:
    out = bench("bench_compile.py", "--sizes", "100,200,400", "--repeat", "1")
    assert len(re.findall(r"^ +\d+ statements: +[\d.]+ s +peak +[\d.]+ MB", out, re.M)) == 3
    assert re.search(r"time per statement at 400 vs 100: [\d.]+x", out)


def test_mqtt_benchmark_measures_messages_and_ticks_against_baselines() -> None:
    from tests.mosquitto import require

    require()
    out = bench("bench_mqtt.py", "--inputs", "10", "--chargers", "3", "--ticks", "20",
                "--seconds", "0.5", "--repeat", "1")
    assert re.search(r"10 mqtt inputs on one link: [\d,]+; bare aiomqtt subscriber "
                     r"\(baseline\): [\d,]+; ratio [\d.]+x", out), out
    for label in ("10 constant inputs (baseline)", "10 mqtt inputs",
                  "10 mqtt inputs + state out and discovery"):
        assert re.search(rf"3 simulated chargers, {re.escape(label)}: [\d.]+ ms "
                         rf"\([\d.]+x\), CPU [\d.]+ ms \([\d.]+x\)", out), out
    assert re.search(r"messages per CPU second \(capacity\), 10 mqtt inputs: [\d,]+", out), out


def test_control_benchmark_prints_the_three_controllers_per_day_and_in_total() -> None:
    out = bench("bench_control.py", "--days", "3")
    header = next(line for line in out.splitlines() if "OpenEVSE firmware" in line)
    assert "evcc PV mode" in header and "solar_surplus.evr" in header
    figures = r"( +[\d.]+ +[\d.]+ +\d+){3}$"
    for label in ("clear day", "cloudy day", "winter day", "the 3 days", "3 days"):
        assert re.search(rf"^{label} {figures}", out, re.M), label
    assert re.search(r"bundled days: solar_surplus.evr solar [\d.]+ kWh", out)



def test_site_benchmark_prints_the_cost_of_the_site_limit_per_step() -> None:
    out = bench("bench_site.py", "--chargers", "2,4", "--steps", "100", "--repeat", "1")
    for chargers in (2, 4):
        assert re.search(rf"^ +{chargers} +[\d.]+ +[\d.]+ +[\d.]+x$", out, re.M), out
