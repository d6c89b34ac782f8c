"""`evse-rules simulate` as users run it: the README's command, --json, --trace, errors."""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import pytest

from evse_rules.cli import main
from evse_rules.simulate.outputs import PlotRecorder

ROOT = Path(__file__).resolve().parent.parent
SOLAR = str(ROOT / "rules" / "solar_surplus.evr")
NAIVE = str(ROOT / "rules" / "naive_surplus.evr")
CLOUDY = str(ROOT / "data" / "cloudy-day.csv")
JSON_KEYS = ["ticks", "start", "end", "solar_kwh", "ev_kwh", "ev_from_solar_kwh",
             "ev_from_grid_kwh", "charges", "charge_time_s", "commands", "rules", "chargers",
             "hand", "logs", "events", "warnings"]


def simulate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["simulate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_readme_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = simulate(capsys, SOLAR, "--data", CLOUDY)
    assert code == 0, err
    for label in ("solar energy", "EV energy", "from solar", "from grid", "charges",
                  "solar_surplus.evr:"):
        assert label in out


def test_json_has_the_design_keys_and_is_byte_identical(
        capsys: pytest.CaptureFixture[str]) -> None:
    _, first, _ = simulate(capsys, SOLAR, "--data", CLOUDY, "--json")
    _, second, _ = simulate(capsys, SOLAR, "--data", CLOUDY, "--json")
    assert first == second
    result = json.loads(first)
    assert list(result) == JSON_KEYS
    assert result["ticks"] == 1440
    assert list(result["chargers"]) == ["evse"]
    assert set(result["chargers"]["evse"]) == {"ev_kwh", "ev_from_solar_kwh",
                                              "ev_from_grid_kwh", "charges",
                                              "charge_time_s", "commands"}
    assert result["ev_kwh"] == pytest.approx(result["ev_from_solar_kwh"]
                                             + result["ev_from_grid_kwh"], abs=0.002)


def test_solar_rules_charge_most_of_the_surplus_with_few_cycles(
        capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = simulate(capsys, SOLAR, "--data", CLOUDY, "--json")
    solar = json.loads(out)
    _, out, _ = simulate(capsys, NAIVE, "--data", CLOUDY, "--json", "--config",
                         str(ROOT / "data" / "no-guards.toml"))
    naive = json.loads(out)
    # The naive rule flaps with every cloud (no guards); the solar rules keep most of its
    # solar energy with a quarter of its contactor closings.
    assert solar["charges"] * 4 <= naive["charges"] and naive["charges"] >= 20
    assert solar["ev_from_solar_kwh"] > 0.85 * naive["ev_from_solar_kwh"]


def test_defaults_without_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # One charger `evse`, 240 V, a vehicle, mode auto: `start` then 10 A for 3 minutes.
    rules = tmp_path / "r.evr"
    rules.write_text("if mode is auto then set amps to 10 A, start\n")
    data = tmp_path / "d.csv"
    data.write_text("time,pv[W]\n2026-06-21T12:00:00,0\n2026-06-21T12:02:00,0\n")
    code, out, err = simulate(capsys, str(rules), "--data", str(data), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["ev_kwh"] == pytest.approx(10 * 240 * 180 / 3.6e6, abs=5e-4)
    assert list(result["chargers"]) == ["evse"]


def test_trace_has_a_row_per_tick_and_charger(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace.csv"
    code, _, err = simulate(capsys, SOLAR, "--data", CLOUDY, "--trace", str(trace))
    assert code == 0, err
    with trace.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["time", "charger", "state", "amps", "power_w", "pv[W]", "house[W]",
                       "surplus", "surplus_amps", "sun", "events", "decided"]
    assert len(rows) == 1 + 1440
    assert rows[1][:2] == ["2025-06-08T00:00:00-05:00", "evse"]


def test_bad_row_names_file_and_line_and_prints_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("time,pv[W],house[W]\n2026-06-21T12:00:00,1,2\n2026-06-21T12:01:00,x,2\n")
    trace = tmp_path / "trace.csv"
    code, out, err = simulate(capsys, SOLAR, "--data", str(data), "--trace", str(trace))
    assert code == 1 and out == "" and not trace.exists()
    assert err.startswith(f"{data}:3: error: column 'pv': 'x' is not a number")


def test_missing_input_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "pv.csv"
    data.write_text("time,pv[W]\n2026-06-21T12:00:00,1\n")
    code, out, err = simulate(capsys, SOLAR, "--data", str(data))
    assert code == 1 and out == ""
    assert "the rules read input 'house' but the data has no column 'house'" in err


def test_plot_without_matplotlib_says_what_to_install(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # `import matplotlib` fails
    code, out, err = simulate(capsys, SOLAR, "--data", CLOUDY, "--plot", str(tmp_path / "p.png"))
    assert code == 2 and out == ""
    assert "pip install 'evse-rules[plot]'" in err
    assert not (tmp_path / "p.png").exists()


def test_plot_is_written_where_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _need_matplotlib()
    code, _, err = simulate(capsys, SOLAR, "--data", CLOUDY, "--plot", str(tmp_path / "p.png"))
    assert code == 0, err
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")
    # A name without a suffix is kept as given (matplotlib alone would add '.png').
    data = tmp_path / "short.csv"
    data.write_text("time,pv[W],house[W]\n2026-06-21T12:00:00,3000,300\n"
                    "2026-06-21T12:10:00,3000,300\n")
    code, _, err = simulate(capsys, SOLAR, "--data", str(data), "--plot", str(tmp_path / "plot"))
    assert code == 0, err
    assert (tmp_path / "plot").read_bytes().startswith(b"\x89PNG")
    assert not (tmp_path / "plot.png").exists()


@pytest.mark.parametrize("option", ["--trace", "--plot"])
def test_an_output_that_is_a_directory_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str) -> None:
    if option == "--plot":
        _need_matplotlib()
    code, out, err = simulate(capsys, SOLAR, "--data", CLOUDY, option, str(tmp_path))
    assert code == 1 and out == ""
    assert err.startswith(f"{tmp_path}: error: cannot write the ")
    assert err.rstrip().endswith("it is a directory")
    assert [p.name for p in tmp_path.iterdir()] == []     # no temporary file left behind


def test_config_gives_chargers_tick_and_constant_inputs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.evr").write_text(
        "if garage.mode is auto then start garage, set amps of garage to 10 A\n"
        "if carport.mode is auto then start carport, set amps of carport to 16 A\n")
    (tmp_path / "c.toml").write_text(
        'tick = "30 s"\nrules = ["r.evr"]\n'
        '[chargers.garage]\ndriver = "simulated"\nvoltage = "grid"\nmode = "auto"\n'
        'min_on = "0 s"\nmin_off = "0 s"\n'
        '[chargers.carport]\ndriver = "simulated"\nmode = "manual"\n'
        '[inputs.grid]\nkind = "constant"\nvalue = "230 V"\n')
    data = tmp_path / "d.csv"
    data.write_text("time,pv[W]\n2026-06-21T12:00:00,3000\n2026-06-21T12:01:00,3000\n")
    code, out, err = simulate(capsys, "--config", str(tmp_path / "c.toml"), "--data",
                              str(data), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["ticks"] == 3                       # 12:00, 12:00:30, 12:01
    garage, carport = result["chargers"]["garage"], result["chargers"]["carport"]
    assert garage["commands"] == {"start": 1, "stop": 0, "set_current": 1, "set_voltage": 1}
    assert carport["ev_kwh"] == 0                     # manual: its rule does not fire
    # 10 A at the 230 V reference for 90 s, all of it from the 3 kW of sun.
    assert garage["ev_kwh"] == pytest.approx(10 * 230 * 90 / 3.6e6, abs=1e-3)
    assert garage["ev_from_solar_kwh"] == garage["ev_kwh"]


def test_a_gap_in_the_data_makes_a_configured_input_stale(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.evr").write_text("if pv > 1000 W then start else stop\n")
    (tmp_path / "c.toml").write_text(
        'rules = ["r.evr"]\n[chargers.evse]\ndriver = "simulated"\nmode = "auto"\n'
        'min_on = "0 s"\nmin_off = "0 s"\n'
        '[inputs.pv]\nkind = "http"\nurl = "http://meter.local/"\npath = "pv"\nunit = "W"\n'
        'stale_after = "2 min"\n')
    rows = [f"2026-06-21T12:0{m}:00,3000" for m in range(6)] + ["2026-06-21T12:20:00,3000"]
    data = tmp_path / "d.csv"
    data.write_text("time,pv[W]\n" + "\n".join(rows) + "\n")
    code, out, err = simulate(capsys, "--config", str(tmp_path / "c.toml"), "--data",
                              str(data), "--json")
    assert code == 0, err
    result = json.loads(out)
    # Read at 12:05 for the last time before the gap: stale from 12:07, the charge stops
    # then (7 minutes of charging), and starts again with the 12:20 row.
    assert result["commands"]["stop"] == 1 and result["charges"] == 2
    assert result["charge_time_s"]["max"] == 7 * 60


def test_readme_simulation_table_is_what_the_replay_gives() -> None:
    from evse_rules.simulate import simulate as replay

    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| (clear|cloudy|winter) \| `(\w+\.evr)`(, no min on/off)? \| (.*) \|$",
                      readme, re.M)
    assert len(rows) == 9
    for day, rules, no_guards, figures in rows:
        config = ROOT / "data" / "no-guards.toml" if no_guards else None
        result = replay([ROOT / "rules" / rules], ROOT / "data" / f"{day}-day.csv", config)
        json_ = result.to_json()
        expected = [f.strip() for f in figures.split("|")]
        got = [f"{json_['solar_kwh']:.2f}", f"{result.surplus / 3.6e6:.2f}",
               f"{json_['ev_kwh']:.2f}", f"{json_['ev_from_solar_kwh']:.2f}",
               f"{json_['ev_from_grid_kwh']:.2f}", str(json_["charges"])]
        assert got == expected, f"README row {day} {rules}{no_guards}"


def test_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    import evse_rules.cli.simulate as command

    monkeypatch.setattr(command, "PROGRESS_MIN_TICKS", 100)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    code, _, err = simulate(capsys, SOLAR, "--data", CLOUDY, "--json")
    assert code == 0
    assert err.endswith("] 100% 1440/1440 ticks\n")


def test_without_config_the_chargers_a_file_declares_are_simulated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.csv"
    data.write_text("time,pv[W],house[W]\n2026-06-01T12:00:00,9000,0\n"
                    "2026-06-01T12:30:00,9000,0\n")
    rules = tmp_path / "two.evr"
    rules.write_text("charger garage, carport\ninput pv: W\n"
                     "if pv > 1 kW then start garage, start carport\n")
    assert main(["simulate", str(rules), "--data", str(data), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert sorted(figures["chargers"]) == ["carport", "garage"]
    assert all(c["charges"] == 1 for c in figures["chargers"].values())


def _plot_recorder(ticks: int) -> PlotRecorder:
    """A plot recorder over `ticks` one-minute ticks whose PV is the tick's number."""
    from datetime import UTC, datetime, timedelta

    from evse_rules.simulate import prepare

    recorder = PlotRecorder(prepare([SOLAR], CLOUDY))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    recorder.times = [start + timedelta(minutes=k) for k in range(ticks)]
    for k in range(ticks):
        recorder.pv.append(float(k))
        recorder.house.append(100.0)
        recorder.ev.append(1440.0 if k % 2 else 0.0)
        recorder.amps.append(6.0 if k % 2 else 0.0)
    return recorder


def test_a_day_of_minutes_is_plotted_as_it_is() -> None:
    points = _plot_recorder(1440).series()
    assert points.means is None and len(points.times) == 1440 and points.pv[7] == 7.0


@pytest.mark.parametrize(("days", "means", "size"), [
    (2, "5 min", 5), (7, "15 min", 15), (30, "30 min", 30), (62, "1 h", 60),
    (365, "1 day", 1440),
])
def test_a_long_replay_is_plotted_as_means_over_buckets(days: int, means: str,
                                                        size: int) -> None:
    recorder = _plot_recorder(days * 1440)
    points = recorder.series()
    assert points.means == means and len(points.times) == days * 1440 // size <= 1500
    assert points.times[1] == recorder.times[size]
    assert points.pv[1] == sum(range(size, 2 * size)) / size       # the mean of its ticks
    odd = sum(k % 2 for k in range(2 * size, 3 * size)) / size     # charging half the ticks
    assert points.house[3] == 100.0 and points.ev[2] == pytest.approx(1440.0 * odd)
    assert points.amps[2] == pytest.approx(6.0 * odd)


def test_a_constant_input_of_the_config_is_traced_and_counted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from evse_rules.simulate import simulate as replay

    data = tmp_path / "d.csv"
    data.write_text("time,pv[W]\n2026-06-21T12:00:00,3000\n2026-06-21T12:01:00,2000\n")
    config = tmp_path / "c.toml"
    config.write_text(f'rules = ["{SOLAR}"]\n[chargers.evse]\ndriver = "simulated"\n'
                      '[inputs.pv]\nkind = "http"\nurl = "http://meter.invalid/"\npath = "p"\n'
                      'unit = "W"\n[inputs.house]\nkind = "constant"\nvalue = "0.5 kW"\n')
    trace = tmp_path / "t.csv"
    code, _, err = simulate(capsys, "--config", str(config), "--data", str(data),
                            "--trace", str(trace))
    assert code == 0, err
    rows = list(csv.DictReader(trace.open()))
    assert [(r["pv[W]"], r["house[W]"], r["surplus"]) for r in rows] == [
        ("3000", "500", "2500"), ("2000", "500", "1500")]
    # The sun beyond the house: (3000 - 500) + (2000 - 500) W for a minute each.
    assert replay([], data, config).surplus == pytest.approx((2500 + 1500) * 60)


# -- the replay's bounds ------------------------------------------------------------------

SUN = "input pv: W\nif mode is auto and pv > 1400 W then start\n"


def _replay(tmp_path: Path, rows: str) -> tuple[str, str]:
    rules = tmp_path / "r.evr"
    rules.write_text(SUN)
    data = tmp_path / "d.csv"
    data.write_text("time,pv[W],house[W]\n" + rows)
    return str(rules), str(data)


def test_a_replay_of_decades_is_refused_with_the_rows_and_span(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two rows 56 years apart (a typo in a year): 29 million ticks, refused before the first.
    rules, data = _replay(tmp_path, "1970-01-01T00:00:00+00:00,100,0\n"
                                    "2026-01-01T00:00:00+00:00,200,0\n")
    code, out, err = simulate(capsys, rules, "--data", data, "--json")
    assert (code, out) == (1, "")
    assert err == (f"{data}: error: the replay would be 29,453,761 ticks (56.0 years from line "
                   "2 (1970-01-01T00:00+00:00) to line 3 (2026-01-01T00:00+00:00)), over the "
                   "limit of 5,000,000: check the times of those rows, or give --max-ticks "
                   "29453761 to replay it all\n")


def test_max_ticks_bounds_a_replay_both_ways(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules, data = _replay(tmp_path, "2026-06-01T00:00:00+00:00,100,0\n"
                                    "2026-06-01T01:00:00+00:00,200,0\n")
    code, _, err = simulate(capsys, rules, "--data", data, "--max-ticks", "60")
    assert code == 1 and "61 ticks" in err and "over --max-ticks of 60" in err
    code, out, err = simulate(capsys, rules, "--data", data, "--json", "--max-ticks", "61")
    assert (code, err) == (0, "") and json.loads(out)["ticks"] == 61


def test_a_long_span_and_a_gap_are_warnings_naming_the_lines(tmp_path: Path) -> None:
    from evse_rules.inputs.csv_replay import load_replay_data
    from evse_rules.simulate.bounds import check_bounds

    _, data = _replay(tmp_path, "2025-01-01T00:00:00+00:00,100,0\n"
                                "2025-01-02T00:00:00+00:00,100,0\n"
                                "2025-01-20T00:00:00+00:00,100,0\n"
                                "2026-03-01T00:00:00+00:00,200,0\n")
    # Checked on the loaded data: the same warnings the command prints before its replay.
    warnings = check_bounds(load_replay_data(data), 60.0)
    assert warnings == [
        f"{data}: warning: the replay spans 424 days from line 2 (2025-01-01T00:00+00:00) to "
        "line 5 (2026-03-01T00:00+00:00): 610,561 ticks; is a time wrong?",
        f"{data}:4: warning: 18 days without a row since line 3: the inputs keep their last "
        "values through the gap",
        f"{data}:5: warning: 405 days without a row since line 4: the inputs keep their last "
        "values through the gap"]


def test_a_short_regular_replay_says_nothing_about_its_bounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules, data = _replay(tmp_path, "2026-06-01T00:00:00+00:00,100,0\n"
                                    "2026-06-08T00:00:00+00:00,200,0\n")
    code, _, err = simulate(capsys, rules, "--data", data)
    assert (code, err) == (0, "")


def test_json_never_prints_infinity_when_an_energy_overflows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 1e308 W is a finite cell; its energy over a minute is not.
    rules, data = _replay(tmp_path, "2026-06-01T12:00:00+00:00,1e308,0\n"
                                    "2026-06-01T12:05:00+00:00,1e308,0\n")
    code, out, err = simulate(capsys, rules, "--data", data, "--json")
    assert code == 0
    assert "Infinity" not in out and "NaN" not in out
    result = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert result["solar_kwh"] is None and result["ev_kwh"] is not None
    assert err == (f"{data}: warning: too large to count, shown as null (--json) or overflow: "
                   "solar energy, surplus; the largest value is pv = 1e+308 W at line 2\n")
    code, out, _ = simulate(capsys, rules, "--data", data)
    assert code == 0 and "solar energy       overflow (too large to count)" in out


def _svg_texts(path: Path) -> list[str]:
    """The texts of a plot written as SVG (matplotlib writes each text as a comment)."""
    import re

    return re.findall(r"<!-- (.*?) -->", path.read_text())


def test_a_plot_of_grid_only_data_draws_the_meter_and_the_car(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _need_matplotlib()
    data = tmp_path / "grid.csv"
    data.write_text("time,grid[W]\n" + "".join(
        f"2026-06-21T12:{minute:02d}:00+00:00,-3000\n" for minute in range(30)))
    rules = tmp_path / "r.evr"
    rules.write_text("input grid: W\nset amps to 10 A\nstart\n")
    plot = tmp_path / "plot.svg"
    code, _, err = simulate(capsys, str(rules), "--data", str(data), "--plot", str(plot))
    assert code == 0, err
    texts = _svg_texts(plot)
    assert "grid meter with the car" in texts and "grid meter as recorded (import +)" in texts
    assert "EV" in texts
    assert "PV" not in texts and "house" not in texts     # the data gives neither
    # What is drawn: the recording (-3 kW) and the meter with the car's 2.4 kW on it.
    from evse_rules.simulate import prepare, run

    setup = prepare([rules], data)
    recorder = PlotRecorder(setup)
    run(setup, recorder)
    points = recorder.series()
    assert set(points.grid[2:]) == {-3000.0 + 2400.0} and points.grid[0] == -3000.0
    assert set(points.ev[1:]) == {2400.0}


def test_a_plot_of_pv_and_house_draws_no_meter(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _need_matplotlib()
    plot = tmp_path / "plot.svg"
    code, _, err = simulate(capsys, SOLAR, "--data", CLOUDY, "--plot", str(plot))
    assert code == 0, err
    texts = _svg_texts(plot)
    assert "PV" in texts and "house" in texts and "EV" in texts
    assert not any("meter" in text for text in texts)


def _need_matplotlib() -> None:
    """Skip the plot tests without matplotlib on a workstation; in CI (CI=true) it is a
    dependency of the dev extras, and its absence is a failure."""
    import importlib.util
    import os

    if importlib.util.find_spec("matplotlib") is not None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail("matplotlib is missing (pip install -e '.[dev]')")
    pytest.skip("matplotlib is not installed")
