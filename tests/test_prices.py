"""Price series: the CSV, JSON and off-peak window sources, the config keys of a price input,
and the store that moves the input's value on at each slot boundary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evse_rules.config import parse_config
from evse_rules.engine import ChargerSettings, Engine, StateStore
from evse_rules.errors import ConfigError
from evse_rules.inputs.prices import (
    JsonShape,
    PriceError,
    Window,
    parse_time,
    read_csv,
    read_json,
    window_series,
)
from evse_rules.language.program import External, ExternalKind, Kind, ValueType
from evse_rules.prices import PriceSeries, PriceSlot

CET = timezone(timedelta(hours=1))
T0 = datetime(2026, 1, 15, 0, 0, tzinfo=CET)


def hourly(*prices: float, start: datetime = T0) -> PriceSeries:
    return PriceSeries(tuple(PriceSlot(start + timedelta(hours=h),
                                       start + timedelta(hours=h + 1), p)
                             for h, p in enumerate(prices)))


# ---- CSV ---------------------------------------------------------------------------------

def test_a_csv_of_time_and_price_gives_hourly_slots_the_last_as_long_as_the_one_before() -> None:
    series = read_csv("time,price\n2026-01-15T00:00:00+01:00,0.21\n"
                      "2026-01-15T01:00:00+01:00,0.18\n2026-01-15T02:00:00+01:00,0.15\n",
                      "p.csv")
    assert [(s.start.hour, s.end.hour, s.price) for s in series.slots] == [
        (0, 1, 0.21), (1, 2, 0.18), (2, 3, 0.15)]
    assert series.at(T0 + timedelta(minutes=90)) == 0.18
    assert series.at(T0 + timedelta(hours=3)) is None


def test_a_csv_without_header_with_quarter_hours_and_local_times() -> None:
    zone = ZoneInfo("Europe/Paris")
    series = read_csv("2026-01-15 00:00,0.2\n2026-01-15 00:15,0.1\n", "q.csv", zone)
    first, second = series.slots
    assert first.start == datetime(2026, 1, 15, 0, 0, tzinfo=zone)
    assert second.hours == 0.25 and second.price == 0.1


def test_a_csv_with_an_end_column_and_a_gap() -> None:
    series = read_csv("start,end,price\n"
                      "2026-01-15T00:00+01:00,2026-01-15T00:30+01:00,0.3\n"
                      "2026-01-15T02:00+01:00,2026-01-15T03:00+01:00,0.1\n", "g.csv")
    assert series.at(T0 + timedelta(minutes=45)) is None
    assert series.at(T0 + timedelta(hours=2, minutes=1)) == 0.1


@pytest.mark.parametrize(("text", "message"), [
    ("time,price\n2026-01-15T00:00+01:00,cheap\n", "p.csv:2: 'cheap' is not a price"),
    ("time,price\n2026-01-15T00:00+01:00,0.1\nyesterday,0.2\n",
     "p.csv:3: 'yesterday' is not an ISO 8601 time"),
    ("time,price\n2026-01-15T00:00+01:00,0.1\n2026-01-15T00:00+01:00,0.2\n",
     "p.csv:3: a second price for 2026-01-15T00:00:00+01:00"),
    ("time,price\n2026-01-15T00:00+01:00,95.3\n2026-01-15T01:00+01:00,95000\n",
     "p.csv:3: 95000 per kWh is beyond any tariff (a price per MWh? set scale = 0.001)"),
    ("time,price\n2026-01-15T00:00+01:00\n", "p.csv:2: expected 2 columns, found 1"),
    ("when,cost\n2026-01-15T00:00+01:00,0.1\n", "p.csv:1: the header names the columns"),
    ("time,price\n", "p.csv: no prices"),
    ("time,price\n2026-01-15T00:00+01:00,nan\n", "p.csv:2: 'nan' is not a finite price"),
])
def test_a_bad_csv_names_the_file_and_line(text: str, message: str) -> None:
    with pytest.raises(PriceError) as caught:
        read_csv(text, "p.csv")
    assert str(caught.value).startswith(message)


def test_scale_turns_a_price_per_mwh_into_per_kwh() -> None:
    series = read_csv("time,price\n2026-01-15T00:00+01:00,95.3\n", "p.csv", scale=0.001)
    assert series.slots[0].price == pytest.approx(0.0953)


# ---- JSON: the common providers' shapes --------------------------------------------------

def test_awattar_milliseconds_and_eur_per_mwh() -> None:
    start = int(datetime(2026, 1, 15, 0, 0, tzinfo=CET).timestamp() * 1000)
    document = {"object": "list", "data": [
        {"start_timestamp": start, "end_timestamp": start + 3_600_000,
         "marketprice": 95.3, "unit": "Eur/MWh"},
        {"start_timestamp": start + 3_600_000, "end_timestamp": start + 7_200_000,
         "marketprice": -4.1, "unit": "Eur/MWh"}]}
    shape = JsonShape("data", "start_timestamp", "end_timestamp", "marketprice", 0.001)
    series = read_json(document, shape)
    assert [round(s.price, 4) for s in series.slots] == [0.0953, -0.0041]
    assert series.slots[0].start == T0 and series.slots[1].end == T0 + timedelta(hours=2)


def test_tibber_today_and_tomorrow_without_ends() -> None:
    info = {"current": {"total": 0.25, "startsAt": "2026-01-15T10:00:00.000+01:00"},
            "today": [{"total": 0.25, "energy": 0.2, "startsAt": "2026-01-15T23:00:00.000+01:00"}],
            "tomorrow": [{"total": 0.19, "energy": 0.15,
                          "startsAt": "2026-01-16T00:00:00.000+01:00"},
                         {"total": 0.17, "energy": 0.13,
                          "startsAt": "2026-01-16T01:00:00.000+01:00"}]}
    document = {"data": {"viewer": {"homes": [{"currentSubscription": {"priceInfo": info}}]}}}
    shape = JsonShape("data.viewer.homes.0.currentSubscription.priceInfo", "startsAt", None,
                      "total")
    series = read_json(document, shape)
    assert [(s.start.isoformat(), s.hours, s.price) for s in series.slots] == [
        ("2026-01-15T23:00:00+01:00", 1.0, 0.25), ("2026-01-16T00:00:00+01:00", 1.0, 0.19),
        ("2026-01-16T01:00:00+01:00", 1.0, 0.17)]


def test_octopus_agile_newest_first_in_utc_and_pence() -> None:
    document = {"count": 2, "results": [
        {"value_exc_vat": 20.0, "value_inc_vat": 21.0, "valid_from": "2026-01-15T00:30:00Z",
         "valid_to": "2026-01-15T01:00:00Z"},
        {"value_exc_vat": 10.0, "value_inc_vat": 10.5, "valid_from": "2026-01-15T00:00:00Z",
         "valid_to": "2026-01-15T00:30:00Z"}]}
    shape = JsonShape("results", "valid_from", "valid_to", "value_inc_vat", 0.01)
    series = read_json(document, shape)
    assert [s.price for s in series.slots] == [0.105, 0.21]
    assert series.slots[0].start == datetime(2026, 1, 15, tzinfo=UTC)


@pytest.mark.parametrize(("document", "shape", "message"), [
    ({"data": []}, JsonShape("datas"), "path 'datas': key 'datas' not found"),
    ({"data": 3}, JsonShape("data"), "data: is int, not an array of prices"),
    ({"data": [{"start": "2026-01-15T00:00Z"}]}, JsonShape("data"),
     "data.0: has no key 'price' (keys: start)"),
    ({"data": [{"start": "2026-01-15T00:00Z", "price": 1},
               {"start": "tomorrow", "price": 2}]}, JsonShape("data"),
     "data.1: 'tomorrow' is not an ISO 8601 time"),
    ([{"start": "2026-01-15T00:00Z", "price": [1]}], JsonShape(),
     "the document.0: [1] is not a price"),
    ({"data": []}, JsonShape("data"), "data: holds no prices"),
])
def test_a_bad_json_names_the_path_and_item(document: object, shape: JsonShape,
                                            message: str) -> None:
    with pytest.raises(PriceError) as caught:
        read_json(document, shape)
    assert str(caught.value).startswith(message)


def test_times_as_seconds_milliseconds_and_without_offset() -> None:
    assert parse_time(1_768_431_600, UTC) == parse_time(1_768_431_600_000, UTC)
    assert parse_time("2026-01-15T00:00", CET) == T0
    with pytest.raises(ValueError, match="is not a time"):
        parse_time(True, UTC)


# ---- off-peak windows --------------------------------------------------------------------

def test_windows_give_offpeak_and_peak_slots_every_day_in_the_time_zone() -> None:
    zone = ZoneInfo("Europe/Paris")
    series = window_series([Window.parse("22:00-06:00"), Window.parse("12:30-14:00")],
                           0.18, 0.32, date(2026, 3, 28), zone)
    # The night the clocks go forward (29 March): the window still ends at 06:00 local.
    night = series.slot_at(datetime(2026, 3, 29, 3, 30, tzinfo=zone))
    assert night is not None and night.label == "offpeak" and night.price == 0.18
    assert night.start == datetime(2026, 3, 28, 22, 0, tzinfo=zone)
    assert night.end == datetime(2026, 3, 29, 6, 0, tzinfo=zone)
    assert night.hours == 7.0
    noon = series.slot_at(datetime(2026, 3, 28, 13, 0, tzinfo=zone))
    assert noon is not None and (noon.label, noon.price) == ("offpeak", 0.18)
    peak = series.slot_at(datetime(2026, 3, 28, 18, 0, tzinfo=zone))
    assert peak is not None and (peak.label, peak.price) == ("peak", 0.32)
    assert series.slots[0].start == datetime(2026, 3, 27, 0, 0, tzinfo=zone)
    assert series.end == datetime(2026, 3, 31, 0, 0, tzinfo=zone)


@pytest.mark.parametrize(("text", "message"), [
    ("22:00", "not a window"), ("22:00-25:00", "write times like"), ("06:00-06:00", "empty")])
def test_a_bad_window_says_how_to_write_it(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Window.parse(text)


def test_a_refresh_keeps_the_hours_already_past() -> None:
    old = hourly(0.3, 0.2, 0.1)
    new = hourly(0.4, 0.5, start=T0 + timedelta(hours=2))
    merged = old.merged(new)
    assert [s.price for s in merged.slots] == [0.3, 0.2, 0.4, 0.5]
    assert str(merged).startswith("4 prices from 2026-01-15T00:00:00+01:00")


# ---- the config --------------------------------------------------------------------------

BASE = """
rules = ["r.evr"]
[chargers.garage]
driver = "simulated"
"""


def config(inputs: str, tmp_path: Path | None = None) -> object:
    return parse_config(BASE + inputs, "evse-rules.toml", tmp_path)


def test_a_price_input_of_each_source_is_accepted(tmp_path: Path) -> None:
    loaded = parse_config(BASE + """
