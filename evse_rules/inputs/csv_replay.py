"""Recorded data for a replay: a CSV file read once into columns (DESIGN.md section 7).

    time,pv[W],house[W],voltage[V],vehicle,tariff[text]
    2026-06-21T06:00:00+02:00,0,310,238.5,1,offpeak

The first column is the time (ISO 8601, with or without an offset; a time without one is
read as written, as UTC). Every other header names an input, with an optional unit in
brackets: the values are converted to the canonical unit once, here. A column without a
unit is numeric when its first value is a number, text otherwise; `[text]` forces text.
An empty cell means "no new reading": the input keeps its last value.

Numeric columns are `array('d')` (8 bytes a row, NaN for an empty cell), times are POSIX
seconds: a year of one-minute rows fits in a few tens of megabytes.
"""

from __future__ import annotations

import csv
import math
import re
from array import array
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

from evse_rules.errors import DataError
from evse_rules.language.units import NUMBER, Dimension, Unit, UnitError, lookup_unit

_HEADER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:\[\s*([^\]]*?)\s*\])?\s*$")
MISSING = math.nan


@dataclass(frozen=True, slots=True)
class Column:
    """One input column: numbers in canonical units (NaN: no reading) or texts (None)."""

    name: str
    unit: Unit | None
    numbers: array[float] | None
    texts: list[str | None] | None

    @property
    def dimension(self) -> Dimension:
        return self.unit.dimension if self.unit is not None else NUMBER

    @property
    def is_text(self) -> bool:
        return self.texts is not None

    def header(self) -> str:
        return f"{self.name}[{self.unit.symbol}]" if self.unit is not None else self.name


@dataclass(frozen=True, slots=True)
class ReplayData:
    """A whole data file: row times and columns, in file order."""

    file: str
    times: array[float]                      # POSIX seconds, non-decreasing
    zones: tuple[tuple[int, tzinfo], ...]    # (first row, offset) each time the offset changes
    columns: tuple[Column, ...]
    lines: array[int]                        # the file line of each row, for messages

    def column(self, name: str) -> Column | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def start(self) -> datetime:
        return datetime.fromtimestamp(self.times[0], self.zones[0][1])

    def end(self) -> datetime:
        return datetime.fromtimestamp(self.times[-1], self.zones[-1][1])


def _parse_header(file: str, cells: list[str]) -> list[tuple[str, Unit | None, bool]]:
    if len(cells) < 2:
        # A spreadsheet in some locales exports with ';' (or tabs): say what separates cells.
        other = next((sep for sep in (";", "\t") if sep in cells[0]), None)
        hint = f" (cells are separated by commas, not {other!r})" if other else ""
        raise DataError(file, 1, "the header needs a time column and at least one input "
                                 f"column, like 'time,pv[W]'{hint}")
    found: list[tuple[str, Unit | None, bool]] = []
    seen: set[str] = set()
    for cell in cells[1:]:
        match = _HEADER.match(cell)
        if not match:
            raise DataError(file, 1, f"bad column header {cell!r} (write a name with an "
                                     f"optional unit, like 'pv[W]')")
        name, symbol = match.group(1), match.group(2)
        if name in seen:
            raise DataError(file, 1, f"column {name!r} appears twice")
        seen.add(name)
        if symbol is None or symbol == "":
            found.append((name, None, False))
        elif symbol.lower() == "text":
            found.append((name, None, True))
        else:
            try:
                found.append((name, lookup_unit(symbol), False))
            except UnitError as error:
                raise DataError(file, 1, f"column {name!r}: {error}") from None
    return found


