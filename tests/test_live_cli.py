"""The live commands: history and why read the journal, mode and set queue requests."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evse_rules.cli import main
from evse_rules.cli.live import parse_since, parse_value
from evse_rules.engine.journal import Journal
from evse_rules.errors import EvseRulesError
from evse_rules.language.program import Kind, ValueType, VariableDecl
from evse_rules.language.units import ENERGY, NUMBER
from tests.test_live import CONFIG, FlakyInput, _harness

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def _run(tmp_path: Path, ticks: int = 3) -> Path:
    (tmp_path / "evse-rules.toml").write_text(CONFIG)
    h = _harness(tmp_path, ticks=ticks)
    h.charger.fail.add("start")
    await h.daemon.run()
    return tmp_path / "evse-rules.toml"


async def test_history_prints_commands_with_their_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = await _run(tmp_path)
    assert main(["history", "--config", str(config), "--since", "3650 d"]) == 0
    lines = capsys.readouterr().out.splitlines()
    commands = [line for line in lines if "garage" in line]
    assert any("set_current 12 A sent <- " in line and "solar.evr:1 rule 1 (pv=3000 W)" in line
               for line in commands)
    assert any("start FAILED: start refused (HTTP 500)" in line for line in commands)


async def test_history_json_and_filters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = await _run(tmp_path)
    assert main(["history", "--config", str(config), "--since", "3650 d", "--json",
                 "--charger", "garage"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    commands = [r for r in rows if r["type"] == "command"]
    assert commands[0]["kind"] == "set_current" and commands[0]["values"] == {"pv": "3000 W"}
    assert {r["ok"] for r in commands} == {True, False}
    assert main(["history", "--config", str(config), "--charger", "shed"]) == 1
    assert "no charger named 'shed'" in capsys.readouterr().err
    # The journal was written in 2026 on a fake clock: nothing in the last 24 hours.
    assert main(["history", "--config", str(config), "--since", "2h"]) == 0
    assert "nothing journaled since" in capsys.readouterr().err


async def test_why_explains_the_last_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = await _run(tmp_path, ticks=2)
    assert main(["why", "--config", str(config), "garage"]) == 0
    out = capsys.readouterr().out
    assert "garage:" in out and "mode auto" in out
    assert "inputs: pv=3000 W" in out
    assert "variables: target=0.0" in out
    assert "rule 1" in out
    assert "last decision" in out and "start FAILED: start refused (HTTP 500)" in out


async def test_why_says_why_an_input_is_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A meter dead from the start: its failure is journaled once, in the first tick; `why`
    # at the third still says what it was.
    text = CONFIG.replace('kind = "constant"\nvalue = "3000 W"',
                          'kind = "http"\nurl = "http://meter/"\npath = "pv"\nunit = "W"')
    (tmp_path / "evse-rules.toml").write_text(text)
    h = _harness(tmp_path, text, ticks=3)
    meter = FlakyInput("pv", 3000.0, h.time)
    meter.dead = True
    monkeypatch.setattr("evse_rules.live.daemon.build_inputs", lambda config, client, clock=None: {
        "pv": meter})
    await h.daemon.run()
    assert main(["why", "--config", str(tmp_path / "evse-rules.toml")]) == 0
    out = capsys.readouterr().out
    assert "inputs: pv=unknown\n" in out
    assert re.search(r"\n  pv unknown since [\d-]+ [\d:]+: http://meter/: HTTP 500 Internal "
                     r"Server Error\n", out), out


def test_why_without_a_journal_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "evse-rules.toml").write_text(CONFIG)
    assert main(["why", "--config", str(tmp_path / "evse-rules.toml")]) == 1
    assert "no journal at" in capsys.readouterr().err


def test_mode_queues_a_request_for_a_known_charger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "evse-rules.toml"
    config.write_text(CONFIG)
    assert main(["mode", "garage", "manual", "--config", str(config)]) == 0
    assert "queued" in capsys.readouterr().out
    with Journal(tmp_path / "evse-rules.sqlite") as journal:
        [request] = journal.pending_requests()
    assert (request.kind, request.target, request.value) == ("mode", "garage", "manual")
    assert main(["mode", "shed", "auto", "--config", str(config)]) == 1
    assert "no charger named 'shed'" in capsys.readouterr().err


def test_parse_since() -> None:
    assert parse_since("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_since("30 min", NOW) == NOW - timedelta(minutes=30)
    assert parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert parse_since("2026-05-31T08:00+00:00", NOW) == datetime(2026, 5, 31, 8, tzinfo=UTC)
    with pytest.raises(EvseRulesError, match="--since 'yesterday'"):
        parse_since("yesterday", NOW)
    # Further back than any date (it overflowed): the whole journal.
    everything = datetime.min.replace(tzinfo=UTC)
    assert parse_since("99999999 d", NOW) == parse_since("9999999999999 h", NOW) == everything


@pytest.mark.parametrize(("text", "back"), [
    ("2m", timedelta(minutes=2)), ("2min", timedelta(minutes=2)), ("90s", timedelta(seconds=90)),
    ("1h30", timedelta(hours=1, minutes=30)), ("1 h 30 min", timedelta(hours=1, minutes=30)),
    ("2m30", timedelta(minutes=2, seconds=30)), ("1d12h", timedelta(days=1, hours=12)),
    ("2 weeks", timedelta(days=14)), ("10 minutes ago", timedelta(minutes=10)),
])
def test_since_takes_the_durations_people_type(text: str, back: timedelta) -> None:
    assert parse_since(text, NOW) == NOW - back


@pytest.mark.parametrize("text", ["90", "2x", "1d30", "", "h"])
def test_since_refuses_a_duration_without_its_unit(text: str) -> None:
    with pytest.raises(EvseRulesError, match="expected a duration back from now like '2h'"):
        parse_since(text, NOW)


def test_history_takes_since_2m(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "evse-rules.toml"
    config.write_text(CONFIG)
    Journal(tmp_path / "evse-rules.sqlite").close()
    assert main(["history", "--config", str(config), "--since", "2m"]) == 0
    assert "nothing journaled since" in capsys.readouterr().err


def test_a_held_action_names_its_guard_once() -> None:
    from evse_rules.cli.live import describe
    from evse_rules.engine.journal import Entry

    entry = Entry(NOW, "held", "garage", "start", None, None, None, (),
                  "unchanged: already started", guard="unchanged")
    assert describe(entry) == "start held back (unchanged: already started)"
    entry = Entry(NOW, "held", "garage", "start", None, None, None, (), "unchanged",
                  guard="unchanged")
    assert describe(entry) == "start held back (unchanged)"
    entry = Entry(NOW, "held", "garage", "stop", None, None, None, (),
                  "on for 2 min of 10 min", guard="min_on")
    assert describe(entry) == "stop held back (min_on: on for 2 min of 10 min)"


async def test_why_says_why_a_charger_is_offline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evse_rules.chargers.base import ChargerStatus, offline_status

    (tmp_path / "evse-rules.toml").write_text(CONFIG)
    h = _harness(tmp_path, ticks=2)

    async def refresh() -> ChargerStatus:
        return offline_status("authentication failed (HTTP 401): check user and password")

    h.charger.refresh = refresh  # type: ignore[method-assign]
    await h.daemon.run()
    assert main(["why", "--config", str(tmp_path / "evse-rules.toml")]) == 0
    out = capsys.readouterr().out
    assert "  offline: authentication failed (HTTP 401): check user and password\n" in out
    assert "  last known: no vehicle, pilot 0 A, 0 W, mode auto\n" in out


async def test_why_says_why_a_charger_is_in_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dataclasses import replace

    from evse_rules.chargers.base import ChargerState, ChargerStatus

    (tmp_path / "evse-rules.toml").write_text(CONFIG)
    h = _harness(tmp_path, ticks=2)
    refresh = h.charger.refresh

    async def faulty() -> ChargerStatus:
        status = await refresh()
        return replace(status, state=ChargerState.ERROR, error="unknown state code 999")

    h.charger.refresh = faulty  # type: ignore[method-assign]
    await h.daemon.run()
    assert main(["why", "--config", str(tmp_path / "evse-rules.toml")]) == 0
    out = capsys.readouterr().out
    assert "  error: unknown state code 999\n  now: " in out


async def test_why_shows_an_input_in_the_unit_it_is_configured_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = CONFIG.replace('value = "3000 W"', 'value = "3 kW"')
    (tmp_path / "evse-rules.toml").write_text(text)
    h = _harness(tmp_path, text, ticks=1)
    await h.daemon.run()
    assert main(["why", "--config", str(tmp_path / "evse-rules.toml")]) == 0
    assert "  inputs: pv=3 kW\n" in capsys.readouterr().out


@pytest.mark.parametrize(("vtype", "text", "value"), [
    (ValueType(Kind.NUMBER, ENERGY), "20 kWh", 72e6),
    (ValueType(Kind.NUMBER, NUMBER), "3", 3.0),
    (ValueType(Kind.BOOLEAN), "on", True),
    (ValueType(Kind.BOOLEAN), "false", False),
    (ValueType(Kind.TEXT), "away", "away"),
])
def test_values_are_read_by_their_declared_type(vtype: ValueType, text: str,
                                                value: object) -> None:
    assert parse_value(VariableDecl("x", vtype, None), text) == value


@pytest.mark.parametrize(("vtype", "text", "words"), [
    (ValueType(Kind.NUMBER, ENERGY), "20", "x is an energy (Wh): give the unit, like '20 Wh'"),
    (ValueType(Kind.NUMBER, ENERGY), "20 A", "x is an energy (Wh), '20 A' is a current (A)"),
    (ValueType(Kind.BOOLEAN), "maybe", "give true or false"),
])
def test_values_of_the_wrong_type_are_refused(vtype: ValueType, text: str, words: str) -> None:
    with pytest.raises(EvseRulesError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_value(VariableDecl("x", vtype, None), text)


def test_an_unwritable_journal_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "evse-rules.toml"
    config.write_text(CONFIG.replace('rules = ["solar.evr"]',
                                     'rules = ["solar.evr"]\njournal = "journal-dir"'))
    (tmp_path / "journal-dir").mkdir()       # a folder where the database file should be
    assert main(["mode", "garage", "auto", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "journal: error: cannot open the journal" in err and "Traceback" not in err


def test_a_journal_that_is_no_database_is_named_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "evse-rules.toml"
    config.write_text(CONFIG)
    (tmp_path / "evse-rules.sqlite").write_text("not a database at all, but long enough " * 4)
    assert main(["history", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err == (f"{config}: journal: error: cannot open the journal "
                   f"{tmp_path / 'evse-rules.sqlite'}: file is not a database\n")


async def test_mode_wait_reports_what_the_running_engine_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    config = tmp_path / "evse-rules.toml"
    config.write_text(CONFIG)
    h = _harness(tmp_path, ticks=None)
    runner = asyncio.create_task(h.daemon.run())
    while h.daemon.ticks < 1:
        await asyncio.sleep(0)
    code = await asyncio.to_thread(
        main, ["mode", "garage", "manual", "--wait", "--config", str(config)])
    h.daemon.stop()
    await runner
    assert code == 0
    assert capsys.readouterr().out.startswith("mode garage manual: done (taken at ")
    assert h.daemon.store.mode("garage") == "manual"


BROKEN_CONFIG = """
tick = "200 ms"
rules = ["solar.evr"]
[chargers.garage]
driver = "simulated"
mode = "auto"
[inputs.pv]
kind = "constant"
value = "3000 W"
"""


def test_run_on_broken_rules_keeps_running_and_why_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "evse-rules.toml"
    config.write_text(BROKEN_CONFIG)
    (tmp_path / "solar.evr").write_text("var boost: boolean = false\n"
                                        "if mode is auto and pv > 16A then start\n")
    assert main(["run", "--config", str(config), "--ticks", "2"]) == 0
    assert "solar.evr:2:26: error: cannot compare" in caplog.text
    assert "running without rules until they are fixed" in caplog.text

    assert main(["why", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "no rules running: the rule files have errors" in out
    assert "solar.evr:2:26: error: cannot compare" in out and "^^^" in out
    assert "garage:" in out and "mode auto" in out       # the charger is still polled

    # `set` cannot check a value against files that do not load: nothing is queued.
    assert main(["set", "boost", "on", "--config", str(config)]) == 1
    assert "boost cannot be checked, the rule files do not load" in capsys.readouterr().err
    with Journal(tmp_path / "evse-rules.sqlite") as journal:
        assert journal.pending_requests() == []
        assert journal.counts()["ticks"] == 2 and journal.counts()["commands"] == 0


def test_run_with_a_broken_config_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "evse-rules.toml"
    config.write_text(BROKEN_CONFIG.replace('mode = "auto"', 'mode = "turbo"'))
    (tmp_path / "solar.evr").write_text("if mode is auto then start\n")
    assert main(["run", "--config", str(config), "--ticks", "1"]) == 1
    err = capsys.readouterr().err
    assert "chargers.garage.mode" in err
    assert not (tmp_path / "evse-rules.sqlite").exists()


@pytest.mark.parametrize("ticks", ["0", "-1", "two"])
def test_run_refuses_a_tick_count_below_one(
    ticks: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--ticks 0` used to be taken as "no limit": the daemon ran on instead of stopping.
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--config", "nowhere.toml", "--ticks", ticks])
    assert exit_info.value.code == 2
    assert f"--ticks: expected a whole number of ticks, 1 or more, got '{ticks}'" in \
        capsys.readouterr().err
