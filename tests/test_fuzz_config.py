"""Fuzzing the config file: whatever the TOML, `parse_config` gives a Config or raises
ConfigError (naming the file), never anything else: not a RecursionError from a nesting
thousands deep, not an OverflowError from a huge number, not a ValueError from NaN.

Two sources: a valid config with random keys set to values of every type (huge ints,
inf, nan, deep arrays and tables, odd strings and paths, unknown keys at every level), and
the text of a valid config with characters changed. Bounded for CI: FUZZ_SCALE=10 hunts ten
times longer.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from evse_rules.config import Config, load_config, parse_config
from evse_rules.errors import ConfigError

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
STRUCTURED, MUTATED, FILES = 300 * SCALE, 150 * SCALE, 50 * SCALE


def event(what: str) -> None:
    """Count `what` in hypothesis's statistics (the parametrized cases run outside it)."""
    if currently_in_test_context():
        hypothesis_event(what)


def fuzz(cases: int) -> settings:
    """`cases` examples, no deadline (a loaded CI machine is slow, not wrong)."""
    return settings(max_examples=cases, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


VALID = """\
tick = "1 min"
rules = ["rules/solar.evr"]
journal = "evse-rules.sqlite"
state = "evse-rules-state.json"
journal_days = 90
timezone = "Europe/Paris"

[http]
enabled = true
listen = "127.0.0.1:8080"

[chargers.garage]
driver = "openevse"
url = "http://192.168.1.50"
user = "admin"
password_env = "EVSE_PASSWORD"
min_amps = 6
max_amps = 32
phases = 1
voltage = 230
min_on = "10 min"
min_off = "5 min"
mode = "manual"
timeout = "5 s"

[inputs.pv]
kind = "http"
url = "http://inverter.local/api/flow"
path = "site.pv_power"
unit = "W"
every = "10 s"
timeout = "5 s"
stale_after = "2 min"

[inputs.house]
kind = "constant"
value = "300 W"
"""

# Where values go: every key the config knows, and some it does not.
PATHS: tuple[tuple[str, ...], ...] = (
    ("tick",), ("rules",), ("journal",), ("state",), ("journal_days",), ("timezone",),
    ("http", "enabled"), ("http", "listen"), ("http", "password_env"), ("http", "password_file"),
    ("http", "allowed_origins"), ("chargers",), ("chargers", "garage"),
    *(("chargers", "garage", key) for key in (
        "driver", "url", "user", "password_env", "password_file", "min_amps", "max_amps",
        "phases", "voltage", "min_on", "min_off", "mode", "start_without_vehicle", "client_id",
        "every", "timeout", "on_exit", "priority", "unknown")),
    ("chargers", "second", "url"), ("chargers", "", "url"), ("chargers", "a.b", "driver"),
    ("chargers", "mode", "url"), ("chargers", "if", "url"), ("chargers", "évse", "url"),
    ("inputs",), ("inputs", "pv"),
    *(("inputs", "pv", key) for key in (
        "kind", "url", "path", "unit", "every", "timeout", "stale_after", "value", "user",
        "password_env", "password_file", "unknown")),
    ("inputs", "house", "value"), ("inputs", "house", "unit"), ("inputs", "pv2", "kind"),
    ("inputs", "garage", "kind"), ("site", "limit"), ("mqtt", "host"), ("unknown",),
)

TEXTS = st.one_of(
    st.sampled_from([
        "", " ", "1 min", "0 s", "-1 s", "1e400 s", "nan s", "inf h", "1e-400 s", "100 ms",
        "1 fortnight", "10", "W", "300 W", "-300 kW", "1e308 W", "nan W", "auto", "manual",
        "openevse", "rapi", "simulated", "http", "constant", "mqtt", "http://", "http://x:0",
        "http://x:99999", "ftp://x", "http://user:pass@h", "127.0.0.1:8080", "0.0.0.0:1",
        "[::1]:80", "Europe/Paris", "Mars/Olympus", "../../etc/passwd", "/dev/null", "/",
        "a" * 10_000, "site.pv_power", "a..b", "a.0.-1", "[0]", "\x00", "\u202e", "é",
        "a\nb", "${HOME}", "%s%s%n",
    ]),
    st.text(max_size=30),
)
SCALARS = st.one_of(
    TEXTS,
    st.integers(), st.sampled_from([0, -1, 6, 32, 2**31, 2**63 - 1, -(2**63), 10**300]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes().map(lambda d: d.isoformat()),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["a", "url", "kind", "x y", ""]),
                                            inner, max_size=3)),
    max_leaves=8,
)


