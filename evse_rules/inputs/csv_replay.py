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

Rows are read in blocks and converted column by column (`map(float, ...)` and the like, the
loops in C): a year of minutes loads in well under a second. A block with anything unusual
(a blank line, a bad cell, a time out of order) goes row by row instead, through the same
checks that name the line of the first problem; tests hold both paths to the same result.
"""

from __future__ import annotations

import csv
import itertools
import math
import operator
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from evse_rules.errors import DataError
from evse_rules.language.units import NUMBER, Dimension, Unit, UnitError, lookup_unit

if TYPE_CHECKING:
    import _csv

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
        # (A blank first line has no cells at all.)
        other = next((sep for sep in (";", "\t") if cells and sep in cells[0]), None)
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


# Rows go through the column-wise path this many at a time: enough that the per-block work
# is nothing, few enough that a block's strings stay in the processor's caches.
BLOCK_ROWS = 256


def _blocks(reader: _csv.Reader, size: int) -> Iterator[tuple[list[list[str]], range]]:
    """The rows of `reader` in lists of `size`, with the file line of each row. Raises
    _LookCloser for a file that only the row-by-row path reads right: one with a CSV or
    encoding error (reported at the first bad row), or with a quoted cell over several lines
    (whose rows' line numbers only the reader can tell)."""
    while True:
        before = reader.line_num
        try:
            rows = list(itertools.islice(reader, size))
        except (csv.Error, UnicodeDecodeError):
            raise _LookCloser from None
        if not rows:
            return
        if reader.line_num - before != len(rows):
            raise _LookCloser
        yield rows, range(before + 1, reader.line_num + 1)


_EPOCH_DAY = date(1970, 1, 1).toordinal()


def _posix_seconds(moments: list[datetime], offset: timedelta) -> array[float]:
    """`moment.timestamp()` of each of `moments`, all at `offset`, at a third of its cost
    (a year of minutes has 525,600): in whole seconds, exact, unless a moment has a fraction
    of a second."""
    if any(moment.microsecond for moment in moments):
        return array("d", map(datetime.timestamp, moments))
    shift = _EPOCH_DAY * 86400 + offset.days * 86400 + offset.seconds
    return array("d", [m.toordinal() * 86400 + m.hour * 3600 + m.minute * 60 + m.second - shift
                       for m in moments])


class _LookCloser(Exception):
    """Rows that the column-wise path leaves to the row-by-row one."""


class _Columns:
    """The columns of a data file as its rows are added: `add_row` one at a time with every
    check (the reference), `add_block` many at once, column by column."""

    def __init__(self, file: str, specs: list[tuple[str, Unit | None, bool]],
                 width: int) -> None:
        self.file = file
        self.specs = specs
        self.width = width
        self.times: array[float] = array("d")
        self.lines: array[int] = array("I")     # 4 bytes a row
        self.zones: list[tuple[int, tzinfo]] = []
        # Per column: numbers, texts, or neither yet (no unit and no value so far).
        self.numbers: list[array[float] | None] = [
            array("d") if unit is not None else None for _, unit, _ in specs]
        self.texts: list[list[str | None] | None] = [
            [] if is_text else None for _, _, is_text in specs]
        self.factors = [unit.factor if unit is not None else 1.0 for _, unit, _ in specs]
        self.last_offset: timedelta | None = None    # of the last row (None: no row yet)
        # One string object per distinct text: a year of minutes of "peak" and "offpeak"
        # holds two strings, not 525,600 (and the replay compares them by identity first).
        self.words: dict[str, str] = {}
        self.previous = -math.inf

    # -- one row --------------------------------------------------------------------------

    def add_row(self, row: list[str], line: int) -> None:
        """Add one row, or raise DataError naming its line."""
        file = self.file
        if not row or (not row[0].strip() and all(not c.strip() for c in row)):
            return                          # a blank line
        if len(row) != self.width:
            raise DataError(file, line, f"{len(row)} cells, the header has {self.width}")
        moment = _parse_time(file, line, row[0])
        stamp = moment.timestamp()
        if stamp < self.previous:
            raise DataError(file, line, f"time {row[0].strip()} is before the row above "
                                        f"it: rows must be in time order")
        self.previous = stamp
        offset = moment.utcoffset()
        if offset != self.last_offset:
            self.zones.append((len(self.times), moment.tzinfo or UTC))
            self.last_offset = offset
        self.times.append(stamp)
        self.lines.append(line)
        for i, (name, _, _) in enumerate(self.specs):
            self._add_cell(i, name, row[i + 1].strip(), line)

    def _add_cell(self, i: int, name: str, cell: str, line: int) -> None:
        numbers, texts = self.numbers[i], self.texts[i]
        if numbers is not None:
            if not cell:
                numbers.append(MISSING)         # empty: no new reading
                return
            try:
                value = float(cell)
            except ValueError:
                raise DataError(self.file, line,
                                f"column {name!r}: {cell!r} is not a number") from None
            if not math.isfinite(value):
                raise DataError(self.file, line,
                                f"column {name!r}: {cell!r} is not a finite number")
            numbers.append(value * self.factors[i])
        elif texts is not None:
            texts.append(self.words.setdefault(cell, cell) if cell else None)
        elif cell:
            # A column without a unit: numeric if its first value is a finite number.
            before = len(self.times) - 1
            if _is_finite_number(cell):
                self.numbers[i] = array("d", [MISSING]) * before
                self.numbers[i].append(float(cell))   # type: ignore[union-attr]
            else:
                self.texts[i] = [None] * before
                self.texts[i].append(self.words.setdefault(cell, cell))  # type: ignore[union-attr]

    # -- many rows ------------------------------------------------------------------------

    def add_block(self, rows: list[list[str]], lines: range) -> bool:
        """Add many rows column by column, with the loops in C. Returns False, having added
        nothing, when the rows need a closer look (a blank line, a cell that is not a plain
        number, a column whose kind is not known yet, a time out of order, any error):
        `add_row` then takes them one by one, and says exactly where a problem is."""
        try:
            self._add_block(rows, lines)
        except _LookCloser:
            return False
        return True

    def _add_block(self, rows: list[list[str]], lines: range) -> None:
        try:
            cells = list(zip(*rows, strict=True))
        except ValueError:
            raise _LookCloser from None         # rows of different lengths
        if len(cells) != self.width:
            raise _LookCloser
        try:
            moments = list(map(datetime.fromisoformat, cells[0]))
        except ValueError:
            raise _LookCloser from None
        offsets = list(map(datetime.utcoffset, moments))
        if None in offsets:
            moments = [m if m.tzinfo is not None else m.replace(tzinfo=UTC) for m in moments]
            offsets = list(map(datetime.utcoffset, moments))
        offset = offsets[0]
        one_offset = offsets.count(offset) == len(offsets)
        if one_offset and offset is not None and not offset.microseconds:
            stamps = _posix_seconds(moments, offset)
        else:
            stamps = array("d", map(datetime.timestamp, moments))
        if stamps[0] < self.previous or any(map(operator.gt, stamps, stamps[1:])):
            raise _LookCloser
        columns = [self._block_column(i, cells[i + 1]) for i in range(len(self.specs))]
        # Nothing can fail from here on.
        first = len(self.times)
        if offset != self.last_offset or not one_offset:
            for k, row_offset in enumerate(offsets):
                if row_offset != self.last_offset:
                    self.zones.append((first + k, moments[k].tzinfo or UTC))
                    self.last_offset = row_offset
        self.previous = stamps[-1]
        self.times.extend(stamps)
        self.lines.extend(lines)
        for i, column in enumerate(columns):
            if isinstance(column, array):
                if self.numbers[i] is None:     # a column without a unit turns numeric
                    self.numbers[i] = array("d", [MISSING]) * first
                self.numbers[i].extend(column)  # type: ignore[union-attr]
            elif column is not None:
                if self.texts[i] is None:       # a column without a unit turns text
                    self.texts[i] = [None] * first
                self.texts[i].extend(column)    # type: ignore[union-attr]

    def _block_column(self, i: int, cells: tuple[str, ...]
                      ) -> array[float] | list[str | None] | None:
        """One column of a block: numbers in canonical units, texts, or None when there is
        nothing to add (a column of unknown kind, all empty)."""
        if self.numbers[i] is not None:
            try:
                values = array("d", map(float, cells))
            except ValueError:
                values = self._numbers_with_gaps(cells)
            else:
                total = sum(values)
                if total - total != 0.0 and not all(map(math.isfinite, values)):
                    raise _LookCloser           # an inf or a nan written in the file
            factor = self.factors[i]
            return values if factor == 1.0 else array("d", [v * factor for v in values])
        if self.texts[i] is not None:
            return self._texts(cells)
        # A column without a unit and no value so far: its first value decides its kind.
        first = next((cell for cell in cells if cell.strip()), None)
        if first is None:
            return None
        if _is_finite_number(first):
            return self._numbers_with_gaps(cells)
        return self._texts(cells)

    def _texts(self, cells: tuple[str, ...]) -> list[str | None]:
        """A text column: stripped, None for an empty cell (no new reading)."""
        words = self.words
        return [words.setdefault(text, text) if (text := cell.strip()) else None
                for cell in cells]

    @staticmethod
    def _numbers_with_gaps(cells: tuple[str, ...]) -> array[float]:
        """A numeric column with empty cells (no new reading): NaN there."""
        values = array("d")
        for cell in cells:
            if not cell.strip():
                values.append(MISSING)
                continue
            try:
                value = float(cell)
            except ValueError:
                raise _LookCloser from None
            if not math.isfinite(value):
                raise _LookCloser
            values.append(value)
        return values

    def finish(self) -> ReplayData:
        if not self.times:
            raise DataError(self.file, None, "no data rows under the header")
        columns = []
        for i, (name, unit, _) in enumerate(self.specs):
            numbers, texts = self.numbers[i], self.texts[i]
            if numbers is None and texts is None:
                numbers = array("d", [MISSING]) * len(self.times)   # an empty column
            columns.append(Column(name, unit, numbers, texts))
        return ReplayData(self.file, self.times, tuple(self.zones), tuple(columns),
                          self.lines)


def load_replay_data(path: str | Path, *, block_rows: int = BLOCK_ROWS) -> ReplayData:
    """Read a data CSV; DataError `FILE:LINE: error: ...` at the first bad row.

    Rows go `block_rows` at a time through the column-wise path; a block that needs a closer
    look goes row by row. `block_rows=0` reads the whole file row by row: the reference that
    the tests hold the column-wise path to."""
    if block_rows > 0:
        try:
            return _load(path, block_rows)
        except _LookCloser:
            pass                                # read again, row by row
    return _load(path, 0)


def _load(path: str | Path, block_rows: int) -> ReplayData:
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
        columns = _Columns(file, _parse_header(file, header), len(header))
        if block_rows > 0:
            for rows, lines in _blocks(reader, block_rows):
                if not columns.add_block(rows, lines):
                    for row, line in zip(rows, lines, strict=True):
                        columns.add_row(row, line)
            return columns.finish()
        try:
            for row in reader:
                columns.add_row(row, reader.line_num)
        except csv.Error as error:
            raise DataError(file, reader.line_num, f"not valid CSV: {error}") from None
        except UnicodeDecodeError as error:
            raise DataError(file, reader.line_num + 1, f"not UTF-8 text: {error}") from None
    return columns.finish()


def _is_finite_number(text: str) -> bool:
    """Whether the first value of a column without a unit makes it numeric."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


# Texts a column the rules read as a boolean may hold (any case), besides the numbers 0/1.
_TRUE_TEXTS = frozenset({"true", "1", "on", "yes"})
_FALSE_TEXTS = frozenset({"false", "0", "off", "no"})


def boolean_column(data: ReplayData, column: Column) -> Column:
    """`column` as the rules read it when they declare it boolean: 0/1 numbers or
    true/false texts (on/off, yes/no) become booleans, an empty cell stays unknown. A DataError
    names the file, the line and the column of the first other value."""
    values: list[bool | None] = []
    cells: list[object] = list(column.texts) if column.texts is not None else \
        list(column.numbers or ())
    for row, cell in enumerate(cells):
        if cell is None or (isinstance(cell, float) and cell != cell) or cell == "":
            values.append(None)
        elif isinstance(cell, float) and cell in (0.0, 1.0):
            values.append(cell == 1.0)
        elif isinstance(cell, str) and cell.strip().lower() in _TRUE_TEXTS | _FALSE_TEXTS:
            values.append(cell.strip().lower() in _TRUE_TEXTS)
        else:
            shown = f"{cell:g}" if isinstance(cell, float) else repr(cell)
            raise DataError(data.file, data.lines[row], (
                f"column {column.name!r}: {shown} is not a boolean (the rules read "
                f"{column.name!r} as true or false: write 0/1 or true/false)"))
    # A column of texts holds the booleans: the replay feeds a text column's cells as they are.
    return Column(column.name, None, None, values)  # type: ignore[arg-type]


def column_in_unit(column: Column, unit: Unit) -> Column:
    """A numeric column without a unit in its header, read in `unit` (the one the rule file
    declares, `input pv: kW`): its numbers made canonical."""
    numbers = column.numbers if column.numbers is not None else array("d")
    factor = unit.factor
    scaled = numbers if factor == 1.0 else array("d", (n * factor for n in numbers))
    return Column(column.name, unit, scaled, None)
