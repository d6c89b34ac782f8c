"""The replay in closed loop: a grid meter recorded without the car, a vehicle that fills,
a person's actions at given times, log lines, and no silent zero."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from evse_rules.cli import main
from evse_rules.errors import DataError
from evse_rules.simulate import prepare, run
from evse_rules.simulate.events import parse_event, read_events
from evse_rules.simulate.setup import Vehicle

ROOT = Path(__file__).resolve().parent.parent
SOLAR = str(ROOT / "rules" / "solar_surplus.evr")
CLOUDY = str(ROOT / "data" / "cloudy-day.csv")
CLOUDY_GRID = str(ROOT / "data" / "cloudy-day-grid.csv")
EXAMPLE = str(ROOT / "evse-rules.example.toml")


def simulate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["simulate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def figures(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = simulate(capsys, *args, "--json")
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


def grid_rules(tmp_path: Path) -> str:
    """rules/solar_surplus.evr written on a grid meter: the same rules, the surplus read as
    the charger's own power plus the export (`power - grid`) instead of `pv - house`."""
    text = Path(SOLAR).read_text()
    assert "input pv: W" in text and "let surplus = pv - house" in text
    lines = []
    for line in text.splitlines():
        if line.startswith("input pv:"):
            line = "input grid: W   # the grid meter, import positive"
        elif line.startswith("input house:"):
            continue
        lines.append(line)
    written = "\n".join(lines).replace("let surplus = pv - house", "let surplus = power - grid")
    path = tmp_path / "solar_grid.evr"
    path.write_text(written + "\n")
    return str(path)


# -- closed-loop meters ------------------------------------------------------------------

def test_bundled_grid_day_is_house_minus_pv_of_the_cloudy_day() -> None:
    with open(CLOUDY) as a, open(CLOUDY_GRID) as b:
        days = list(csv.reader(a))[1:], list(csv.reader(b))[1:]
    assert len(days[0]) == len(days[1]) == 1440
    for (stamp, pv, house), (when, grid) in zip(*days, strict=True):
        assert stamp == when and float(grid) == float(house) - float(pv)