def toml_value(value: Any) -> str:
    """A value as TOML text (inline), floats as TOML writes them: inf, -inf, nan."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)   # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def _set(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        inner = doc.get(key)
        if not isinstance(inner, dict):
            inner = doc[key] = {}
        doc = inner
    doc[path[-1]] = value


def toml_document(doc: dict[str, Any]) -> str:
    """A nested dict as TOML: one `dotted.key = value` line per leaf (a dict that is not a
    table of the config's own is a leaf too, written inline)."""
    lines: list[str] = []

    def walk(prefix: tuple[str, ...], value: Any) -> None:
        if isinstance(value, dict) and value and len(prefix) < 3:
            for key, inner in value.items():
                walk((*prefix, key), inner)
        else:
            lines.append(".".join(json.dumps(k) for k in prefix) + " = " + toml_value(value))
    walk((), doc)
    return "\n".join(lines) + "\n"


def _valid() -> dict[str, Any]:
    return tomllib.loads(VALID)


def parse_or_config_error(text: str, tmp: Path) -> Config | None:
    try:
        config = parse_config(text, "fuzz.toml", tmp)
    except ConfigError as error:
        assert str(error).startswith("fuzz.toml"), str(error)
        event("refused")
        return None
    event("accepted")
    return config


def test_the_base_config_is_valid(tmp_path: Path) -> None:
    # The structured fuzzing starts from a config that loads: what breaks is the change.
    assert parse_config(toml_document(_valid()), "fuzz.toml", tmp_path).chargers


@fuzz(STRUCTURED)
@given(st.lists(st.tuples(st.sampled_from(PATHS), VALUES), min_size=1, max_size=5))
def test_random_values_at_random_keys_give_a_config_or_config_error(
        changes: list[tuple[tuple[str, ...], Any]]) -> None:
    doc = _valid()
    for path, value in changes:
        _set(doc, path, value)
    config = parse_or_config_error(toml_document(doc), Path("/nonexistent-base"))
    if config is not None:
        # What validated is usable: the figures the daemon computes from it are finite.
        assert math.isfinite(config.tick_seconds) and config.tick_seconds > 0
        for name, spec in config.inputs.items():
            assert math.isfinite(config.input_every(name))
            if spec.kind != "constant":     # a constant is never stale: inf is its due
                assert math.isfinite(config.input_stale_after(name))
        for charger in config.chargers.values():
            assert 6 <= charger.min_amps <= charger.max_amps <= 32


@fuzz(MUTATED)
@given(st.lists(st.tuples(st.integers(0, len(VALID)), st.integers(0, 8),
                          st.sampled_from(["", "[", "]", "{", "}", "=", '"', "'", "\n", ".",
                                           "1e400", "nan", "-inf", "9" * 40, "\x00", "#",
                                           "[[", "]]", "\\u0000", "\\"])),
                min_size=1, max_size=6))
def test_a_mutated_config_text_gives_a_config_or_config_error(
        edits: list[tuple[int, int, str]]) -> None:
    text = VALID
    for at, cut, insert in edits:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + cut:]
    parse_or_config_error(text, Path("/nonexistent-base"))


DEEP_VALUES = {
    "array": lambda n: "[" * n + "]" * n,
    "table": lambda n: "{a = " * n + "1" + "}" * n,
    "dotted key": lambda n: None,
}


@pytest.mark.parametrize("key", ["tick", "chargers.garage.url", "unknown"])
@pytest.mark.parametrize("depth", [10, 1_000, 100_000])
@pytest.mark.parametrize("kind", sorted(DEEP_VALUES))
def test_a_deep_nesting_gives_a_config_or_config_error(kind: str, depth: int, key: str) -> None:
    value = DEEP_VALUES[kind](depth)
    # tomllib itself takes time quadratic in a dotted key's length (8,000 parts: 1.3 s):
    # dotted keys stop at 1,000 parts, nestings go to 100,000.
    line = ".".join(["a"] * min(depth, 1_000)) + " = 1" if value is None else f"{key} = {value}"
    base = VALID.replace('tick = "1 min"\n', "") if key == "tick" else VALID
    parse_or_config_error(line + "\n" + base, Path("/nonexistent-base"))


@fuzz(FILES)
@given(st.one_of(st.binary(max_size=200),
                 st.binary(max_size=40).map(lambda junk: VALID.encode() + junk),
                 st.sampled_from([b"\xef\xbb\xbf" + VALID.encode(), VALID.encode("utf-16"),
                                  b"\x00" * 10, b"\xff\xfe"])))
def test_a_config_file_of_any_bytes_gives_a_config_or_config_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-config-") as folder:
        path = Path(folder) / "evse-rules.toml"
        path.write_bytes(content)
        try:
            load_config(path)
        except ConfigError as error:
            assert str(error).startswith(str(path)), str(error)
