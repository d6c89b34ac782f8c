"""Price inputs live: a real HTTP server on loopback serves the prices, the daemon reads them
on their interval, rules read the current price and choose the cheapest hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from evse_rules.config import parse_config
from evse_rules.engine.journal import Journal
from evse_rules.inputs.base import InputError
from evse_rules.inputs.prices import JsonShape, PriceInput
from evse_rules.live import Daemon, FakeTime
from evse_rules.prices import PriceSeries
from evse_rules.testing.prices import price_server

START = datetime(2026, 1, 15, 1, 0, tzinfo=UTC)
# EUR/MWh by the hour from midnight UTC: the cheapest two hours are 02:00 and 03:00.
MWH = [120.0, 95.0, 41.0, 38.0, 60.0, 88.0, 130.0, 150.0]


def awattar(prices: list[float] = MWH) -> dict[str, Any]:
    midnight = int(datetime(2026, 1, 15, tzinfo=UTC).timestamp() * 1000)
    hour = 3_600_000
    return {"object": "list", "data": [
        {"start_timestamp": midnight + i * hour, "end_timestamp": midnight + (i + 1) * hour,
         "marketprice": price, "unit": "Eur/MWh"} for i, price in enumerate(prices)]}


AWATTAR = JsonShape("data", "start_timestamp", "end_timestamp", "marketprice", 0.001)


async def test_the_input_reads_the_series_and_a_failure_names_the_url() -> None:
    with price_server(awattar()) as server:
        prices = PriceInput("price", url=server.url, shape=AWATTAR, clock=lambda: START)
        try:
            reading = await prices.read()
            assert reading.at == START
            assert cast(object, reading.value).__class__ is PriceSeries   # carried whole
            series = await prices.series()
            assert isinstance(series, PriceSeries)
            assert series.at(START) == pytest.approx(0.095)
            server.mode = "500"
            with pytest.raises(InputError, match=r"inputs\.price: http://127\.0\.0\.1:\d+"
                                                 r"/prices: HTTP 500"):
                await prices.read()
            server.mode = "garbage"
            with pytest.raises(InputError, match="invalid JSON"):
                await prices.read()
            server.mode = "ok"
            server.document = {"data": [{"start_timestamp": 1}]}
            with pytest.raises(InputError, match=r"data\.0: has no key 'marketprice'"):
                await prices.read()
        finally:
            await prices.close()


async def test_a_refresh_with_tomorrows_prices_keeps_todays_past_hours() -> None:
    with price_server(awattar()) as server:
        prices = PriceInput("price", url=server.url, shape=AWATTAR, clock=lambda: START)
        try:
            await prices.read()
            later = awattar(MWH)
            later["data"] = later["data"][4:]
            server.document = later
            series = await prices.series()
            assert len(series.slots) == 8
        finally:
            await prices.close()


CONFIG = """
tick = "1 min"
rules = ["cheap.evr"]
timezone = "UTC"
[chargers.garage]
driver = "simulated"
mode = "auto"
min_on = "0 s"
min_off = "0 s"
[inputs.price]
kind = "prices"
url = "{url}"
path = "data"
start_key = "start_timestamp"
end_key = "end_timestamp"
price_key = "marketprice"
scale = 0.001
every = "1 min"
"""

RULES = """\
if mode is auto:
    if cheapest(price, 2 h, 07:00) then start, set amps to 16 A else stop
when price < 0.05:
    log "cheap: {price}"
"""


async def test_the_daemon_charges_in_the_cheapest_hours_and_keeps_the_last_series(
        tmp_path: Path) -> None:
    (tmp_path / "cheap.evr").write_text(RULES)
    with price_server(awattar()) as server:
        # The first read gives the prices; every later one fails (HTTP 500).
        server.fail_after = 1
        config = parse_config(CONFIG.format(url=server.url), "evse-rules.toml", tmp_path)
        time = FakeTime(START + timedelta(minutes=58))       # 01:58 .. 02:02
        daemon = Daemon(config, clock=time.clock, sleep=time.sleep, max_ticks=5)
        await daemon.run()
        assert server.requests >= 3
    store = daemon.store
    series = store.prices("price")
    assert series is not None and len(series.slots) == 8        # the last good series
    # At 02:00 the value moved on to the next slot's price, from the kept series.
    assert store.input_value("price") == pytest.approx(0.041)
    with Journal(config.journal_path) as journal:
        entries = journal.entries()
    started = [e.at for e in entries if e.type == "command" and e.kind == "start"]
    assert started == [START + timedelta(hours=1)]
    details = [e.detail or "" for e in entries if e.type == "event"]
    assert any("cheap: 0.041" in text for text in details), details
    failures = [text for text in details if "HTTP 500" in text]
    assert len(failures) == 1 and failures[0].startswith(f"inputs.price: {server.url}"), details
