"""A charge plan in a replay: `--at 19:00 plan=10kWh@07:00` runs through the engine's hand
path, and the replay prints the schedule and the plan's outcome."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from evse_rules.cli import main

REPO = Path(__file__).resolve().parent.parent


def _night(tmp_path: Path) -> list[str]:
    rows = ["time,pv[W],house[W]"]
    at = datetime(2026, 1, 12, 18, 0)
    while at <= datetime(2026, 1, 13, 9, 0):
        rows.append(f"{at.isoformat()}+01:00,0,300")
        at += timedelta(minutes=30)
    (tmp_path / "night.csv").write_text("\n".join(rows) + "\n")
    rules = REPO / "rules" / "solar_surplus.evr"
    return ["simulate", str(rules), "--data", str(tmp_path / "night.csv")]


def test_a_replayed_plan_charges_late_and_is_met(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_night(tmp_path), "--at", "19:00", "plan=10kWh@07:00"]) == 0
    out = capsys.readouterr().out
    # No prices: the latest 10 kWh before 07:00 at 32 A x 240 V (7.68 kW): 1 h 19 min (78.1
    # rounded up to whole minutes, from 05:41).
    assert ("by hand: evse: plan=10kWh@07:00; plan 10.0 kWh by Tue 07:00: slots "
            "05:41-06:00, 06:00-07:00; expected 10.0 kWh") in out
    assert "plan: 10.0 kWh by Tue 07:00 met: 10.1 kWh charged" in out
    assert "charges                   1  (shortest 1 h 19 min" in out


def test_a_replayed_plan_that_cannot_be_met_says_so(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_night(tmp_path), "--at", "05:00", "plan=30kWh@07:00",
                 "--at", "2026-01-13T08:00", "plan=cancel"]) == 0
    out = capsys.readouterr().out
    assert "CANNOT be met (14.6 kWh short): charging at full power until the deadline" in out
    assert "ended at its deadline: 15.4 kWh of 30.0 kWh charged" in out
    assert "plan=cancel refused: evse has no plan to cancel" in out


def test_a_plan_event_needs_its_value(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_night(tmp_path), "--at", "19:00", "plan"]) != 0
    assert "plan needs a value (like plan=20kWh@07:00)" in capsys.readouterr().err


def test_the_documented_example_chooses_the_cheapest_night_hours(
        capsys: pytest.CaptureFixture[str]) -> None:
    # docs/plans.md: 20 kWh by 07:00 over the bundled day-ahead prices at 7.68 kW. By hand:
    # 04:00 (0.079) and 03:00 (0.081) whole, 4.64 kWh of 02:00 (0.087) in its last 37 min;
    # 7.68 x 0.079 + 7.68 x 0.081 + 4.64 x 0.087 = 1.63.
    assert main(["simulate", "--config", str(REPO / "data" / "plan.toml"),
                 "--data", str(REPO / "data" / "winter-day.csv"),
                 "--at", "2025-12-18T00:00", "plan=20kWh@07:00"]) == 0
    out = capsys.readouterr().out
    assert ("plan 20.0 kWh by Thu 07:00: slots 02:23-03:00 (0.087), 03:00-04:00 (0.081), "
            "04:00-05:00 (0.079); expected 20.0 kWh, cost 1.63") in out
    assert "2025-12-18T05:00:00-05:00  log       plan: 20.0 kWh by Thu 07:00 met: " \
        "20.1 kWh charged" in out


def test_the_plans_benchmark_runs() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_plans.py"),
                           "--steps", "300", "--repeat", "1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "672 slots of 15 min over 7 day(s)" in done.stdout
    assert "with a plan" in done.stdout
