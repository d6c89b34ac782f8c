"""Fuzzing what a charger answers: whatever /config and /status say, the WiFi API parsers
(`evse_rules.chargers.openevse_parse`) give typed, finite values or raise a ChargerError,
never anything else; through the whole driver (HTTP, JSON decoding, parsing) `read_status`
raises only ChargerError, `refresh` raises nothing, and a `start` that follows posts only
whole claims (`state` and `charge_current`, a whole current within 6..32 A and the hard
limits the charger gave, if it gave finite ones).

Documents are real captures with fields changed to values of every JSON type (huge ints,
NaN, Infinity, 1e400, nestings, texts) or built from scratch; bodies are those documents as
text with raw tokens, cuts, deep nestings and bytes that are not UTF-8. Bounded for CI:
FUZZ_SCALE=10 hunts ten times longer.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from typing import Any

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from evse_rules.chargers.openevse import OpenEvseCharger
from evse_rules.chargers.openevse_parse import ChargerConfig, parse_config, parse_status
from evse_rules.errors import ChargerError
from evse_rules.testing.model import load_capture

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
DOCUMENTS, BODIES = 400 * SCALE, 150 * SCALE


def fuzz(cases: int) -> settings:
    """`cases` examples, no deadline (a loaded CI machine is slow, not wrong)."""
    return settings(max_examples=cases, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


CAPTURES = {
    "/config": [load_capture("config-v5.1.2.json"), load_capture("config-4.1.2.json")],
    "/status": [load_capture("status-v5.1.2.json"), load_capture("status-4.x.json")],
}
STATUS_KEYS = ("state", "amp", "pilot", "voltage", "power", "vehicle", "flags", "temp",
               "session_energy", "total_energy", "wattsec", "watthour", "config_version",
               "max_current", "elapsed", "status")
CONFIG_KEYS = ("version", "firmware", "min_current_hard", "max_current_hard",
               "max_current_soft", "is_threephase", "pause_uses_disabled")

SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.sampled_from([0, -1, 1, 3, 254, 255, 999, 2**31, 2**63, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([6.0, 32.0, 6.5, -0.0, 1e308, 5e-324]),
    st.text(max_size=12), st.sampled_from(["4.1.2", "v5.1.2", "master_abc", "", "NaN", "32"]),
)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6)


@st.composite
def documents(draw: st.DrawFn, path: str) -> dict[str, Any]:
    """A capture with some fields changed or removed, or a document from scratch."""
    keys = STATUS_KEYS if path == "/status" else CONFIG_KEYS
    # Mostly a real capture, so that the changed fields are what is wrong with it.
    base = draw(st.sampled_from([*CAPTURES[path], *CAPTURES[path], {}]))
    doc = dict(base)
    for key in draw(st.lists(st.sampled_from(keys), max_size=4)):
        if draw(st.integers(0, 5)) == 0:
            doc.pop(key, None)
        else:
            doc[key] = draw(JSON_VALUES)
    return doc


def _finite_or_none(value: float | None) -> bool:
    return value is None or math.isfinite(value)


@fuzz(DOCUMENTS)
@given(documents("/config"), documents("/status"), st.sampled_from([1, 3]))
def test_any_config_and_status_parse_or_raise_charger_error(
        config_doc: dict[str, Any], status_doc: dict[str, Any], phases: int) -> None:
    config: ChargerConfig | None = None
    try:
        parsed = parse_config("fuzz", config_doc, "GET /config")
    except ChargerError:
        event("/config refused")
    else:
        event("/config parsed")
        assert _finite_or_none(parsed.min_amps) and _finite_or_none(parsed.max_amps), parsed
        config = parsed
    try:
        status = parse_status("fuzz", status_doc, config, "GET /status", phases)
    except ChargerError:
        event("/status refused")
        return
    event("/status parsed")
    # What is taken is usable: every figure a finite number (rules compare and add them).
    figures = (status.current, status.amps, status.voltage, status.power,
               status.session_energy, status.total_energy, status.temp, status.min_amps,
               status.max_amps)
    assert all(_finite_or_none(f) for f in figures), status


RAW_TOKENS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" * 5000, "0x10", "01",
              "true", "null", '"\\ud800"', "[]", "{}"]


@st.composite
def bodies(draw: st.DrawFn, path: str) -> bytes:
    """A reply body: a document as JSON text, sometimes bent out of shape."""
    doc = draw(documents(path))
    text = json.dumps(doc)
    how = draw(st.sampled_from(["as is", "as is", "as is", "raw token", "raw token", "cut",
                                "deep", "bytes", "wrong type"]))
    if how == "raw token" and doc:
        key = draw(st.sampled_from(sorted(doc)))
        rest = {k: v for k, v in doc.items() if k != key}
        token = draw(st.sampled_from(RAW_TOKENS))
        text = json.dumps(rest)[:-1] + (", " if rest else "") + f"{json.dumps(key)}: {token}}}"
    elif how == "cut":
        text = text[:draw(st.integers(0, len(text)))]
    elif how == "deep":
        depth = draw(st.sampled_from([100, 1_000, 100_000]))
        opener = draw(st.sampled_from(["[", '{"a":']))
        closer = "]" if opener == "[" else "}"
        text = opener * depth + "1" + closer * depth
    elif how == "bytes":
        return draw(st.binary(max_size=64))
    elif how == "wrong type":
        text = json.dumps(draw(JSON_VALUES))
    event(f"body: {how}")
    return text.encode()


def _hard(doc_bytes: bytes, key: str) -> float | None:
    """A hard limit as the /config body gives it, if it is a plain JSON number."""
    try:
        doc = json.loads(doc_bytes)
    except (ValueError, RecursionError):
        return None
    value = doc.get(key) if isinstance(doc, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:       # an integer of hundreds of digits: the driver refuses it
        return None


@fuzz(BODIES)
@given(bodies("/config"), bodies("/status"), bodies("/status"))
def test_the_driver_reads_any_reply_or_raises_charger_error(
        config_body: bytes, status_body: bytes, claim_body: bytes) -> None:
    posted: list[Any] = []

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST":
            posted.append(json.loads(request.content))
            return httpx.Response(200, json={"msg": "done"})
        body = {"/config": config_body, "/status": status_body}.get(path, claim_body)
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    async def drive() -> None:
        charger = OpenEvseCharger("fuzz", "http://charger.test", timeout=5.0,
                                  transport=httpx.MockTransport(answer))
        try:
            try:
                await charger.read_status()
                event("read")
            except ChargerError:
                event("read refused")
            status = await charger.refresh()        # never raises
            assert status is not None
            try:
                await charger.start()
            except ChargerError:
                event("start refused")
        finally:
            await charger.close()

    asyncio.run(drive())
    hard_min, hard_max = _hard(config_body, "min_current_hard"), _hard(config_body,
                                                                         "max_current_hard")
    low = max(6, math.ceil(hard_min)) if hard_min is not None and math.isfinite(hard_min) else 6
    high = (min(32, math.floor(hard_max)) if hard_max is not None and math.isfinite(hard_max)
            else 32)
    for body in posted:
        assert isinstance(body, dict) and {"state", "charge_current"} <= body.keys(), body
        current = body["charge_current"]
        assert isinstance(current, int) and not isinstance(current, bool), body
        if body["state"] == "active":
            assert low <= current <= high, (body, low, high)