def test_grid_meter_replay_gives_the_same_energy_as_pv_and_house(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    on_pv = figures(capsys, SOLAR, "--data", CLOUDY)
    on_grid = figures(capsys, grid_rules(tmp_path), "--data", CLOUDY_GRID)
    for key in ("ev_kwh", "ev_from_solar_kwh"):
        assert on_grid[key] == pytest.approx(on_pv[key], rel=0.02), key
    assert on_grid["ev_from_grid_kwh"] == pytest.approx(on_pv["ev_from_grid_kwh"], abs=0.1)
    assert on_pv["ev_kwh"] > 5     # a real charge, not two zeros that agree


def test_grid_meter_replayed_open_loop_runs_the_current_away(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # What the replay did before it knew meters: the rules never see the car on the meter,
    # so the current climbs to the maximum and the car charges from the grid.
    closed = figures(capsys, grid_rules(tmp_path), "--data", CLOUDY_GRID)
    opened = figures(capsys, grid_rules(tmp_path), "--data", CLOUDY_GRID, "--meter", "none")
    assert opened["ev_from_grid_kwh"] > 5 * closed["ev_from_grid_kwh"]


def test_rules_see_the_meter_with_the_car_power_added(tmp_path: Path) -> None:
    data = tmp_path / "grid.csv"
    data.write_text("time,grid[W]\n2026-06-21T12:00:00+00:00,-3000\n"
                    "2026-06-21T12:10:00+00:00,-3000\n")
    rules = tmp_path / "r.evr"
    rules.write_text("input grid: W\nset amps to 10 A\nstart\n")
    trace = tmp_path / "trace.csv"
    from evse_rules.simulate import TraceRecorder

    setup = prepare([rules], data)
    recorder = TraceRecorder(trace, setup)
    result = run(setup, recorder)
    recorder.finish()
    rows = list(csv.DictReader(trace.open()))
    # Tick 0 reads the meter before the car draws; from then on 10 A x 240 V is on it.
    assert float(rows[0]["grid[W]"]) == -3000
    assert {float(row["grid[W]"]) for row in rows[2:]} == {-3000 + 2400}
    # The accounting: the car's 2.4 kW all come from the 3 kW export.
    assert result.to_json()["ev_from_grid_kwh"] == 0


def test_an_export_positive_meter_and_a_named_column(tmp_path: Path) -> None:
    data = tmp_path / "meter.csv"
    data.write_text("time,export[W]\n2026-06-21T12:00:00+00:00,2000\n"
                    "2026-06-21T12:10:00+00:00,2000\n")
    rules = tmp_path / "r.evr"
    rules.write_text("input export: W\nset amps to 10 A\nstart\n")
    result = run(prepare([rules], data, meter="export:export")).to_json()
    ev, solar = result["ev_kwh"], result["ev_from_solar_kwh"]
    # 2.4 kW drawn, 2 kW exported before the car: 2/2.4 of the energy is solar.
    assert solar == pytest.approx(ev * 2000 / 2400, rel=0.01)


def test_a_meter_that_is_no_power_or_no_column_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("time,pv[W],grid[A]\n2026-06-21T12:00:00+00:00,1,1\n")
    rules = tmp_path / "r.evr"
    rules.write_text("input pv: W\nstart\n")
    with pytest.raises(DataError, match=r"--meter grid: column 'grid\[A\]' is not a power"):
        prepare([rules], data, meter="grid")
    with pytest.raises(DataError, match="--meter site: the data has no column 'site'"):
        prepare([rules], data, meter="site")
    with pytest.raises(DataError, match=r"the sign is import .* or export"):
        prepare([rules], data, meter="pv:both")


# -- a vehicle that fills ----------------------------------------------------------------

def always_on(tmp_path: Path, extra: str = "") -> str:
    rules = tmp_path / "on.evr"
    rules.write_text("set amps to 32 A\nstart\n" + extra)
    return str(rules)


def test_a_40_kwh_car_at_50_percent_stops_drawing_after_20_kwh(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = figures(capsys, always_on(tmp_path), "--data", CLOUDY, "--battery", "40kWh",
                     "--soc", "50%")
    assert result["ev_kwh"] == pytest.approx(20.0, abs=0.01)
    # Without a battery the same day charges all day long.
    endless = figures(capsys, always_on(tmp_path), "--data", CLOUDY)
    assert endless["ev_kwh"] > 150


def test_a_full_car_is_connected_not_charging(tmp_path: Path) -> None:
    setup = prepare([always_on(tmp_path)], CLOUDY, vehicle=Vehicle(40_000.0, 99.0))
    run(setup)
    charger = setup.chargers["evse"]
    assert charger.soc == 100.0 and charger.power == 0.0
    assert charger.read_status().state.value == "connected"
    assert charger.enabled          # still started: the car stopped asking


def test_a_rule_on_soc_stops_at_80_percent(tmp_path: Path) -> None:
    rules = tmp_path / "soc.evr"
    rules.write_text("if soc < 80 % then start\nif soc >= 80 % then stop\nset amps to 16 A\n")
    setup = prepare([rules], CLOUDY, vehicle=Vehicle(40_000.0, 50.0))
    result = run(setup).to_json()
    charger = setup.chargers["evse"]
    # 30 % of 40 kWh, within one tick of 16 A x 240 V (64 Wh, 0.16 %).
    assert 80.0 <= charger.soc <= 80.2
    assert result["ev_kwh"] == pytest.approx(12.0, abs=0.07)
    assert result["charges"] == 1


def test_soc_is_unknown_without_a_battery(tmp_path: Path) -> None:
    rules = tmp_path / "soc.evr"
    rules.write_text("if not known(soc) then log \"no soc\"\n")
    result = run(prepare([rules], CLOUDY)).to_json()
    assert result["logs"] == 1440


def test_config_keys_battery_and_soc(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'rules = ["{always_on(tmp_path)}"]\n[chargers.garage]\n'
                      'driver = "simulated"\nmode = "auto"\nbattery = "10 kWh"\n'
                      'soc = "90 %"\n')
    result = run(prepare([], CLOUDY, config)).to_json()
    assert result["ev_kwh"] == pytest.approx(1.0, abs=0.01)


def test_a_vehicle_column_plugs_and_unplugs_with_its_soc(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("time,pv[W],vehicle,soc[%]\n"
                    "2026-06-21T08:00:00+00:00,0,1,90\n"
                    "2026-06-21T10:00:00+00:00,0,0,\n"
                    "2026-06-21T12:00:00+00:00,0,1,70\n"
                    "2026-06-21T16:00:00+00:00,0,1,\n")
    rules = tmp_path / "r.evr"
    rules.write_text("input pv: W\nset amps to 10 A\nstart\n")
    result = run(prepare([rules], data, vehicle=Vehicle(10_000.0, 50.0))).to_json()
    # 1 kWh to fill from 90 %, then 3 kWh from 70 %.
    assert result["ev_kwh"] == pytest.approx(4.0, abs=0.01)
    assert result["charges"] == 2


# -- a person's actions, log lines -------------------------------------------------------

def test_manual_at_noon_stops_the_auto_rules(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace.csv"
    code, out, err = simulate(capsys, SOLAR, "--data", CLOUDY, "--at", "12:00",
                              "mode=manual", "--trace", str(trace), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["hand"] == {"start": 0, "stop": 0, "amps": 0, "mode": 1, "variable": 0}
    assert result["events"] == [{"time": "2025-06-08T12:00:00-05:00", "kind": "hand",
                                 "text": "by hand: evse: mode=manual, mode auto -> manual"}]
    rows = list(csv.DictReader(trace.open()))
    noon = next(i for i, row in enumerate(rows) if row["time"].startswith("2025-06-08T12:00"))
    assert rows[noon]["events"] == "by hand: evse: mode=manual, mode auto -> manual"
    # Nothing changes after noon: the rules all test `mode is auto`.
    after = {(row["state"], row["amps"]) for row in rows[noon:]}
    assert len(after) == 1
    before = {(row["state"], row["amps"]) for row in rows[:noon]}
    assert len(before) > 1
    # Nothing sent after noon: the commands are those of the morning alone.
    lines = Path(CLOUDY).read_text().splitlines()
    morning = tmp_path / "morning.csv"
    morning.write_text("\n".join([lines[0], *(line for line in lines[1:]
                                               if int(line[11:13]) < 12)]) + "\n")
    before_noon = figures(capsys, SOLAR, "--data", str(morning))
    assert before_noon["ticks"] == 720
    assert result["commands"] == before_noon["commands"]
    assert sum(result["commands"].values()) > 0
    whole = figures(capsys, SOLAR, "--data", CLOUDY)
    assert sum(result["commands"].values()) < sum(whole["commands"].values())


def test_a_hand_stop_is_not_held_by_min_on_and_switches_to_manual(tmp_path: Path) -> None:
    setup = prepare([always_on(tmp_path)], CLOUDY,
                    events=[parse_event("12:00", "evse.stop", "--at")])
    result = run(setup).to_json()
    assert result["hand"]["stop"] == 1
    # Started at 00:00 and never stopped before noon; stopped by hand at once, and the
    # rules (which do not test the mode) start it again at the next tick: min_off holds
    # a rule's start, not a person's stop.
    assert result["commands"]["stop"] == 1
    assert result["events"][0]["text"] == "by hand: evse: stop, mode auto -> manual"


def test_a_variable_set_at_19_30_reaches_the_rules(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "boost.evr"
    rules.write_text('var boost: boolean = false\nif boost then start\n'
                     'set amps to 32 A\non change of boost:\n'
                     '    if boost then log "boost on"\n')
    result = figures(capsys, str(rules), "--data", CLOUDY, "--at", "19:30", "boost=true")
    assert result["hand"]["variable"] == 1
    kinds = [(event["kind"], event["time"][11:16], event["text"])
             for event in result["events"]]
    assert kinds[0] == ("hand", "19:30", "by hand: boost = true")
    assert kinds[1][:2] == ("log", "19:30") and kinds[1][2].endswith("boost on")
    assert result["logs"] == 1
    # 19:30 to 23:59 at 32 A x 240 V.
    assert result["ev_kwh"] == pytest.approx(4.5 * 7.68, abs=0.2)


def test_log_lines_and_rule_mode_changes_in_table_json_and_trace(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "log.evr"
    rules.write_text('input pv: W\non change of pv:\n'
                     '    if pv > 3000 W then log "sunny: {pv}"\n'
                     'at 18:00:\n    set mode to manual\n')
    trace = tmp_path / "t.csv"
    code, out, err = simulate(capsys, str(rules), "--data", CLOUDY, "--trace", str(trace))
    assert code == 0, err
    assert "events (" in out and "sunny: " in out and "more (--json or --trace" in out
    rows = list(csv.DictReader(trace.open()))
    assert [row["time"][11:16] for row in rows if "mode auto -> manual" in row["events"]] \
        == ["18:00"]
    logged = [row["events"] for row in rows if "sunny" in row["events"]]
    result = figures(capsys, str(rules), "--data", CLOUDY)
    assert result["logs"] == len(logged) > 0
    assert [e["kind"] for e in result["events"]].count("mode") == 1


def test_events_file_and_its_errors(tmp_path: Path) -> None:
    events = tmp_path / "events.txt"
    events.write_text("# what a person does\n12:00 mode=manual\n\n"
                      "2025-06-08T19:30 evse.amps=16\n")
    specs = read_events(events)
    assert [spec.text() for spec in specs] == ["mode=manual", "evse.amps=16"]
    result = run(prepare([always_on(tmp_path)], CLOUDY, events=specs)).to_json()
    assert result["hand"]["mode"] == 1 and result["hand"]["amps"] == 1
    events.write_text("12:00\n")
    with pytest.raises(DataError, match=r"events.txt:1: error: write a time and an action"):
        read_events(events)
    with pytest.raises(DataError, match="not a time"):
        parse_event("noon", "stop", "--at")
    with pytest.raises(DataError, match="amps needs a value"):
        parse_event("12:00", "amps", "--at")
    with pytest.raises(DataError, match="no charger named 'garage'"):
        prepare([always_on(tmp_path)], CLOUDY,
                events=[parse_event("12:00", "garage.stop", "--at")])
    with pytest.raises(DataError, match="the rules declare no variable 'boost'"):
        prepare([always_on(tmp_path)], CLOUDY,
                events=[parse_event("12:00", "boost=true", "--at")])


def test_a_refused_hand_value_is_an_event_not_a_crash(tmp_path: Path) -> None:
    result = run(prepare([always_on(tmp_path)], CLOUDY,
                         events=[parse_event("12:00", "amps=40", "--at")])).to_json()
    assert result["hand"]["amps"] == 0
    assert "refused" in result["events"][0]["text"]
    assert "above its maximum of 32 A" in result["events"][0]["text"]


# -- no silent zero ----------------------------------------------------------------------

def test_example_config_over_five_minute_data_warns_of_stale_pv(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = Path(CLOUDY).read_text().splitlines()
    data = tmp_path / "five.csv"
    data.write_text("\n".join([rows[0], *rows[1::5]]) + "\n")
    code, _, err = simulate(capsys, "--config", EXAMPLE, "--data", str(data))
    assert code == 0, err
    assert (f"warning: inputs.pv.stale_after is 2 min but {data} has rows 5 min apart "
            "(287 gaps, lines 2-289): pv is stale between rows") in err
    assert "stayed in manual mode" in err


def test_a_charger_that_never_charged_says_which_guard_held_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.csv"
    data.write_text("time,pv[W],vehicle\n2026-06-21T12:00:00+00:00,3000,0\n"
                    "2026-06-21T13:00:00+00:00,3000,0\n")
    rules = tmp_path / "r.evr"
    rules.write_text("input pv: W\nif pv > 1000 W then start\n")
    code, _, err = simulate(capsys, str(rules), "--data", str(data))
    assert code == 0
    assert ("warning: charger evse never charged although the rules asked it to start 61 "
            "times: held back by no_vehicle 61 times") in err
    result = figures(capsys, str(rules), "--data", str(data))
    assert result["warnings"] == [err.split(": ", 1)[1].strip()]


def test_no_warning_for_a_regular_replay(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = simulate(capsys, SOLAR, "--data", CLOUDY)
    assert code == 0 and err == ""


def test_simulation_guide_documents_every_option_column_and_warning() -> None:
    from tests.test_cli_docs import _commands

    guide = (ROOT / "docs" / "simulation.md").read_text()
    options = {option for action in _commands()["simulate"]._actions
               for option in action.option_strings if option.startswith("--")}
    options -= {"--help", "--verbose", "--version"}    # common to every command
    assert sorted(option for option in options if option not in guide) == []
    for example in ("--at 12:00 mode=manual", "--at 19:30 boost=true", "garage.stop",
                    "--battery 40kWh --soc 50%", "--meter NAME:export", "time,grid[W]",
                    "`soc[%]`", "`vehicle`", "battery = \"40 kWh\"", "soc = \"50 %\"",
                    "inputs.pv.stale_after is 2 min", "never charged although the rules asked",
                    "stayed in manual mode", "\"hand\": {", "`events`"):
        assert example in guide, example


def test_a_soc_column_before_the_vehicle_column_still_sets_the_plugged_car(
        tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("time,soc[%],vehicle\n"
                    "2026-06-21T08:00:00+00:00,,0\n"
                    "2026-06-21T09:00:00+00:00,95,1\n"
                    "2026-06-21T12:00:00+00:00,,1\n")
    result = run(prepare([always_on(tmp_path)], data, vehicle=Vehicle(10_000.0, 20.0)))
    assert result.to_json()["ev_kwh"] == pytest.approx(0.5, abs=0.01)   # 95 % to 100 %


def test_an_event_outside_the_data_is_a_warning(tmp_path: Path) -> None:
    setup = prepare([always_on(tmp_path)], CLOUDY,
                    events=[parse_event("2024-01-01T12:00", "stop", "--at")])
    assert setup.warnings == [
        "--at: warning: stop at 2024-01-01 12:00:00 is outside the data "
        "(2025-06-08T00:00:00-05:00 to 2025-06-08T23:59:00-05:00): it never happens"]
