"""Values from outside, charger part: every number a charger answers is finite and plausible,
its JSON bounded; anything else is a ChargerProtocolError naming the charger, the request,
the field and the value, and the refresh gives the offline status with that reason (one log
line, no traceback) while the engine goes on."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from evse_rules.chargers import ChargerState, OpenEvseCharger, RapiCharger
from evse_rules.chargers.http import MAX_JSON_BYTES, decode_json
from evse_rules.chargers.openevse_parse import parse_status
from evse_rules.chargers.rapi import frame
from evse_rules.chargers.states import map_state
from evse_rules.errors import ChargerProtocolError
from evse_rules.testing.model import load_capture

Edit = Callable[[dict[str, Any]], None]


def _no_change(doc: dict[str, Any]) -> None:
    return None


def wifi_charger(status: Edit = _no_change, config: Edit = _no_change,
                 raw_status: bytes | None = None) -> OpenEvseCharger:
    """A v5.1.2 charger over httpx.MockTransport whose /status and /config are edited."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/config":
            doc = load_capture("config-v5.1.2.json")
            config(doc)
        elif raw_status is not None:
            return httpx.Response(200, content=raw_status)
        else:
            doc = load_capture("status-v5.1.2.json")
            status(doc)
        return httpx.Response(200, content=json.dumps(doc).encode())

    return OpenEvseCharger("garage", "http://charger.local", transport=httpx.MockTransport(handle))


def _set(key: str, value: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        doc[key] = value
    return edit


@pytest.mark.parametrize("key, value, shown", [
    ("pilot", math.nan, "nan"),
    ("pilot", 1e300, "1e+300"),
    ("pilot", -3, "-3"),
    ("amp", math.inf, "inf"),
    ("voltage", 1e6, "1000000"),
    ("power", -1.0, "-1.0"),
    ("temp", 20000, "20000"),
    ("session_energy", -5, "-5"),
    ("total_energy", math.nan, "nan"),
    pytest.param("state", 10 ** 400, "1000000000000", id="state-10**400"),
    ("pilot", "16", "'16'"),
])
async def test_an_implausible_status_value_makes_the_charger_offline_with_the_reason(
        key: str, value: Any, shown: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "evse_rules.chargers")   # the driver says it at debug
    charger = wifi_charger(status=_set(key, value))
    with pytest.raises(ChargerProtocolError) as raised:
        await charger.read_status()
    message = str(raised.value)
    assert message.startswith("garage: GET http://charger.local/status: ")
    assert f"`{key}` is {shown}" in message and len(message) < 200
    for _ in range(3):                        # every tick: offline, never an exception
        status = await charger.refresh()
        assert status.state is ChargerState.OFFLINE and status.error == raised.value.message
    lines = [r for r in caplog.records if "offline" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None


@pytest.mark.parametrize("raw, why", [
    (b'{"state": NaN}', "`state` is nan"),
    (b'{"state": 3, "amp": 1e400, "pilot": 16}', "`amp` is inf"),
    (b'{"state": 3, "amp": 0, "pilot": Infinity}', "`pilot` is inf"),
    (b"[" * 100_000 + b"]" * 100_000, "nests deeper than 32 levels"),
    (b'{"a":' * 40 + b"1" + b"}" * 40, "nests deeper than 32 levels"),
    (b'{"x": "' + b"y" * MAX_JSON_BYTES + b'"}', "more than 1000000"),
])
async def test_bad_json_from_the_charger_is_refused_in_words(raw: bytes, why: str) -> None:
    # Was: NaN and 1e400 went into the status, deep nesting raised RecursionError with a
    # traceback at every tick.
    charger = wifi_charger(raw_status=raw)
    status = await charger.refresh()
    assert status.state is ChargerState.OFFLINE
    assert status.error is not None and why in status.error and len(status.error) < 300


@pytest.mark.parametrize("key, value", [
    ("min_current_hard", math.nan), ("max_current_hard", math.inf),
    ("max_current_hard", 1e400), ("min_current_hard", -1), ("max_current_hard", 500),
])
async def test_a_bad_limit_in_config_makes_the_charger_offline_until_it_is_fixed(
        key: str, value: float) -> None:
    # Was: one NaN in /config made every tick raise until a restart.
    bad = {"on": True}

    def config(doc: dict[str, Any]) -> None:
        if bad["on"]:
            doc[key] = value

    charger = wifi_charger(config=config)
    status = await charger.refresh()
    assert status.state is ChargerState.OFFLINE and status.error is not None
    assert f"GET http://charger.local/config: `{key}` is " in status.error
    bad["on"] = False                           # the charger is fixed: it is read again
    status = await charger.refresh()
    assert status.state is not ChargerState.OFFLINE


def test_a_long_value_is_cut_in_the_message() -> None:
    doc = load_capture("status-v5.1.2.json")
    doc["pilot"] = "x" * 500
    with pytest.raises(ChargerProtocolError) as raised:
        parse_status("garage", doc, None, "GET /status")
    assert "x" * 50 in raised.value.message and "x" * 61 not in raised.value.message


async def test_an_unknown_state_code_is_an_error_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    # Was: state 999 became "unknown EVSE state (EVSE state 999)" and nothing was logged.
    caplog.set_level(logging.WARNING, "evse_rules.chargers")
    assert map_state(999) == (ChargerState.ERROR, "unknown state code 999")
    charger = wifi_charger(status=_set("state", 999))
    for _ in range(3):
        status = await charger.refresh()
        assert (status.state, status.error) == (ChargerState.ERROR, "unknown state code 999")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["garage: charger error: unknown state code 999"]


def test_decoding_keeps_plain_documents() -> None:
    assert decode_json("garage", "GET /x", b'{"a": [1, 2.5, {"b": null}]}') == \
        {"a": [1, 2.5, {"b": None}]}


def _rapi(replies: dict[str, str]) -> RapiCharger:
    def handle(request: httpx.Request) -> httpx.Response:
        command = request.url.params["rapi"]
        name = command.split()[0]
        ret = replies.get(name, "$NK")
        return httpx.Response(200, json={"cmd": command, "ret": frame(ret)})

    return RapiCharger("shed", "http://rapi.local", transport=httpx.MockTransport(handle))


GOOD_RAPI = {"$GS": "$OK 3 100 3 0100", "$GG": "$OK 16000 -1", "$GE": "$OK 16 0",
             "$GC": "$OK 6 32 16 32", "$GU": "$OK 3600 1000", "$GP": "$OK 250 -2560 -2560",
             "$GV": "$OK 8.2.2 5.0.0"}


@pytest.mark.parametrize("command, reply, why", [
    ("$GE", "$OK 999 0", "$GE parameter 1: 999"),
    ("$GC", "$OK 6 900 16 32", "$GC parameter 2: 900"),
    ("$GG", "$OK 900000 -1", "$GG parameter 1: 900000"),
    ("$GU", "$OK -5 1000", "$GU parameter 1: -5"),
    ("$GP", "$OK 9000 -2560 -2560", "$GP: 9000"),
])
async def test_rapi_values_out_of_range_make_the_charger_offline(
        command: str, reply: str, why: str) -> None:
    charger = _rapi({**GOOD_RAPI, command: reply})
    status = await charger.refresh()
    assert status.state is ChargerState.OFFLINE and status.error is not None
    assert why in status.error, status.error
    good = await _rapi(GOOD_RAPI).refresh()
    assert good.state is ChargerState.CHARGING and good.amps == 16
