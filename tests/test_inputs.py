"""Inputs: an HTTP JSON meter (against a real loopback server) and constants."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from evse_rules.inputs import ConstantInput, InputError
from evse_rules.inputs.http import HttpInput, follow, parse_path, safe_url
from evse_rules.testing.meter import pv_meter

NOON = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def test_http_input_reads_a_path_with_list_index_and_converts() -> None:
    with pv_meter() as meter:
        meter.power = 2.5
        pv = HttpInput("pv", meter.url, "site.meters.0.power", factor=1000.0, clock=lambda: NOON)
        reading = await pv.read()
        await pv.close()
    assert reading.value == 2500.0
    assert reading.at == NOON


@pytest.mark.parametrize(("mode", "cause"), [
    ("500", "HTTP 500"),
    ("garbage", "invalid JSON"),
    ("dead", "connection failed"),
])
async def test_http_failures_name_input_url_and_cause(mode: str, cause: str) -> None:
    with pv_meter() as meter:
        meter.mode = mode
        pv = HttpInput("pv", meter.url, "site.pv_power", timeout=2.0)
        with pytest.raises(InputError) as info:
            await pv.read()
        await pv.close()
    message = str(info.value)
    assert message.startswith(f"inputs.pv: {meter.url}: ")
    assert cause in message


async def test_http_timeout_is_reported_in_seconds() -> None:
    with pv_meter() as meter:
        meter.mode = "slow"
        meter.slow_seconds = 1.0
        pv = HttpInput("pv", meter.url, "site.pv_power", timeout=0.2)
        with pytest.raises(InputError, match=r"inputs\.pv: .*: no answer within 0\.2 s"):
            await pv.read()
        await pv.close()


async def test_path_not_found_names_the_key() -> None:
    with pv_meter() as meter:
        pv = HttpInput("pv", meter.url, "site.pv_powr")
        with pytest.raises(InputError) as info:
            await pv.read()
        await pv.close()
    assert str(info.value) == "inputs.pv: path 'site.pv_powr': key 'pv_powr' not found"


def test_follow_explains_where_it_stops() -> None:
    doc = {"site": {"meters": [{"power": 1}], "name": "home"}}
    assert follow(doc, parse_path("site.meters.-1.power")) == 1
    with pytest.raises(ValueError, match=r"index 3 out of range \(site.meters has 1 items\)"):
        follow(doc, parse_path("site.meters.3.power"))
    with pytest.raises(ValueError, match=r"site\.meters is a list: .x. is not an index"):
        follow(doc, parse_path("site.meters.x"))
    with pytest.raises(ValueError, match=r"site\.name is str .home., not an object"):
        follow(doc, parse_path("site.name.first"))
    with pytest.raises(ValueError, match="not a dotted path"):
        parse_path("site..power")


async def test_non_numeric_values_are_errors_and_numeric_strings_are_read() -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"a": "12.5", "b": "n/a", "c": None, "d": True})

    client = httpx.AsyncClient(transport=httpx.MockTransport(serve))
    assert (await HttpInput("x", "http://m/", "a", client=client).read()).value == 12.5
    assert (await HttpInput("x", "http://m/", "d", client=client).read()).value == 1.0
    with pytest.raises(InputError, match="value 'n/a' is not a number"):
        await HttpInput("x", "http://m/", "b", client=client).read()
    with pytest.raises(InputError, match="value null is not a number"):
        await HttpInput("x", "http://m/", "c", client=client).read()
    await client.aclose()


async def test_credentials_never_appear_in_errors() -> None:
    url = "http://admin:hunter2@127.0.0.1:9/api?token=abc123&scope=site"
    pv = HttpInput("pv", url, "x", timeout=0.5)
    with pytest.raises(InputError) as info:
        await pv.read()
    await pv.close()
    message = str(info.value)
    assert "hunter2" not in message and "abc123" not in message and "admin" not in message
    assert "scope=site" in message
    assert safe_url(url) == "http://127.0.0.1:9/api?token=***&scope=site"


async def test_constant_input_is_never_stale() -> None:
    house = ConstantInput("house", 300.0, clock=lambda: NOON)
    reading = await house.read()
    assert (reading.value, reading.at) == (300.0, NOON)
    assert house.stale_after == float("inf")


async def test_http_basic_auth_is_sent_and_a_refusal_is_clear() -> None:
    seen: list[str | None] = []

    def serve(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        if request.headers.get("authorization") != "Basic bWV0ZXI6czNjcmV0":   # meter:s3cret
            return httpx.Response(401)
        return httpx.Response(200, json={"pv": 1200})

    client = httpx.AsyncClient(transport=httpx.MockTransport(serve))
    good = HttpInput("pv", "http://m/", "pv", client=client, auth=("meter", "s3cret"))
    assert (await good.read()).value == 1200.0
    bad = HttpInput("pv", "http://m/", "pv", client=client, auth=("meter", "wrong-pw"))
    with pytest.raises(InputError, match="HTTP 401: authentication failed") as info:
        await bad.read()
    assert "wrong-pw" not in str(info.value) + repr(bad)
    await client.aclose()


@pytest.mark.parametrize(("body", "words"), [
    (b'{"site": {"pv_power": 1e12}}', "beyond any home meter's range"),
    (b'{"site": {"pv_power": "NaN"}}', "not a finite number"),
    (b'{"site": {"pv_power": 1' + b"0" * 400 + b'}}', "not a finite number"),
    (b'{"site": {"pv_power": 1, "pad": "' + b"x" * 1_100_000 + b'"}}', "more than a meter's"),
])
async def test_an_implausible_or_huge_meter_answer_is_refused_in_words(
        body: bytes, words: str) -> None:
    import httpx

    from evse_rules.inputs.base import InputError
    from evse_rules.inputs.http import HttpInput

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    async with httpx.AsyncClient(transport=transport) as client:
        meter = HttpInput("pv", "http://meter.local/flow", "site.pv_power", client=client)
        with pytest.raises(InputError, match=words):
            await meter.read()
