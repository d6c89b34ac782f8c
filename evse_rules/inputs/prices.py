"""Price inputs: a series of priced slots from a CSV file, an HTTP JSON array or off-peak
windows (docs/tariffs.md).

    [inputs.price]
    kind = "prices"
    file = "prices.csv"                 # or url + path (JSON), or offpeak windows
    every = "1 h"

A read returns the whole series (`PriceSeries`); the store keeps it and gives rules the
current slot's price as the input's value. A read that fails raises `InputError` naming the
input and the place (the file and line, the JSON path and item) and the store keeps the
last good series. Times without an offset are local times of the config's time zone; a
number is POSIX time, in seconds or (above 1e11) milliseconds.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from evse_rules.inputs.base import Clock, InputError, Reading, utc_now
from evse_rules.prices import PriceSeries, PriceSlot

if TYPE_CHECKING:
    import httpx

# How far a series of windows reaches: from the start of yesterday to the end of the day
# after tomorrow (a period of `cheapest` looks a day back and a day ahead).
_WINDOW_DAYS = (-1, 3)
# A price beyond this (per kWh, in any currency) is a unit slip: EUR/MWh read as per kWh
# without `scale`, or a broken feed.
PLAUSIBLE_PRICE = 1e4
# The most slots one series holds: 15-minute prices for a month.
MAX_SLOTS = 4 * 24 * 31
# The length of the last slot when nothing says when it ends and it has no neighbour.
DEFAULT_SLOT = timedelta(hours=1)


class PriceError(ValueError):
    """A price source that cannot be read: `where` names the place (a line, a JSON path)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class JsonShape:
    """Where the prices are in a JSON document and what their keys are called."""

    path: str | None = None        # dotted path to the array (None: the document is it)
    start: str = "start"
    end: str | None = "end"        # None or absent in an item: the next item's start
    price: str = "price"
    scale: float = 1.0             # multiplies every price (0.001: per MWh -> per kWh)


