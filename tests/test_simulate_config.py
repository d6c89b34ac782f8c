"""What the config gives a replay: constant inputs of every type, and the `[simulate]` table
(the site meter and the vehicle) that the command line may override."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from evse_rules.cli import main
from evse_rules.simulate import TraceRecorder, prepare, run

TEMPO_RULES = """input pv: W
if mode is auto and tempo == "red" and not boost then stop
if mode is auto and (tempo != "red" or boost) and pv > 1 kW then start
set amps to 10 A
"""


def tempo_config(tmp_path: Path, tempo: str, boost: bool) -> Path:
    config = tmp_path / f"{tempo}-{boost}.toml"
    config.write_text(
        f'rules = ["{tmp_path / "tempo.evr"}"]\n'
        '[chargers.evse]\ndriver = "simulated"\nmode = "auto"\nmin_on = "0 s"\nmin_off = "0 s"\n'
        '[inputs.pv]\nkind = "http"\nurl = "http://meter.invalid/"\npath = "p"\nunit = "W"\n'
        f'[inputs.tempo]\nkind = "constant"\ntype = "text"\nvalue = "{tempo}"\n'
        f'[inputs.boost]\nkind = "constant"\ntype = "boolean"\n'
        f'value = {"true" if boost else "false"}\n')
    return config


def sunny_hour(tmp_path: Path) -> Path:
    data = tmp_path / "sun.csv"
    data.write_text("time,pv[W]\n" + "".join(
        f"2026-06-21T12:{minute:02d}:00,3000\n" for minute in range(60)))
    return data


@pytest.mark.parametrize(("tempo", "boost", "charges"), [
    ("blue", False, True), ("red", False, False), ("red", True, True)])
def test_text_and_boolean_constants_of_the_config_reach_the_rules(
        tmp_path: Path, tempo: str, boost: bool, charges: bool) -> None:
    rules = tmp_path / "tempo.evr"
    rules.write_text(TEMPO_RULES)
    setup = prepare([rules], sunny_hour(tmp_path), tempo_config(tmp_path, tempo, boost))
    trace = tmp_path / "t.csv"
    recorder = TraceRecorder(trace, setup)
    result = run(setup, recorder)
    recorder.finish()
    assert (result.ev > 0) is charges, result.ev
    rows = list(csv.DictReader(trace.open()))
    # The trace shows them as the rules read them, on every row.
    assert {(row["tempo"], row["boost"]) for row in rows} == {
        (tempo, "true" if boost else "false")}


def simulate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["simulate", *args])
    out, err = capsys.readouterr()
    return code, out, err
