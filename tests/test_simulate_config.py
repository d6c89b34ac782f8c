"""What the config gives a replay: constant inputs of every type, and the `[simulate]` table
(the site meter and the vehicle) that the command line may override."""

from __future__ import annotations

import csv
import json
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


# -- the [simulate] table ------------------------------------------------------------------

EXPORT_RULES = "input export: W\nset amps to 10 A\nstart\n"


def export_meter_data(tmp_path: Path) -> Path:
    data = tmp_path / "meter.csv"
    data.write_text("time,export[W]\n2026-06-21T12:00:00+00:00,2000\n"
                    "2026-06-21T12:10:00+00:00,2000\n")
    return data


def meter_config(tmp_path: Path, table: str) -> Path:
    rules = tmp_path / "r.evr"
    rules.write_text(EXPORT_RULES)
    config = tmp_path / "c.toml"
    config.write_text(f'rules = ["{rules}"]\n[chargers.evse]\ndriver = "simulated"\n'
                      f'mode = "auto"\n[simulate]\n{table}')
    return config


def test_the_config_names_the_site_meter_and_its_sign(tmp_path: Path) -> None:
    config = meter_config(tmp_path, 'meter = "export"\nmeter_sign = "export"\n')
    data = export_meter_data(tmp_path)
    setup = prepare([], data, config)
    assert setup.meter is not None and setup.meter.column.name == "export"
    assert setup.meter.sign == -1.0
    result = run(setup).to_json()
    # 2.4 kW drawn, 2 kW exported before the car: 2/2.4 of the energy is solar.
    assert result["ev_from_solar_kwh"] == pytest.approx(result["ev_kwh"] * 2000 / 2400,
                                                        rel=0.01)


def test_the_command_line_overrides_the_configs_meter(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = meter_config(tmp_path, 'meter = "export"\nmeter_sign = "export"\n')
    data = export_meter_data(tmp_path)
    assert prepare([], data, config, meter="none").meter is None
    code, out, err = simulate(capsys, "--config", str(config), "--data", str(data),
                              "--meter", "none", "--json")
    assert code == 0, err
    assert json.loads(out)["ev_from_solar_kwh"] == 0     # no meter: no sun to count
    code, out, err = simulate(capsys, "--config", str(config), "--data", str(data), "--json")
    assert code == 0, err
    assert json.loads(out)["ev_from_solar_kwh"] > 0


def test_a_configs_meter_missing_from_the_data_is_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = meter_config(tmp_path, 'meter = "site"\n')
    data = export_meter_data(tmp_path)
    code, _, err = simulate(capsys, "--config", str(config), "--data", str(data), "--json")
    assert code == 0, err
    assert "warning: " in err and "[simulate] meter = 'site'" in err
    assert "the data has no column 'site'" in err and "replayed without a meter" in err


def test_a_configs_meter_that_is_no_power_is_refused_naming_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = meter_config(tmp_path, 'meter = "current"\n')
    data = tmp_path / "d.csv"
    data.write_text("time,export[W],current[A]\n2026-06-21T12:00:00+00:00,1,1\n")
    code, out, err = simulate(capsys, "--config", str(config), "--data", str(data))
    assert code == 1 and out == ""
    assert "[simulate] meter = 'current'" in err and "is not a power" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("table", "key", "says"), [
    ('metre = "grid"\n', "simulate.metre", "unknown key"),
    ('meter_sign = "both"\n', "simulate.meter_sign", "import"),
    ('meter = "grid:export"\n', "simulate.meter", "meter_sign"),
    ('meter = ""\n', "simulate.meter", ""),
])
def test_a_bad_simulate_table_is_an_error_naming_the_key(
        tmp_path: Path, table: str, key: str, says: str) -> None:
    from evse_rules.config import ConfigErrors, load_config

    config = meter_config(tmp_path, table)
    with pytest.raises(ConfigErrors) as caught:
        load_config(config)
    text = str(caught.value)
    assert key in text and says in text, text


def test_the_configs_meter_none_replays_a_grid_column_as_it_is(tmp_path: Path) -> None:
    data = tmp_path / "grid.csv"
    data.write_text("time,grid[W]\n2026-06-21T12:00:00+00:00,-2000\n"
                    "2026-06-21T12:10:00+00:00,-2000\n")
    rules = tmp_path / "r.evr"
    rules.write_text("input grid: W\nset amps to 10 A\nstart\n")
    config = tmp_path / "c.toml"
    config.write_text(f'rules = ["{rules}"]\n[chargers.evse]\ndriver = "simulated"\n'
                      'mode = "auto"\n[simulate]\nmeter = "none"\n')
    assert prepare([rules], data).meter is not None     # a grid column is the meter...
    assert prepare([], data, config).meter is None      # ...unless the config says none