@dataclass(frozen=True, slots=True)
class Window:
    """A daily window of the off-peak tariff, in local time: `start` to `end` (the next
    day's when it is not after the start)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> Window:
        """'22:00-06:00' -> Window(22:00, 06:00); ValueError says what to write."""
        first, sep, second = text.partition("-")
        if not sep:
            raise ValueError(f"{text!r} is not a window: write it like '22:00-06:00'")
        try:
            start, end = (time.fromisoformat(part.strip()) for part in (first, second))
        except ValueError:
            raise ValueError(f"{text!r} is not a window: write times like '22:00-06:00'"
                             ) from None
        if start == end:
            raise ValueError(f"{text!r} is empty (it starts when it ends)")
        return cls(start, end)


def parse_time(value: Any, zone: tzinfo | None) -> datetime:
    """An ISO 8601 text or POSIX seconds / milliseconds as an aware datetime."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a time")
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError(f"{value!r} is not a time")
        if abs(seconds) > 1e11:          # milliseconds (aWATTar's start_timestamp)
            seconds /= 1000.0
        try:
            return datetime.fromtimestamp(seconds, zone).astimezone(zone)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{value!r} is not a time") from None
    if not isinstance(value, str):
        raise ValueError(f"{json.dumps(value)[:60]} is not a time")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value[:60]!r} is not an ISO 8601 time (like "
                         "2026-01-15T22:00:00+01:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone) if zone is not None else moment.astimezone()
    return moment


def parse_price(value: Any, scale: float = 1.0) -> float:
    """A price (a number or a numeric text) times `scale`, checked finite and plausible."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{json.dumps(value)[:60]} is not a price")
    try:
        number = float(value) * scale
    except (ValueError, OverflowError):
        raise ValueError(f"{str(value)[:60]!r} is not a price") from None
    if not math.isfinite(number):
        raise ValueError(f"{str(value)[:60]!r} is not a finite price")
    if abs(number) > PLAUSIBLE_PRICE:
        raise ValueError(f"{number:g} per kWh is beyond any tariff (a price per MWh? "
                         "set scale = 0.001)")
    return number


def _series(points: Sequence[tuple[datetime, datetime | None, float]],
            where: Sequence[str]) -> PriceSeries:
    """Slots from (start, end or None, price), sorted; an open end runs to the next start
    (the last one lasts as long as the one before it)."""
    if len(points) > MAX_SLOTS:
        raise PriceError(where[MAX_SLOTS], f"more than {MAX_SLOTS} prices (a month of "
                                           "quarter hours)")
    order = sorted(range(len(points)), key=lambda i: points[i][0])
    for before, after in itertools.pairwise(order):
        if points[before][0] == points[after][0]:
            raise PriceError(where[max(before, after)],
                             f"a second price for {points[after][0].isoformat()}")
    slots: list[PriceSlot] = []
    for rank, i in enumerate(order):
        start, end, price = points[i]
        if end is None:
            if rank + 1 < len(order):
                end = points[order[rank + 1]][0]
            elif slots:
                end = start + timedelta(hours=slots[-1].hours)
            else:
                end = start + DEFAULT_SLOT
        if not end > start:
            raise PriceError(where[i], f"the slot ends ({end.isoformat()}) before it starts "
                                       f"({start.isoformat()})")
        if slots and start < slots[-1].end:
            raise PriceError(where[i], f"the slot from {start.isoformat()} overlaps the one "
                                       f"from {slots[-1].start.isoformat()}")
        slots.append(PriceSlot(start, end, price))
    return PriceSeries(tuple(slots))


# ---- CSV ---------------------------------------------------------------------------------

def read_csv(text: str, file: str, zone: tzinfo | None = None,
             scale: float = 1.0) -> PriceSeries:
    """A price CSV: `time,price` (an optional header; an optional `end` column between
    them). PriceError names the file and line."""
    try:
        return _read_csv(text, file, zone, scale)
    except csv.Error as error:          # a NUL byte, an unclosed quote at the end
        raise PriceError(file, f"not a CSV file ({error})") from None


def _read_csv(text: str, file: str, zone: tzinfo | None, scale: float) -> PriceSeries:
    rows = csv.reader(io.StringIO(text))
    points: list[tuple[datetime, datetime | None, float]] = []
    where: list[str] = []
    columns: tuple[int, int | None, int] = (0, None, 1)
    header_seen = False
    for line, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        place = f"{file}:{line}"
        if not points and not header_seen and _is_header(cells):
            columns = _header_columns(cells, place)
            header_seen = True
            continue
        start_at, end_at, price_at = columns
        wanted = 1 + max(i for i in columns if i is not None)
        if len(cells) < wanted:
            raise PriceError(place, f"expected {wanted} columns, found {len(cells)}")
        try:
            start = parse_time(cells[start_at], zone)
            end = (parse_time(cells[end_at], zone) if end_at is not None and cells[end_at]
                   else None)
            price = parse_price(cells[price_at], scale)
        except ValueError as error:
            raise PriceError(place, str(error)) from None
        points.append((start, end, price))
        where.append(place)
    if not points:
        raise PriceError(file, "no prices (expected rows of time,price)")
    return _series(points, where)


def _is_header(cells: list[str]) -> bool:
    try:
        parse_time(cells[0], None)
    except ValueError:
        return True
    return False


def _header_columns(cells: list[str], place: str) -> tuple[int, int | None, int]:
    names = [cell.lower() for cell in cells]
    start = next((i for i, n in enumerate(names) if n in ("time", "start")), None)
    price = next((i for i, n in enumerate(names) if n.partition("[")[0] == "price"), None)
    end = next((i for i, n in enumerate(names) if n == "end"), None)
    if start is None or price is None:
        raise PriceError(place, f"the header names the columns time and price (and "
                                f"optionally end), found {','.join(cells)}")
    return start, end, price


def read_csv_file(path: Path, zone: tzinfo | None = None, scale: float = 1.0) -> PriceSeries:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PriceError(str(path), "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PriceError(str(path), f"cannot read: {error}") from None
    return read_csv(text, str(path), zone, scale)


# ---- JSON --------------------------------------------------------------------------------

def read_json(document: Any, shape: JsonShape, zone: tzinfo | None = None) -> PriceSeries:
    """The prices of a parsed JSON document. `shape.path` leads to the array of prices, or
    to an object whose arrays are read one after the other (Tibber's priceInfo holds
    `today` and `tomorrow`). PriceError names the path and the item."""
    from evse_rules.inputs.http import follow, parse_path

    here = document
    where = shape.path or "the document"
    if shape.path:
        try:
            here = follow(document, parse_path(shape.path))
        except ValueError as error:
            raise PriceError(f"path {shape.path!r}", str(error)) from None
    arrays: list[tuple[str, list[Any]]] = []
    if isinstance(here, list):
        arrays.append((where, here))
    elif isinstance(here, dict):
        arrays = [(f"{where}.{key}", value) for key, value in here.items()
                  if isinstance(value, list)]
    if not arrays:
        kind = type(here).__name__
        raise PriceError(where, f"is {kind}, not an array of prices (or an object holding "
                                "arrays)")
    points: list[tuple[datetime, datetime | None, float]] = []
    places: list[str] = []
    for name, items in arrays:
        for index, item in enumerate(items):
            place = f"{name}.{index}"
            if not isinstance(item, dict):
                raise PriceError(place, f"is {type(item).__name__}, not an object with "
                                        f"{shape.start!r} and {shape.price!r}")
            for key in (shape.start, shape.price):
                if key not in item:
                    raise PriceError(place, f"has no key {key!r} (keys: "
                                            f"{', '.join(map(str, list(item)[:10]))})")
            try:
                start = parse_time(item[shape.start], zone)
                raw_end = item.get(shape.end) if shape.end else None
                end = parse_time(raw_end, zone) if raw_end is not None else None
                price = parse_price(item[shape.price], shape.scale)
            except ValueError as error:
                raise PriceError(place, str(error)) from None
            points.append((start, end, price))
            places.append(place)
    if not points:
        raise PriceError(where, "holds no prices")
    return _series(points, places)


# ---- off-peak windows --------------------------------------------------------------------

def window_series(windows: Sequence[Window], offpeak: float, peak: float, around: date,
                  zone: tzinfo | None, until: date | None = None) -> PriceSeries:
    """The fixed tariff as slots from the day before `around` to two days after it (or
    after `until`, for a replay of several days): the windows at `offpeak` (labelled
    "offpeak"), the rest of each day at `peak` ("peak")."""
    first = around + timedelta(days=_WINDOW_DAYS[0])
    last = max(around, until or around) + timedelta(days=_WINDOW_DAYS[1])

    def at(day: date, moment: time) -> datetime:
        local = datetime.combine(day, moment)
        return local.replace(tzinfo=zone) if zone is not None else local.astimezone()

    spans: list[tuple[datetime, datetime]] = []
    day = first - timedelta(days=1)       # yesterday's window may run into the first day
    while day <= last:
        for window in windows:
            start = at(day, window.start)
            end_day = day if window.end > window.start else day + timedelta(days=1)
            spans.append((start, at(end_day, window.end)))
        day += timedelta(days=1)
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    begin, finish = at(first, time(0)), at(last, time(0))
    slots: list[PriceSlot] = []
    cursor = begin
    for start, end in merged:
        start, end = max(start, begin), min(end, finish)
        if end <= start:
            continue
        if start > cursor:
            slots.append(PriceSlot(cursor, start, peak, "peak"))
        slots.append(PriceSlot(start, end, offpeak, "offpeak"))
        cursor = end
    if cursor < finish:
        slots.append(PriceSlot(cursor, finish, peak, "peak"))
    return PriceSeries(tuple(slots))


# ---- the input ---------------------------------------------------------------------------

class PriceInput:
    """A price series read on its interval; `read` gives the series as the reading's
    value (the store keeps it, and rules read the current slot's price)."""

    def __init__(
        self,
        name: str,
        *,
        file: Path | None = None,
        url: str | None = None,
        shape: JsonShape | None = None,
        windows: Sequence[Window] = (),
        offpeak_price: float = 0.0,
        peak_price: float = 0.0,
        scale: float = 1.0,
        zone: tzinfo | None = None,
        every: float = 3600.0,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        auth: tuple[str, str] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if sum(x is not None for x in (file, url)) + bool(windows) != 1:
            raise ValueError("a price input reads one of: a file, a url, offpeak windows")
        self.name = name
        self.every = every
        self.stale_after = math.inf      # the series says when it has no price
        self._file = file
        self._url = url
        self._shape = shape or JsonShape()
        self._windows = tuple(windows)
        self._offpeak = offpeak_price
        self._peak = peak_price
        self._scale = scale
        self._zone = zone
        self._timeout = timeout
        self._client = client
        self._own_client = False
        self._auth = auth
        self._clock = clock
        self._last: PriceSeries | None = None

    def _fail(self, cause: str) -> InputError:
        return InputError(self.name, cause)

    async def series(self) -> PriceSeries:
        """Read the series now (the older slots of the last one kept); InputError else."""
        now = self._clock()
        try:
            if self._file is not None:
                fresh = read_csv_file(self._file, self._zone, self._scale)
            elif self._url is not None:
                fresh = read_json(await self._document(), self._shape, self._zone)
            else:
                local = now.astimezone(self._zone) if self._zone else now.astimezone()
                fresh = window_series(self._windows, self._offpeak, self._peak,
                                      local.date(), self._zone)
        except PriceError as error:
            where = error.where if self._url is None else \
                f"{self._shown_url()}: {error.where}"
            raise self._fail(f"{where}: {error.message}") from None
        if self._last is not None and self._url is not None:
            fresh = self._last.merged(fresh, keep_from=now - timedelta(days=2))
        self._last = fresh
        return fresh

    async def read(self) -> Reading:
        # A Reading holds numbers; the series is carried as it is (the store knows it).
        return Reading(cast(float, await self.series()), self._clock())

    def _shown_url(self) -> str:
        from evse_rules.inputs.http import safe_url

        return safe_url(self._url or "")

    async def _document(self) -> Any:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient()
            self._own_client = True
        from evse_rules.inputs.http import FetchError, get_json

        auth = httpx.BasicAuth(*self._auth) if self._auth is not None else None
        try:
            return await get_json(self._client, self._url or "", timeout=self._timeout,
                                  auth=auth, what="a price list")
        except FetchError as error:
            raise self._fail(f"{self._shown_url()}: {error.cause}") from None

    async def close(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def __repr__(self) -> str:
        return f"PriceInput({self.name!r})"
