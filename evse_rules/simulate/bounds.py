"""How long a replay may run: a warning for a span or a gap that is likely a mistake, a
refusal for a replay that would take hours.

Two rows of a CSV 56 years apart (a typo in a year) are 29 million one-minute ticks: the
replay would run for many minutes and print figures of nothing. The span is known once
the file is read, before the first tick, so it is said (or refused) then.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from evse_rules.errors import DataError
from evse_rules.inputs.csv_replay import ReplayData

DAY = 86_400.0
# A replay longer than this is said: a year and a bit is the longest one people mean.
LONG_SPAN = 400 * DAY
# Rows further apart than this are said: inputs keep their last value through the gap.
LONG_GAP = 7 * DAY
# Above this many ticks a replay is refused unless --max-ticks allows it: 5 million ticks
# are 9.5 years of one-minute ticks, several minutes of replay.
MAX_TICKS = 5_000_000
# At most this many gaps are named one by one; the rest are counted.
_GAPS_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Gap:
    """Two consecutive rows further apart than LONG_GAP."""

    line_before: int
    line: int
    seconds: float


def replay_ticks(data: ReplayData, tick: float) -> int:
    """The ticks of a replay of `data` (as the replay counts them)."""
    return math.floor((data.times[-1] - data.times[0]) / tick + 1e-9) + 1


def long_gaps(data: ReplayData, limit: float = LONG_GAP) -> list[Gap]:
    """Consecutive rows more than `limit` seconds apart, in file order."""
    times, lines = data.times, data.lines
    return [Gap(lines[i - 1], lines[i], times[i] - times[i - 1])
            for i in range(1, len(times)) if times[i] - times[i - 1] > limit]


def span_text(seconds: float) -> str:
    """A span as people read it: '3 days 4 h', '56.2 years'."""
    if seconds >= 730 * DAY:
        return f"{seconds / (365.25 * DAY):.1f} years"
    if seconds >= 2 * DAY:
        return f"{seconds / DAY:,.0f} days"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{seconds / DAY:.1f} days"


def _at(data: ReplayData, row: int) -> str:
    return datetime.fromtimestamp(data.times[row], UTC).isoformat(timespec="minutes")


def check_bounds(data: ReplayData, tick: float, max_ticks: int | None = None) -> list[str]:
    """The warnings about `data`'s span and gaps; DataError when the replay has more ticks
    than `max_ticks` (MAX_TICKS when None)."""
    ticks = replay_ticks(data, tick)
    span = data.times[-1] - data.times[0]
    first, last = data.lines[0], data.lines[-1]
    limit = MAX_TICKS if max_ticks is None else max_ticks
    where = (f"{span_text(span)} from line {first} ({_at(data, 0)}) to line {last} "
             f"({_at(data, -1)})")
    if ticks > limit:
        given = "the limit" if max_ticks is None else "--max-ticks"
        raise DataError(data.file, None, (
            f"the replay would be {ticks:,} ticks ({where}), over {given} of {limit:,}: "
            f"check the times of those rows, or give --max-ticks {ticks} to replay it all"))
    warnings: list[str] = []
    if span > LONG_SPAN:
        warnings.append(f"{data.file}: warning: the replay spans {where}: {ticks:,} ticks; "
                        "is a time wrong?")
    gaps = long_gaps(data)
    for gap in gaps[:_GAPS_SHOWN]:
        warnings.append(f"{data.file}:{gap.line}: warning: {span_text(gap.seconds)} without a "
                        f"row since line {gap.line_before}: the inputs keep their last values "
                        "through the gap")
    if len(gaps) > _GAPS_SHOWN:
        warnings.append(f"{data.file}: warning: {len(gaps) - _GAPS_SHOWN} more gaps of over "
                        f"{span_text(LONG_GAP)} between rows")
    return warnings


def largest_power(data: ReplayData) -> str:
    """'; the largest value is pv = 1e+308 W at line 2': the cell behind an energy sum that
    overflowed (the accounting reads the pv and house columns)."""
    found: tuple[float, str, int] | None = None
    for column in data.columns:
        if column.name not in ("pv", "house") or column.numbers is None:
            continue
        for row, value in enumerate(column.numbers):
            if math.isfinite(value) and (found is None or abs(value) > abs(found[0])):
                found = (value, column.name, data.lines[row])
    if found is None:
        return ""
    value, name, line = found
    return f"; the largest value is {name} = {value:g} W at line {line}"


def _spacing(seconds: float) -> str:
    """A row spacing as people write it: '5 min', '90 s', '1.5 h'."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def stale_warnings(data: ReplayData, stale_after: dict[str, float]) -> list[str]:
    """A warning for each input whose readings are further apart than its `stale_after`:
    between those rows the rules see it as unknown, and rules that stop on a stale input
    (as they should) replay to nothing. Names the key, the spacing and the lines."""
    warnings: list[str] = []
    times, lines = data.times, data.lines
    for column in data.columns:
        limit = stale_after.get(column.name)
        if limit is None:
            continue
        values = column.numbers if column.numbers is not None else column.texts
        assert values is not None
        # The rows that hold a reading of this column (an empty cell is no reading).
        rows = [i for i, v in enumerate(values) if v is not None and v == v]
        gaps = [(times[b] - times[a], a, b) for a, b in itertools.pairwise(rows)
                if times[b] - times[a] > limit]
        if not gaps:
            continue
        widest = max(gap for gap, _, _ in gaps)
        first, last = lines[gaps[0][1]], lines[gaps[-1][2]]
        count = f"{len(gaps)} gap{'s' if len(gaps) != 1 else ''}, "
        warnings.append(
            f"{data.file}: warning: inputs.{column.name}.stale_after is "
            f"{_spacing(limit)} but {data.file} has rows {_spacing(widest)} apart "
            f"({count}lines {first}-{last}): {column.name} is stale between rows; "
            f"set stale_after above the rows' spacing for the replay")
    return warnings