def _parse_time(file: str, line: int, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DataError(file, line, f"unparsable time {text!r} (expected ISO 8601, like "
                                    f"2026-06-21T12:00:00+02:00)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _posix_seconds(moment: datetime, offset: timedelta | None) -> float:
    """What `moment.timestamp()` gives, at about half its cost: it runs once per CSV row,
    and a year of minutes has 525,600 of them."""
    local = ((moment.toordinal() - _EPOCH_ORDINAL) * 86400 + moment.hour * 3600
             + moment.minute * 60 + moment.second)
    if offset is not None:
        local -= offset.days * 86400 + offset.seconds
        if offset.microseconds:
            return local + (moment.microsecond - offset.microseconds) / 1e6
    return local + moment.microsecond / 1e6


def load_replay_data(path: str | Path) -> ReplayData:
    """Read a data CSV; DataError `FILE:LINE: error: ...` on the first bad row."""
    file = str(path)
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 (closed below)
    except OSError as error:
        raise DataError(file, None, f"cannot read: {error.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(file, None, "the file is empty") from None
        except (csv.Error, UnicodeDecodeError) as error:
            raise DataError(file, 1, f"not a CSV file: {error}") from None
        specs = _parse_header(file, header)
        width = len(header)
        times: array[float] = array("d")
        lines: array[int] = array("l")
        zones: list[tuple[int, tzinfo]] = []
        numbers: list[array[float] | None] = [None] * len(specs)
        texts: list[list[str | None] | None] = [None] * len(specs)
        positions = range(len(specs))
        factors = [unit.factor if unit is not None else 1.0 for _, unit, _ in specs]
        for i, (_, unit, is_text) in enumerate(specs):
            if is_text:
                texts[i] = []
            elif unit is not None:
                numbers[i] = array("d")
        last_offset: object = None
        previous = -math.inf
        try:
            for row in reader:
                line = reader.line_num
                if not row or (not row[0].strip() and all(not c.strip() for c in row)):
                    continue                    # a blank line
                if len(row) != width:
                    raise DataError(file, line, f"{len(row)} cells, the header has {width}")
                moment = _parse_time(file, line, row[0])
                offset = moment.utcoffset()
                stamp = _posix_seconds(moment, offset)
                if stamp < previous:
                    raise DataError(file, line, f"time {row[0].strip()} is before the row "
                                                f"above it: rows must be in time order")
                previous = stamp
                if offset != last_offset:
                    zones.append((len(times), moment.tzinfo or UTC))
                    last_offset = offset
                times.append(stamp)
                lines.append(line)
                for i in positions:
                    cell = row[i + 1]
                    column_numbers = numbers[i]
                    if column_numbers is not None:
                        # The common case first: float() takes surrounding blanks itself.
                        try:
                            value = float(cell)
                        except ValueError:
                            if cell.strip():
                                raise DataError(file, line, (
                                    f"column {specs[i][0]!r}: {cell.strip()!r} is not a "
                                    f"number")) from None
                            column_numbers.append(MISSING)   # empty: no new reading
                            continue
                        if value - value != 0.0:             # inf or nan
                            raise DataError(file, line, f"column {specs[i][0]!r}: "
                                                        f"{cell.strip()!r} is not a finite "
                                                        f"number")
                        column_numbers.append(value * factors[i])
                        continue
                    cell = cell.strip()
                    column_texts = texts[i]
                    if column_texts is not None:
                        column_texts.append(cell or None)
                    elif cell:
                        # A column without a unit: numeric if its first value is a number.
                        before = len(times) - 1
                        if _is_number(cell) and math.isfinite(float(cell)):
                            numbers[i] = array("d", [MISSING]) * before
                            numbers[i].append(float(cell))    # type: ignore[union-attr]
                        else:
                            texts[i] = [None] * before
                            texts[i].append(cell)             # type: ignore[union-attr]
        except csv.Error as error:
            raise DataError(file, reader.line_num, f"not valid CSV: {error}") from None
        except UnicodeDecodeError as error:
            raise DataError(file, reader.line_num + 1, f"not UTF-8 text: {error}") from None
    if not times:
        raise DataError(file, None, "no data rows under the header")
    columns = []
    for i, (name, unit, _) in enumerate(specs):
        column_numbers = numbers[i]
        column_texts = texts[i]
        if column_numbers is None and column_texts is None:
            column_numbers = array("d", [MISSING]) * len(times)   # an empty column
        columns.append(Column(name, unit, column_numbers, column_texts))
    return ReplayData(file, times, tuple(zones), tuple(columns), lines)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
