"""The replay on hand-computed cases, with a scripted program (no rules language needed)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evse_rules.errors import DataError
from evse_rules.inputs.csv_replay import load_replay_data
from evse_rules.language.program import Environment, Program, ProposedAction, Value
from evse_rules.simulate import Recorder, prepare, run
from tests.engine_fakes import SET_AMPS, START, STOP, FakeProgram, action, inputs, rule


def kwh(value: float) -> object:
    """The JSON rounds kWh to three decimals."""
    return pytest.approx(value, abs=5e-4)


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def always(amps: float) -> FakeProgram:
    def decide(now: datetime, values: list[Value]) -> list[ProposedAction]:
        return [action(START, 0), action(SET_AMPS, 1, amps)]

    return FakeProgram(decide, externals=inputs("pv", "house"), rules=(rule(0), rule(1)))


def loader(program: FakeProgram, seen: list[Environment] | None = None):
    def load(paths: Sequence[str | Path], environment: Environment) -> Program:
        if seen is not None:
            seen.append(environment)
        return program

    return load


HAND = """time,pv[W],house[W]
2026-06-21T12:00:00,3000,600
2026-06-21T12:02:00,1.2e3,600
"""


def test_energy_accounting_on_a_hand_computed_case(tmp_path: Path) -> None:
    # Ticks 12:00, 12:01 (row 1 held), 12:02, each for 60 s. The charger draws 10 A x 240 V
    # = 2400 W from the first tick on. Sun available: 2400, 2400, 600 W.
    setup = prepare(["x.evr"], write(tmp_path, HAND), load=loader(always(10.0)))
    figures = run(setup)
    assert figures.solar == pytest.approx((3000 + 3000 + 1200) * 60)          # J, exact
    assert figures.ev == pytest.approx(3 * 2400 * 60)
    assert figures.from_solar == pytest.approx((2400 + 2400 + 600) * 60)
    result = figures.to_json()
    assert result["ticks"] == 3
    assert result["start"] == "2026-06-21T12:00:00+00:00"
    assert result["end"] == "2026-06-21T12:02:00+00:00"
    assert result["solar_kwh"] == kwh((3000 + 3000 + 1200) * 60 / 3.6e6)
    assert result["ev_kwh"] == kwh(3 * 2400 * 60 / 3.6e6)
    assert result["ev_from_solar_kwh"] == kwh((2400 + 2400 + 600) * 60 / 3.6e6)
    assert result["ev_from_grid_kwh"] == kwh(1800 * 60 / 3.6e6)
    assert result["charges"] == 1
    assert result["charge_time_s"] == {"min": 180, "max": 180, "total": 180}
    assert result["commands"] == {"start": 1, "stop": 0, "set_current": 1, "set_voltage": 0}
    assert result["rules"] == {"test.evr:1": 3, "test.evr:2": 3}
    assert result["chargers"]["evse"]["ev_kwh"] == result["ev_kwh"]


def test_no_house_column_means_all_pv_is_available(tmp_path: Path) -> None:
    data = write(tmp_path, "time,pv[kW]\n2026-06-21T12:00:00,1.2\n2026-06-21T12:01:00,1.2\n")
    program = always(10.0)
    program.externals = inputs("pv")
    result = run(prepare(["x.evr"], data, load=loader(program))).to_json()
    # 2400 W drawn, 1200 W of sun, for two minutes.
    assert result["ev_from_solar_kwh"] == kwh(2 * 1200 * 60 / 3.6e6)
    assert result["ev_from_grid_kwh"] == kwh(2 * 1200 * 60 / 3.6e6)


def test_charges_count_transitions_into_charging(tmp_path: Path) -> None:
    rows = "\n".join(f"2026-06-21T12:{m:02d}:00,{pv},0" for m, pv in
                     enumerate([3000, 3000, 0, 0, 3000, 0]))
    data = write(tmp_path, "time,pv[W],house[W]\n" + rows + "\n")

    def decide(now: datetime, values: list[Value]) -> list[ProposedAction]:
        pv = values[0]
        return [action(START if isinstance(pv, float) and pv > 0 else STOP)]

    program = FakeProgram(decide, externals=inputs("pv"), rules=(rule(0),))
    setup = prepare(["x.evr"], data, load=loader(program))
    setup.settings = [type(s)(s.name, min_on=0.0, min_off=0.0, initial_mode="auto")
                      for s in setup.settings]
    result = run(setup).to_json()
    assert result["charges"] == 2
    assert result["charge_time_s"] == {"min": 60, "max": 120, "total": 180}
    assert result["commands"]["start"] == 2 and result["commands"]["stop"] == 2


def test_vehicle_and_voltage_columns_drive_the_charger(tmp_path: Path) -> None:
    data = write(tmp_path, "time,pv[W],vehicle,voltage[V]\n"
                           "2026-06-21T12:00:00,0,0,230\n"
                           "2026-06-21T12:01:00,0,1,230\n")
    program = always(10.0)
    program.externals = inputs("pv")
    seen: list[Environment] = []
    result = run(prepare(["x.evr"], data, load=loader(program, seen))).to_json()
    assert set(seen[0].inputs) == {"pv"}             # not inputs: they drive the charger
    # No vehicle at 12:00 (start held back), plugged in at 12:01: one minute at 10 A x 230 V.
    assert result["ev_kwh"] == kwh(2300 * 60 / 3.6e6)
    assert result["charges"] == 1


def test_a_voltage_column_outside_mains_voltages_is_refused(tmp_path: Path) -> None:
    data = write(tmp_path, "time,pv[W],voltage[V]\n2026-06-21T12:00:00,1,230\n"
                           "2026-06-21T12:01:00,1,0\n")
    with pytest.raises(DataError, match=r":3: error: column 'voltage': 0 V is not a mains "
                                        r"voltage \(100\.\.500 V\)"):
        prepare(["x.evr"], data, load=loader(FakeProgram(externals=inputs("pv"))))



def test_columns_become_typed_inputs_of_the_environment(tmp_path: Path) -> None:
    data = write(tmp_path, "time,pv[kW],tariff,count\n2026-06-21T12:00:00,1,peak,3\n")
    seen: list[Environment] = []
    program = FakeProgram(externals=inputs("pv"))
    prepare(["x.evr"], data, load=loader(program, seen))
    env = seen[0]
    assert str(env.inputs["pv"]) == "power (W)"
    assert env.inputs["tariff"].kind.value == "text"
    assert str(env.inputs["count"]) == "number"
    assert env.chargers == ("evse",)


def test_input_the_rules_read_but_the_data_lacks_is_named(tmp_path: Path) -> None:
    data = write(tmp_path, "time,pv[W]\n2026-06-21T12:00:00,1\n")
    with pytest.raises(DataError, match=r"read input 'house' but .* no column 'house'"):
        prepare(["x.evr"], data, load=loader(FakeProgram(externals=inputs("pv", "house"))))


def test_column_in_another_dimension_is_refused(tmp_path: Path) -> None:
    data = write(tmp_path, "time,pv[A]\n2026-06-21T12:00:00,1\n")
    with pytest.raises(DataError, match=r"data.csv:1: error: column 'pv\[A\]' is current"):
        prepare(["x.evr"], data, load=loader(FakeProgram(externals=inputs("pv"))))


def test_unitless_column_for_a_quantity_asks_for_the_unit(tmp_path: Path) -> None:
    data = write(tmp_path, "time,pv\n2026-06-21T12:00:00,1\n")
    with pytest.raises(DataError, match=r"write its unit in the header, like pv\[W\]"):
        prepare(["x.evr"], data, load=loader(FakeProgram(externals=inputs("pv"))))


@pytest.mark.parametrize(("text", "where", "message"), [
    ("time,pv[W]\n2026-06-21T12:00:00,1\nyesterday,2\n", 3, "unparsable time 'yesterday'"),
    ("time,pv[W]\n2026-06-21T12:00:00,1\n2026-06-21T12:01:00,lots\n", 3,
     "column 'pv': 'lots' is not a number"),
    ("time,pv[furlong]\n2026-06-21T12:00:00,1\n", 1, "unknown unit 'furlong'"),
    ("time,pv[KW]\n2026-06-21T12:00:00,1\n", 1, "unknown unit 'KW' (known units: mA, A, V, W, "
     "kW, Wh, kWh, ms, s, min, h, %); did you mean kW?"),
    ("time,pv[W]\n2026-06-21T12:01:00,1\n2026-06-21T12:00:00,1\n", 3, "rows must be in time"),
    ("time,pv[W]\n2026-06-21T12:00:00,1,2\n", 2, "3 cells, the header has 2"),
    ("time,pv[W]\n\n2026-06-21T12:00:00,1\n\n2026-06-21T12:00:00,x\n", 5, "not a number"),
    ("time;pv[W]\n2026-06-21T12:00:00;1\n", 1, "cells are separated by commas, not ';'"),
    ("time\tpv[W]\n2026-06-21T12:00:00\t1\n", 1, "cells are separated by commas, not '\\t'"),
    ("time,pv[W],pv[kW]\n2026-06-21T12:00:00,1,2\n", 1, "column 'pv' appears twice"),
])
def test_bad_rows_name_file_and_line(tmp_path: Path, text: str, where: int,
                                     message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as caught:
        load_replay_data(path)
    assert str(caught.value).startswith(f"{path}:{where}: error: ")
    assert message in str(caught.value)


def test_empty_cells_keep_the_last_value_and_units_convert(tmp_path: Path) -> None:
    data = load_replay_data(write(tmp_path, "time,pv[kW],tariff\n"
                                            "2026-06-21T12:00:00+02:00,1.5,\n"
                                            "2026-06-21T12:01:00+02:00,,peak\n"))
    pv = data.column("pv")
    assert pv is not None and pv.numbers is not None
    assert pv.numbers[0] == 1500.0 and pv.numbers[1] != pv.numbers[1]   # NaN: no reading
    tariff = data.column("tariff")
    assert tariff is not None and tariff.texts == [None, "peak"]
    assert data.start().isoformat() == "2026-06-21T12:00:00+02:00"


def test_irregular_rows_hold_values_between_them(tmp_path: Path) -> None:
    data = write(tmp_path, "time,pv[W]\n2026-06-21T12:00:00,100\n"
                           "2026-06-21T12:00:30,200\n2026-06-21T12:03:00,300\n")
    seen: list[Value] = []

    class Pv(Recorder):
        def tick(self, now, chargers, inputs, lets) -> None:
            seen.append(inputs[0])

    program = FakeProgram(externals=inputs("pv"))
    result = run(prepare(["x.evr"], data, load=loader(program)), Pv())
    assert result.ticks == 4
    assert seen == [100.0, 200.0, 200.0, 300.0]


def test_same_inputs_give_byte_identical_json(tmp_path: Path) -> None:
    path = write(tmp_path, HAND)
    first = json.dumps(run(prepare(["x.evr"], path, load=loader(always(9.5)))).to_json())
    second = json.dumps(run(prepare(["x.evr"], path, load=loader(always(9.5)))).to_json())
    assert first == second


def test_a_change_of_offset_keeps_the_clock_regular(tmp_path: Path) -> None:
    # Daylight saving time begins: 01:59+01:00 is followed by 03:00+02:00, one minute later.
    data = write(tmp_path, "time,pv[W]\n2026-03-29T01:58:00+01:00,1\n"
                           "2026-03-29T01:59:00+01:00,2\n2026-03-29T03:00:00+02:00,3\n"
                           "2026-03-29T03:01:00+02:00,4\n")
    seen: list[str] = []

    class Clock(Recorder):
        def tick(self, now, chargers, inputs, lets) -> None:
            seen.append(now.isoformat())

    result = run(prepare(["x.evr"], data, load=loader(FakeProgram(externals=inputs("pv")))),
                 Clock())
    assert seen == ["2026-03-29T01:58:00+01:00", "2026-03-29T01:59:00+01:00",
                    "2026-03-29T03:00:00+02:00", "2026-03-29T03:01:00+02:00"]
    assert result.to_json()["end"] == "2026-03-29T03:01:00+02:00"


@pytest.mark.parametrize("text", [
    "2026-03-29T01:59:59.250000+01:00", "2026-10-25T02:30:00-05:00", "1969-12-31T23:00:00",
    "2026-06-21T12:00:00Z", "2026-06-21T12:00:00+05:30", "2000-02-29T00:00:00.000001-00:00",
    "2026-01-01T00:00:00+01:00:30.5",
])
def test_row_times_are_the_posix_seconds_of_their_text(tmp_path: Path, text: str) -> None:
    data = load_replay_data(write(tmp_path, f"time,pv[W]\n{text},1\n"))
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    assert data.times[0] == moment.timestamp()
