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
    assert "plan: plan 10.0 kWh by Tue 07:00 met: 10.1 kWh charged" in out
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
