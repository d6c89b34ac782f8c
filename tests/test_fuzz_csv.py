"""Fuzzing the replay's data CSV: whatever the file, `load_replay_data` gives the data or
raises an EvseRulesError (DataError naming the file and line), never anything else, on the
column-wise path and the row-by-row one alike, and both agree on which files they take.

Files are built from headers with every kind of unit (and broken brackets), times valid and
not (offsets, out of order, repeated, far past and future), values of every kind (NaN, inf,
1e400, thousands of digits, texts, empty), odd quoting, NUL bytes and stray line ends; or
they are a valid file with characters changed. Bounded for CI: FUZZ_SCALE=10 hunts ten
times longer.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from evse_rules.errors import EvseRulesError
from evse_rules.inputs.csv_replay import ReplayData, load_replay_data

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
BUILT, MUTATED, REPLAYS = 300 * SCALE, 150 * SCALE, 60 * SCALE


def fuzz(cases: int) -> settings:
    """`cases` examples, no deadline (a loaded CI machine is slow, not wrong)."""
    return settings(max_examples=cases, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


NAMES = ["pv", "house", "voltage", "vehicle", "tariff", "grid", "", "time", "pv", "a b",
         "évse", "x" * 300, "1pv", "pv.w", '"q"']
UNITS = ["", "[W]", "[kW]", "[V]", "[A]", "[Wh]", "[kWh]", "[%]", "[text]", "[boolean]",
         "[h]", "[min]", "[bogus]", "[", "]", "[W", "[]", "[[W]]", "[W][V]", "[ W ]"]
TIMES = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from([
        "2026-06-21T06:00:00+02:00", "2026-06-21T06:00:00Z", "2026-06-21 06:00", "2026-06-21",
        "2026-02-30T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
        "2026-06-21T06:00:00+99:00", "yesterday", "", "1e400", "NaN", "T", "2026-13-01",
        "2026-06-21T06:00:00.123456789", "2026-06-21T24:00:00",
    ]),
)
CELLS = st.one_of(
    st.sampled_from(["0", "310", "-5", "1.5", "1e400", "-1e400", "nan", "NaN", "inf",
                     "-Infinity", "1" * 5000, "0x10", "1_000", "", " ", "offpeak", "HC",
                     "true", "false", "1", "yes", '"1,5"', '"a""b"', "\x00", "é", "1e-400"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=8),
)


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    columns = draw(st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(UNITS)),
                            max_size=4))
    header = ",".join(["time", *(name + unit for name, unit in columns)])
    if draw(st.integers(0, 9)) == 0:
        header = draw(st.sampled_from(["", "time", "pv,time", "time,pv[W],", "\ufefftime,pv"]))
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        cells = [draw(TIMES), *(draw(CELLS) for _ in columns)]
        if draw(st.integers(0, 9)) == 0:
            cells = cells[:draw(st.integers(0, len(cells)))] + \
                draw(st.lists(CELLS, max_size=2))   # too few or too many cells
        rows.append(",".join(cells))
    end = draw(st.sampled_from(["\n", "\r\n", "\r", ""]))
    return end.join([header, *rows]) + draw(st.sampled_from(["", "\n", "\n\n", "\n,\n"]))


VALID = """\
time,pv[W],house[W],voltage[V],vehicle,tariff[text]
2026-06-21T06:00:00+02:00,0,310,238.5,1,offpeak
2026-06-21T06:01:00+02:00,120,300,239.0,1,offpeak
2026-06-21T06:02:00+02:00,240,320,238.0,1,peak
2026-06-21T06:05:00+02:00,480,305,237.5,0,peak
"""


@pytest.fixture(scope="module")
def directory() -> Iterator[Path]:
    # One directory for every example (a function-scoped tmp_path is not reset between them).
    with tempfile.TemporaryDirectory(prefix="fuzz-csv-") as name:
        yield Path(name)


def load_both_ways(text: str, directory: Path) -> None:
    path = directory / "data.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    outcomes: list[ReplayData | None] = []
    for block_rows in (2, 0):       # column-wise in blocks of 2 rows, then row by row
        try:
            outcomes.append(load_replay_data(path, block_rows=block_rows))
        except EvseRulesError as error:
            assert str(error).startswith(str(path)), str(error)
            outcomes.append(None)
    event("loaded" if outcomes[0] is not None else "refused")
    assert (outcomes[0] is None) == (outcomes[1] is None), "the two paths disagree"


def test_the_valid_file_loads(directory: Path) -> None:
    path = directory / "valid.csv"
    path.write_text(VALID)
    assert len(load_replay_data(path, block_rows=2).times) == 4


@fuzz(BUILT)
@given(csv_texts())
@example("\ntime,pv[W]\n2026-06-21T06:00:00,1\n")    # a blank first line
def test_a_built_csv_loads_or_raises_data_error(directory: Path, text: str) -> None:
    load_both_ways(text, directory)


@fuzz(MUTATED)
@given(st.lists(st.tuples(st.integers(0, len(VALID)), st.integers(0, 6),
                          st.sampled_from(["", ",", '"', "\n", "\r", "[", "]", "\x00", "nan",
                                           "1e400", "9" * 400, "+02:00", "T", "-", ":"])),
                min_size=1, max_size=6))
def test_a_mutated_csv_loads_or_raises_data_error(directory: Path,
                                                  edits: list[tuple[int, int, str]]) -> None:
    text = VALID
    for at, cut, insert in edits:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + cut:]
    load_both_ways(text, directory)


ROOT = Path(__file__).resolve().parent.parent
DAY_TIMES = st.datetimes(min_value=datetime(2026, 6, 21, 4),
                         max_value=datetime(2026, 6, 21, 20)).map(
    lambda d: d.isoformat(timespec="seconds"))
# Mostly good times, so that most replays run and the bad cells meet the engine.
NEAR_TIMES = st.one_of(DAY_TIMES, DAY_TIMES, DAY_TIMES, DAY_TIMES, DAY_TIMES, DAY_TIMES,
                       st.sampled_from(["2026-06-21T12:00:00Z", "", "noon"]))


@st.composite
def replay_texts(draw: st.DrawFn) -> str:
    """A day's data for rules/naive_surplus.evr (pv and house), with bad cells among them."""
    number = st.integers(0, 6000).map(str)
    cell = st.one_of(number, number, number, number, number, number, CELLS)
    rows = [[draw(NEAR_TIMES), draw(cell), draw(cell)] for _ in range(draw(st.integers(1, 8)))]
    if draw(st.booleans()):
        rows.sort()             # mostly in order, so that most replays run
    return "\n".join(["time,pv[W],house[W]", *(",".join(row) for row in rows)]) + "\n"


@fuzz(REPLAYS)
@given(replay_texts())
def test_a_replay_of_any_data_reports_or_refuses_never_a_traceback(directory: Path,
                                                                   text: str) -> None:
    from evse_rules.cli import main

    path = directory / "replay.csv"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["simulate", str(ROOT / "rules" / "naive_surplus.evr"), "--data", str(path),
                     "--json"])
    said = out.getvalue() + err.getvalue()
    event("replayed" if code == 0 else "refused")
    assert code in (0, 1), said
    assert "Traceback" not in said and "internal error" not in said, said
    if code == 0:
        figures = json.loads(out.getvalue())
        assert figures["ticks"] >= 1 and figures["ev_kwh"] >= 0, figures
