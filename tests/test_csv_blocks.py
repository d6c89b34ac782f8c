"""The data loader's column-wise path gives exactly what the row-by-row path gives.

`load_replay_data(path, block_rows=0)` reads row by row with every check: the reference.
The default reads blocks of rows column by column and hands any block it cannot take
whole (a blank line, an empty or bad cell, a time out of order, ...) to the row path.
Whatever the file, both must give the same data, or the same error at the same line.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evse_rules.errors import DataError
from evse_rules.inputs import csv_replay
from evse_rules.inputs.csv_replay import ReplayData, load_replay_data

HEADER = "time,pv[W],house[kW],tariff[text],free\n"

# How a row's time may be written (most rows: the first), and some bad times.
TIME_FORMS = ["{day}T{hm}:00+02:00"] * 8 + [
    "{day}T{hm}:00", "{day}T{hm}:00Z", "{day}T{hm}:30.5+02:00", "{day} {hm}:00+02:00",
    " {day}T{hm}:00+02:00", "{day}T{hm}:00+01:00", "yesterday", "",
]
NUMBERS = ["0", "1500", "2.5", "-3", "1e3", " 7 ", "", " ", "nan", "inf", "x", "1_0"]
TEXTS = ["peak", "offpeak", "", " low ", '"a,b"', '"two\nlines"']


@st.composite
def data_files(draw: st.DrawFn) -> str:
    """A data file that is mostly regular, with now and then something that is not: odd
    times (out of order too), bad or empty cells, blank lines, rows of the wrong width."""
    rows = []
    minute = 0
    for _ in range(draw(st.integers(1, 30))):
        kind = draw(st.sampled_from(["plain"] * 6 + ["odd", "blank", "width"]))
        if kind == "blank":
            rows.append("")
            continue
        minute += draw(st.sampled_from([1, 1, 1, 0, 2, -1]))
        hm = f"{10 + minute // 60:02d}:{minute % 60:02d}"
        time = draw(st.sampled_from(TIME_FORMS)).format(day="2026-06-21", hm=hm)
        if kind == "plain":
            cells = [time, str(draw(st.integers(0, 5000))),
                     draw(st.sampled_from(["0.4", "1.25", ""])),
                     draw(st.sampled_from(["peak", "offpeak", "", " low "])),
                     draw(st.sampled_from(["", "3", "4.5"]))]
        else:
            cells = [time, draw(st.sampled_from(NUMBERS)), draw(st.sampled_from(NUMBERS)),
                     draw(st.sampled_from(TEXTS)), draw(st.sampled_from(NUMBERS + TEXTS))]
        if kind == "width":
            cells = cells[:draw(st.integers(1, 4))]
        rows.append(",".join(cells))
    end = draw(st.sampled_from(["\n", "\r\n"]))      # a spreadsheet on Windows: CRLF
    return (HEADER + "\n".join(rows) + "\n").replace("\n", end)


def outcome(path: Path, block_rows: int) -> tuple[object, ...]:
    """What loading gives, in a form that compares (NaN equals NaN as bytes)."""
    try:
        data = load_replay_data(path, block_rows=block_rows)
    except DataError as error:
        return ("error", str(error))
    return ("data", *snapshot(data))


def snapshot(data: ReplayData) -> tuple[object, ...]:
    columns = tuple((c.name, c.unit, c.numbers.tobytes() if c.numbers is not None else None,
                     c.texts) for c in data.columns)
    zones = tuple((row, zone.utcoffset(None)) for row, zone in data.zones)
    return data.times.tobytes(), data.lines.tolist(), zones, columns


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=data_files(), block_rows=st.integers(1, 6))
def test_blocks_give_what_rows_give(tmp_path: Path, text: str, block_rows: int) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode())
    assert outcome(path, block_rows) == outcome(path, 0)


def regular_file(tmp_path: Path) -> Path:
    """A file the column-wise path takes whole: gaps, units, texts, a change of offset,
    times without an offset."""
    rows = [f"2026-03-29T01:{m:02d}:00+01:00,{m * 10},{'' if m % 3 else '0.5'},"
            f"{'peak' if m % 2 else ''},{m}" for m in range(50, 60)]
    rows += [f"2026-03-29T03:{m:02d}:00+02:00,{m * 10},0.25,,{m}" for m in range(0, 10)]
    rows += [f"2026-03-29T01:{m:02d}:00,1,1,,1" for m in range(10, 20)]
    path = tmp_path / "data.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def test_a_regular_file_never_goes_row_by_row(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = regular_file(tmp_path)
    expected = snapshot(load_replay_data(path, block_rows=0))

    def refuse(self: object, row: list[str], line: int) -> None:
        raise AssertionError(f"line {line} went row by row")

    monkeypatch.setattr(csv_replay._Columns, "add_row", refuse)
    for block_rows in (1, 7, 512):
        data = load_replay_data(path, block_rows=block_rows)
        assert snapshot(data) == expected
    house = data.column("house")
    assert house is not None and house.numbers is not None
    assert house.numbers[0] != house.numbers[0] and house.numbers[1] == 500.0   # a gap; kW
    # Three offsets: +01:00, +02:00, then times without one (read as UTC).
    assert [(row, zone.utcoffset(None)) for row, zone in data.zones] == [
        (0, timedelta(hours=1)), (10, timedelta(hours=2)), (20, timedelta(0))]


def minutes(count: int) -> list[str]:
    """`count` regular rows, one a minute from 10:00."""
    return [f"2026-06-21T10:{m:02d}:00+02:00,{m},1,,1" for m in range(count)]


def write_rows(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def test_a_bad_row_is_reported_at_its_line_whichever_path(tmp_path: Path) -> None:
    rows = minutes(40)
    rows[25] = "2026-06-21T10:25:00+02:00,lots,1,,1"
    rows[31] = "2026-06-21T10:31:00+02:00,1,1,,1,extra"
    path = write_rows(tmp_path, rows)
    for block_rows in (0, 4, 512):
        with pytest.raises(DataError, match=r"data.csv:27: error: column 'pv': 'lots' is not"):
            load_replay_data(path, block_rows=block_rows)


def test_a_csv_error_after_a_bad_row_is_not_the_one_reported(tmp_path: Path) -> None:
    # A cell over the csv module's size limit is a CSV error; the bad number above it is
    # what the user must hear of first.
    rows = minutes(20)
    rows[3] = "2026-06-21T10:03:00+02:00,x,1,,1"
    rows[9] = "2026-06-21T10:09:00+02:00,1,1," + "a" * 200_000 + ",1"
    path = write_rows(tmp_path, rows)
    with pytest.raises(DataError, match=r"data.csv:5: error: column 'pv': 'x' is not"):
        load_replay_data(path)
    rows[3] = "2026-06-21T10:03:00+02:00,3,1,,1"
    write_rows(tmp_path, rows)
    with pytest.raises(DataError, match=r"data.csv:11: error: not valid CSV"):
        load_replay_data(path)


def test_a_cell_over_several_lines_keeps_the_line_numbers(tmp_path: Path) -> None:
    rows = minutes(10)
    rows[2] = '2026-06-21T10:02:00+02:00,2,1,"two\nlines",1'
    rows[6] = "2026-06-21T10:06:00+02:00,oops,1,,1"
    path = write_rows(tmp_path, rows)
    with pytest.raises(DataError, match=r"data.csv:9: error: column 'pv': 'oops'"):
        load_replay_data(path)


@pytest.mark.parametrize("cell", ["nan", "inf", "-Infinity", "1e999"])
def test_a_number_that_is_not_finite_is_refused_whichever_path(tmp_path: Path,
                                                               cell: str) -> None:
    rows = minutes(10)
    rows[4] = f"2026-06-21T10:04:00+02:00,{cell},1,,1"
    path = write_rows(tmp_path, rows)
    for block_rows in (0, 3, 512):
        with pytest.raises(DataError, match=rf"data.csv:6: error: column 'pv': '{cell}' is "
                                            r"not a finite number"):
            load_replay_data(path, block_rows=block_rows)


def test_a_text_column_holds_one_string_per_distinct_text(tmp_path: Path) -> None:
    rows = [f"2026-06-21T10:{m:02d}:00+02:00,{m},1,{'peak' if m % 3 else 'offpeak'},"
            f"{'a' if m % 2 else 'b'}" for m in range(60)]
    path = write_rows(tmp_path, rows)
    for block_rows in (0, 7, 512):
        data = load_replay_data(path, block_rows=block_rows)
        for name in ("tariff", "free"):              # declared [text], and found to be text
            column = data.column(name)
            assert column is not None and column.texts is not None
            assert len(column.texts) == 60 and len({id(t) for t in column.texts}) == 2