[inputs.price]
kind = "prices"
file = "prices.csv"
[inputs.market]
kind = "prices"
url = "https://api.awattar.de/v1/marketdata"
path = "data"
start_key = "start_timestamp"
end_key = "end_timestamp"
price_key = "marketprice"
scale = 0.001
every = "1 h"
[inputs.tariff]
kind = "prices"
offpeak = ["22:00-06:00"]
offpeak_price = 0.18
peak_price = 0.32
""", "evse-rules.toml", tmp_path)
    assert loaded.inputs["price"].file == tmp_path / "prices.csv"
    assert loaded.input_stale_after("market") == float("inf")
    env = loaded.environment()
    assert env.prices == frozenset({"price", "market", "tariff"})
    assert env.inputs["price"] == ValueType(Kind.NUMBER)


@pytest.mark.parametrize(("inputs", "key", "message"), [
    ('kind = "prices"', "inputs.price", "kind 'prices' reads one source"),
    ('kind = "prices"\nfile = "p.csv"\nurl = "http://x.local/p"', "inputs.price",
     "found file and url"),
    ('kind = "prices"\noffpeak = ["22:00-06:00"]\noffpeak_price = 0.2', "inputs.price",
     "offpeak windows need peak_price"),
    ('kind = "prices"\noffpeak = ["22:00"]\noffpeak_price = 0.2\npeak_price = 0.3',
     "inputs.price.offpeak", "not a window"),
    ('kind = "prices"\nfile = "p.csv"\nunit = "W"', "inputs.price", "takes no unit"),
    ('kind = "prices"\nfile = "p.csv"\nscale = 0', "inputs.price.scale", "must be a number"),
    ('kind = "http"\nurl = "http://x.local/p"\npath = "a"\nfile = "p.csv"', "inputs.price",
     "file: only for kind 'prices'"),
    ('kind = "prices"\nfile = "p.csv"\nprice_kee = "x"', "inputs.price.price_kee",
     "did you mean 'price_key'"),
])
def test_a_bad_price_input_names_the_key(inputs: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config("[inputs.price]\n" + inputs)
    errors = getattr(caught.value, "errors", [caught.value])
    assert any(e.key == key and message in e.message for e in errors), \
        [(e.key, e.message) for e in errors]


# ---- the store ---------------------------------------------------------------------------

PRICE_INPUT = External("price", ExternalKind.INPUT, ValueType(Kind.NUMBER))
PRICE_SERIES = External("price", ExternalKind.PRICES, ValueType(Kind.NUMBER))


def test_the_price_follows_the_slots_at_each_boundary_through_the_engine() -> None:
    class Reads:
        """A program that reads the price and its series and proposes nothing."""

        externals = (PRICE_INPUT, PRICE_SERIES)
        variables = ()
        rules = ()
        files = ()
        def __init__(self) -> None:
            self.seen: list[tuple[object, ...]] = []

        def tick(self, now: datetime, values: list[object]) -> object:
            from evse_rules.language.program import TickResult

            self.seen.append(tuple(values))
            return TickResult([], [])

        def reset(self) -> None:
            return None

    program = Reads()
    engine = Engine(program, [ChargerSettings("evse")])  # type: ignore[arg-type]
    series = hourly(0.3, 0.2, 0.1)
    engine.store.set_input("price", series, T0)  # type: ignore[arg-type]  # as a live read
    for minute in (0, 59, 60, 61, 130, 180):
        engine.step(T0 + timedelta(minutes=minute))
    assert [seen[0] for seen in program.seen] == [0.3, 0.3, 0.2, 0.2, 0.1, None]
    assert all(seen[1] is series for seen in program.seen)
    reading = engine.store.reading("price")
    assert reading.stale and reading.value is None


def test_a_series_given_without_a_time_applies_at_the_next_step() -> None:
    store = StateStore()
    store.add_charger(ChargerSettings("evse"))
    store.bind((PRICE_INPUT,))
    store.set_prices("price", hourly(0.3, 0.2))
    assert store.values == [None]
    store.expire(T0 + timedelta(minutes=70))
    assert store.values == [0.2]
    assert store.prices("price") == hourly(0.3, 0.2)


def test_a_gap_in_the_series_is_unknown_until_the_next_slot() -> None:
    store = StateStore()
    store.bind((PRICE_INPUT,))
    series = PriceSeries((PriceSlot(T0, T0 + timedelta(hours=1), 0.3),
                          PriceSlot(T0 + timedelta(hours=2), T0 + timedelta(hours=3), 0.1)))
    store.set_prices("price", series, T0 + timedelta(minutes=90))
    assert store.values == [None]
    assert store.stale_deadline == T0 + timedelta(hours=2)
    store.expire(T0 + timedelta(hours=2))
    assert store.values == [0.1]


# ---- anything at all ---------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats()
                    | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["start", "end", "price", "data", "x"]),
                                      inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_price_csv_or_a_price_error(text: str) -> None:
    try:
        series = read_csv(text, "p.csv")
    except PriceError as error:
        assert str(error).startswith("p.csv")
        return
    assert all(abs(slot.price) <= 1e4 and slot.end > slot.start for slot in series.slots)


@settings(max_examples=300, deadline=None)
@given(JSON, st.sampled_from([None, "data"]))
def test_any_json_is_a_price_list_or_a_price_error(document: object, path: str | None) -> None:
    try:
        series = read_json(document, JsonShape(path))
    except PriceError:
        return
    assert series.slots and all(abs(slot.price) <= 1e4 for slot in series.slots)
