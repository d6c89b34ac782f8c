"""Every config value is bounded: what `load_config` accepts, the daemon runs; the rest is a
clean error naming the file and the key, never a traceback."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evse_rules.cli import main
from evse_rules.config import parse_config
from evse_rules.engine.journal import Journal
from evse_rules.errors import ConfigError
from evse_rules.live import Daemon, FakeTime

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

BASE = """
tick = "1 min"
rules = ["r.evr"]
{top}
[chargers.garage]
driver = "simulated"
mode = "auto"
{charger}
[inputs.pv]
kind = "http"
url = "http://127.0.0.1:9/pv"
path = "pv"
unit = "W"
{pv}
[inputs.house]
kind = "constant"
value = "300 W"
"""


def _config(top: str = "", charger: str = "", pv: str = "") -> str:
    text = BASE.format(top=top, charger=charger, pv=pv)
    if top.startswith("tick = "):
        text = text.replace('tick = "1 min"\n', "", 1)
    return text


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "evse-rules.toml", Path("/nowhere"))
    return info.value


@pytest.mark.parametrize(("top", "charger", "pv", "key", "words"), [
    ("journal_days = 800000", "", "", "journal_days", "from 0 (keep everything) to 3650"),
    ("journal_days = -1", "", "", "journal_days", "to 3650, got -1"),
    ("journal_days = true", "", "", "journal_days", "whole number of days"),
    ("journal_days = 1.5", "", "", "journal_days", "whole number of days"),
    ('tick = "1e-300 s"', "", "", "tick", "between 100 ms and 1 h, got '1e-300 s'"),
    ('tick = "50 ms"', "", "", "tick", "between 100 ms and 1 h"),
    ('tick = "61 min"', "", "", "tick", "between 100 ms and 1 h"),
    ("", 'min_on = "1e300 h"', "", "chargers.garage.min_on", "between 0 s and 720 h (30 days)"),
    ("", 'min_off = "721 h"', "", "chargers.garage.min_off", "between 0 s and 720 h"),
    ("", 'every = "1e300 h"', "", "chargers.garage.every", "between 100 ms and 24 h (1 day)"),
    ("", 'timeout = "1e300 h"', "", "chargers.garage.timeout", "between 100 ms and 1 h"),
    ("", "", 'stale_after = "1e300 h"', "inputs.pv.stale_after", "between 100 ms and 720 h"),
    ("", "", 'every = "25 h"', "inputs.pv.every", "between 100 ms and 24 h"),
    ("", "", 'timeout = "1e300 h"', "inputs.pv.timeout", "between 100 ms and 1 h"),
    ("", "max_amps = inf", "", "chargers.garage.max_amps", "whole number of amperes, got inf"),
    ("", "min_amps = nan", "", "chargers.garage.min_amps", "whole number of amperes, got nan"),
    ("", "max_amps = -inf", "", "chargers.garage.max_amps", "whole number of amperes"),
    ("", "max_amps = 31.5", "", "chargers.garage.max_amps", "whole number of amperes"),
    ("", "max_amps = " + "9" * 4000, "", "chargers.garage.max_amps",
     "between 6 and 32, got 9999"),
    ('state = "a\\u0000b"', "", "", "state", "NUL"),
])
def test_values_out_of_bounds_are_errors_naming_the_key(
    top: str, charger: str, pv: str, key: str, words: str
) -> None:
    error = _error(_config(top, charger, pv))
    assert error.key == key, str(error)
    assert words in str(error)
    # A value echoed in a message is cut short: a 4000-digit number is not 4000 characters.
    assert len(str(error)) < 300


@pytest.mark.parametrize(("value", "key"), [
    ('value = "1e308 kW"', "inputs.house.value"),
    ('value = 1e308\nunit = "kW"', "inputs.house"),
])
def test_a_constant_that_overflows_once_canonical_is_refused(value: str, key: str) -> None:
    error = _error(_config().replace('value = "300 W"', value))
    assert error.key == key and "too large" in str(error)


@pytest.mark.parametrize(("text", "words"), [
    ("max_amps_x = " + "9" * 5000, "a number has too many digits"),
    ("a = " + "[" * 5000 + "]" * 5000, "nested too deep"),
    ("a = " + "{b = " * 3000 + "1" + "}" * 3000, "nested too deep"),
])
def test_huge_numbers_and_deep_nesting_are_errors_naming_the_file(text: str, words: str) -> None:
    error = _error(text)
    assert error.file == "evse-rules.toml" and words in str(error)


@pytest.mark.parametrize("text", [
    "max_amps = " + "9" * 5000,
    "a = " + "[" * 5000 + "]" * 5000,
    'tick = "1e-300 s"',
    'rules = ["r.evr"]\njournal_days = 800000\n[chargers.g]\ndriver = "simulated"',
])
def test_check_reports_them_without_a_traceback(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r.evr").write_text("if mode is auto then start\n")
    config = tmp_path / "c.toml"
    config.write_text(text)
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


# The extremes `check` accepts, each run by the daemon.
AT_THE_BOUNDS = [
    ('tick = "100 ms"', "", ""),
    ('tick = "1 h"\njournal_days = 3650', "", ""),
    ("journal_days = 0", "", ""),
    ("", 'min_on = "720 h"\nmin_off = "720 h"\nevery = "24 h"\ntimeout = "1 h"', ""),
    ("", 'min_on = "0 s"\nmin_off = "0 s"\nevery = "100 ms"\ntimeout = "100 ms"', ""),
    ("", "min_amps = 6\nmax_amps = 6", 'every = "24 h"\ntimeout = "1 h"\nstale_after = "720 h"'),
    ("", "min_amps = 32\nmax_amps = 32\nvoltage = 500",
     'every = "100 ms"\ntimeout = "100 ms"\nstale_after = "100 ms"'),
    ("", "voltage = 100", ""),
]


@pytest.mark.parametrize(("top", "charger", "pv"), AT_THE_BOUNDS)
async def test_values_at_the_bounds_run(
    tmp_path: Path, top: str, charger: str, pv: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "r.evr").write_text("input pv: W\nif mode is auto then start\n")
    config = parse_config(_config(top, charger, pv), "evse-rules.toml", tmp_path)
    time = FakeTime(START)
    caplog.set_level(logging.INFO, "evse_rules")
    daemon = Daemon(config, clock=time.clock, sleep=time.sleep, max_ticks=2)
    await daemon.run()
    # A tick that raises is logged ("tick at ... failed") and the loop goes on: none here.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    with Journal(config.journal_path) as journal:
        assert journal.counts()["ticks"] == 2
        commands = [e.kind for e in journal.entries() if e.type == "command"]
    assert "start" in commands


@pytest.mark.parametrize("rules", ['""', '[""]', '["."]', '[" "]'])
def test_a_rules_entry_that_names_no_file_is_refused_at_its_key(rules: str) -> None:
    from evse_rules.config import parse_config
    from evse_rules.errors import ConfigError

    with pytest.raises(ConfigError, match=r"rules: error: .* names no rule file"):
        parse_config(f'rules = {rules}\n[chargers.g]\ndriver = "simulated"\n', "x.toml")
