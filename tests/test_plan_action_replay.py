"""A rule's plan in a replay: `at 19:00: plan 20 kWh by 07:00` gives the schedule of the
what-if event `--at 19:00 plan=20kWh@07:00`, and a plan that runs within the day charges the
same energy at the same cost."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evse_rules.cli import main

REPO = Path(__file__).resolve().parent.parent
SOLAR = str(REPO / "rules" / "solar_surplus.evr")
DAY = ["--config", str(REPO / "data" / "plan.toml"), "--data",
       str(REPO / "data" / "winter-day.csv")]
SCHEDULE = re.compile(r"plan 20\.0 kWh by \w{3} 07:00: slots .*")


def _replay(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["simulate", *args]) == 0
    return capsys.readouterr().out


def _figures(out: str) -> list[str]:
    """The replay's energy, charges, commands and cost lines."""
    keys = ("EV energy", "from solar", "from grid", "charges ", "commands", "grid energy")
    return [line.strip() for line in out.splitlines() if line.strip().startswith(keys)]


def _at(tmp_path: Path, time: str) -> str:
    rules = tmp_path / "plan_at.evr"
    rules.write_text(f"at {time}: plan 20 kWh by 07:00\n")
    return str(rules)


def test_a_rules_plan_at_19_gives_the_schedule_of_the_what_if_event(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    by_rule = _replay([SOLAR, _at(tmp_path, "19:00"), *DAY], capsys)
    by_hand = _replay([SOLAR, *DAY, "--at", "19:00", "plan=20kWh@07:00"], capsys)
    ruled = SCHEDULE.findall(by_rule)
    assert ruled == SCHEDULE.findall(by_hand)
    assert ruled == ["plan 20.0 kWh by Fri 07:00: slots 02:23-03:00 (0.084), 03:00-04:00 "
                     "(0.078), 04:00-05:00 (0.08); expected 20.0 kWh, cost 1.60"]
    # The event names the rule that asked for the plan.
    assert f"log       {tmp_path / 'plan_at.evr'}:1: plan 20.0 kWh by Fri 07:00" in by_rule
    assert _figures(by_rule) == _figures(by_hand)


def test_a_rules_plan_charges_as_a_persons_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    by_rule = _replay([SOLAR, _at(tmp_path, "00:30"), *DAY], capsys)
    by_hand = _replay([SOLAR, *DAY, "--at", "00:30", "plan=20kWh@07:00"], capsys)
    assert SCHEDULE.findall(by_rule) == SCHEDULE.findall(by_hand) != []
    assert "plan: 20.0 kWh by Thu 07:00 met: 20.1 kWh charged" in by_rule
    figures = _figures(by_rule)
    assert figures == _figures(by_hand)
    assert len(figures) == 6, figures
