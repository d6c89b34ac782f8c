"""The replay's trace says which rule, in which block, decided each command and each action
a guard held back (the `decided` column)."""

from __future__ import annotations

import csv
from pathlib import Path

from evse_rules.simulate import TraceRecorder, prepare, run
from tests.test_coexist import day_and_night, readme_example

OFF_PEAK = "between 22:00 and 06:00"
BY_DAY = "between 06:00 and 22:00"


def trace_rows(rules: Path, data: Path, out: Path) -> list[dict[str, str]]:
    setup = prepare([rules], data)
    recorder = TraceRecorder(out, setup)
    run(setup, recorder)
    recorder.finish()
    with out.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_trace_names_the_off_peak_block_at_22_and_the_solar_block_by_day(
        tmp_path: Path) -> None:
    rules = tmp_path / "readme.evr"
    rules.write_text(readme_example())
    rows = trace_rows(rules, day_and_night(tmp_path), tmp_path / "trace.csv")
    at_22 = next(row for row in rows if row["time"][11:16] == "22:00")
    # Full power at 22:00: the start and the 32 A both come from the off-peak block.
    assert at_22["decided"].startswith("set_current 32 A <- "), at_22["decided"]
    assert "start <- " in at_22["decided"]
    assert at_22["decided"].count("in if mode is auto (readme.evr:") == 2
    assert at_22["decided"].count(OFF_PEAK) == 2 and BY_DAY not in at_22["decided"]
    # By day: every command names the rule of the solar block that asked for it.
    day = [row for row in rows if "08:00" <= row["time"][11:16] < "20:00" and row["decided"]]
    assert any(row["decided"].startswith("start <- ") for row in day)
    assert any(row["decided"].startswith("set_current ") for row in day)
    assert all(BY_DAY in row["decided"] and OFF_PEAK not in row["decided"] for row in day)
    # A current follows the surplus: its rule and the values it read are said.
    current = next(row["decided"] for row in day if row["decided"].startswith("set_current"))
    assert "set amps to surplus / voltage (surplus=" in current
    # At night nothing changes after 22:00: the rows say nothing (unchanged is not said).
    night = [row for row in rows if row["time"][11:16] in ("23:00", "03:00")]
    assert night and all(row["decided"] == "" for row in night)


def test_an_action_held_back_by_a_guard_names_its_rule_and_block(tmp_path: Path) -> None:
    rules = tmp_path / "flap.evr"
    rules.write_text("input pv: W\n"
                     "if mode is auto:\n"
                     "    if pv > 1 kW then start\n"
                     "    if pv < 1 kW then stop\n")
    data = tmp_path / "flap.csv"
    # Sun, then a cloud for a minute two minutes after the start: min_on holds the stop.
    pv = [2000, 2000, 0, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000]
    data.write_text("time,pv[W]\n" + "".join(
        f"2026-06-21T12:{minute:02d}:00,{watts}\n" for minute, watts in enumerate(pv)))
    rows = trace_rows(rules, data, tmp_path / "trace.csv")
    held = [row["decided"] for row in rows if "held back" in row["decided"]]
    assert held, [row["decided"] for row in rows]
    assert held[0].startswith("stop held back (min_on 10 min not reached"), held[0]
    assert held[0].endswith("flap.evr:4 if pv < 1 kW then stop [in if mode is auto "
                            "(flap.evr:2)]"), held[0]
