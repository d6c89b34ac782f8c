"""Tariffs in a replay: a price column or the config's price input feeds the same series as
live, and `simulate` says what the charging cost and what it saved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evse_rules.cli import main
from evse_rules.prices import PriceSlot
from evse_rules.simulate.replay import run
from evse_rules.simulate.setup import prepare

ROOT = Path(__file__).resolve().parent.parent
WINTER = ROOT / "data" / "winter-day.csv"
TARIFF = ROOT / "data" / "tariff.toml"
CHEAPEST = ROOT / "rules" / "cheapest_hours.evr"


def simulate_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code = main(["simulate", *args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


def test_the_bundled_example_charges_in_the_4_cheapest_night_hours(
        capsys: pytest.CaptureFixture[str]) -> None:
    figures = simulate_json(capsys, "--config", str(TARIFF), "--data", str(WINTER))
    # 02:00 to 06:00 at 32 A and 240 V: 4 h x 7.68 kW, at 0.087 + 0.081 + 0.079 + 0.093.
    assert figures["ev_kwh"] == 30.72
    cost = figures["cost"]
    assert isinstance(cost, dict)
    assert cost["cost"] == pytest.approx(7.68 * 0.340, abs=1e-4)
    assert cost["average_price"] == 0.085
    # At once from midnight (the vehicle is there from the start): 00:00 to 04:00.
    assert cost["at_once_cost"] == pytest.approx(7.68 * (0.112 + 0.098 + 0.087 + 0.081),
                                                 abs=1e-4)
    assert cost["saved"] == pytest.approx(7.68 * 0.038, abs=1e-4)
    events = figures["events"]
    assert isinstance(events, list)
    assert [e["text"] for e in events] == [
        "rules/cheapest_hours.evr:20: cheap hours start at 0.087 per kWh"]


def test_the_table_shows_the_cost_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--config", str(TARIFF), "--data", str(WINTER)]) == 0
    out = capsys.readouterr().out
    assert "cost at the prices of price (solar energy costs nothing)" in out
    assert "grid energy             2.61  (0.085 per kWh on average)" in out
    assert "saved                   0.29" in out


def _minutes_with_prices(tmp_path: Path, vehicle_from: int = 0) -> Path:
    """Three hours of minute rows, a price per hour in a `price` column, a pv column."""
    rows = ["time,pv[W],vehicle,price"]
    prices = {0: 0.30, 1: 0.10, 2: 0.20}
    for minute in range(180):
        hour = minute // 60
        pv = 3000 if hour == 2 else 0
        plugged = 1 if minute >= vehicle_from else 0
        rows.append(f"2026-01-15T{hour:02d}:{minute % 60:02d}:00+00:00,{pv},{plugged},"
                    f"{prices[hour]}")
    path = tmp_path / "day.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_price_column_without_config_feeds_the_series_by_the_hour(tmp_path: Path) -> None:
    rules = tmp_path / "r.evr"
    rules.write_text("input price: number\n"
                     "if cheapest(price, 1 h, 03:00) then start, set amps to 16 A else stop\n")
    setup = prepare([rules], _minutes_with_prices(tmp_path))
    series = setup.prices["price"]
    assert [(s.start.hour, s.hours, s.price) for s in series.slots] == [
        (0, 1.0, 0.30), (1, 1.0, 0.10), (2, 1.0, 0.20)]
    result = run(setup)
    cost = result.cost
    assert cost is not None
    figures = cost.to_json()
    # One hour at 16 A x 240 V = 3.84 kWh, all from the grid at 0.10.
    assert result.chargers["evse"].ev == pytest.approx(3.84 * 3_600_000)
    assert figures["cost"] == pytest.approx(0.384)
    # At once: the same 3.84 kWh at 32 A x 240 V = 7.68 kW, 00:00 to 00:30 at 0.30.
    assert figures["at_once_cost"] == pytest.approx(3.84 * 0.30)


def test_solar_energy_costs_nothing(tmp_path: Path) -> None:
    rules = tmp_path / "r.evr"
    # Charge in the third hour, when the sun gives 3 kW of the car's 3.84 kW.
    rules.write_text("input price: number\ninput pv: W\n"
                     "if between 02:00 and 03:00 then start, set amps to 16 A else stop\n"
                     "let p = price\n")
    result = run(prepare([rules], _minutes_with_prices(tmp_path)))
    assert result.cost is not None
    figures = result.cost.to_json()
    assert figures["priced_grid_kwh"] == pytest.approx(0.84, abs=1e-3)
    assert figures["cost"] == pytest.approx(0.84 * 0.20, abs=1e-4)


def test_charging_at_once_starts_at_the_first_plug_in(tmp_path: Path) -> None:
    rules = tmp_path / "r.evr"
    rules.write_text("input price: number\n"
                     "if cheapest(price, 1 h, 03:00) then start, set amps to 16 A else stop\n")
    # The car comes at 01:30: charging at once from then is 01:30..02:00 at 0.10.
    result = run(prepare([rules], _minutes_with_prices(tmp_path, vehicle_from=90)))
    assert result.cost is not None
    figures = result.cost.to_json()
    ev_kwh = result.chargers["evse"].ev / 3_600_000
    assert ev_kwh == pytest.approx(1.92, abs=0.07)
    # From 01:30 at 7.68 kW the same energy takes 15 min, all at 0.10 (from the replay's
    # start, 00:00, it would have cost 0.30 a kWh).
    assert figures["at_once_cost"] == pytest.approx(ev_kwh * 0.10, abs=1e-4)


CONFIG = """
rules = ["r.evr"]
timezone = "UTC"
[chargers.evse]
driver = "simulated"
mode = "auto"
min_on = "0 s"
min_off = "0 s"
[inputs.price]
kind = "prices"
{source}
"""


def test_offpeak_windows_of_the_config_in_a_replay(tmp_path: Path) -> None:
    (tmp_path / "r.evr").write_text("if offpeak(price) then start, set amps to 10 A else stop\n")
    (tmp_path / "c.toml").write_text(CONFIG.format(
        source='offpeak = ["01:00-02:00"]\noffpeak_price = 0.1\npeak_price = 0.3'))
    data = tmp_path / "d.csv"
    data.write_text("time,pv[W]\n2026-01-15T00:00:00+00:00,0\n2026-01-16T23:59:00+00:00,0\n")
    setup = prepare([], data, tmp_path / "c.toml")
    result = run(setup)
    figures = result.chargers["evse"]
    # Two nights, an hour each at 10 A x 240 V.
    assert figures.charges == 2
    assert figures.ev == pytest.approx(2 * 2.4 * 3_600_000)
    assert result.cost is not None
    assert result.cost.to_json()["average_price"] == 0.1
    slot = setup.prices["price"].slot_at(result.start)
    assert isinstance(slot, PriceSlot) and slot.label == "peak"


def test_a_url_price_input_cannot_be_replayed(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    (tmp_path / "r.evr").write_text("if cheapest(price, 1 h, 07:00) then start\n")
    (tmp_path / "c.toml").write_text(CONFIG.format(
        source='url = "http://prices.local/today"\npath = "data"'))
    code = main(["simulate", "--config", str(tmp_path / "c.toml"), "--data", str(WINTER)])
    err = capsys.readouterr().err
    assert code != 0
    assert "inputs.price: a replay cannot read prices from a url" in err
    assert "Traceback" not in err


def test_a_bad_price_file_names_its_line(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    (tmp_path / "r.evr").write_text("if cheapest(price, 1 h, 07:00) then start\n")
    (tmp_path / "p.csv").write_text("time,price\n2025-12-18T00:00:00-05:00,0.1\n"
                                    "2025-12-18T01:00:00-05:00,dear\n")
    (tmp_path / "c.toml").write_text(CONFIG.format(source='file = "p.csv"'))
    code = main(["simulate", "--config", str(tmp_path / "c.toml"), "--data", str(WINTER)])
    err = capsys.readouterr().err
    assert code != 0
    assert f"{tmp_path / 'p.csv'}:3: 'dear' is not a price" in err


def test_rules_that_read_prices_the_data_lacks_are_refused(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "r.evr").write_text("input price: number\n"
                                    "if cheapest(price, 1 h, 07:00) then start\n")
    code = main(["simulate", str(tmp_path / "r.evr"), "--data", str(WINTER)])
    err = capsys.readouterr().err
    assert code != 0
    assert "the rules read input 'price' but the data has no column 'price'" in err


def test_a_price_column_prices_the_charging_with_a_config_that_has_no_price_input(
        tmp_path: Path) -> None:
    (tmp_path / "r.evr").write_text("if between 01:00 and 02:00 then start, set amps to 10 A "
                                    "else stop\n")
    (tmp_path / "c.toml").write_text(CONFIG.split("[inputs.price]")[0])
    result = run(prepare([], _minutes_with_prices(tmp_path), tmp_path / "c.toml"))
    assert result.cost is not None
    assert result.cost.to_json()["average_price"] == 0.1
