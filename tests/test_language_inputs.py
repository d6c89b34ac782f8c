"""Inputs of every type from every source: text and boolean inputs over HTTP, as constants
and from a replay's CSV columns; a CSV column without a unit takes the unit the rule file
declares; errors name the file and the column, or the config's key."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from evse_rules.config import load_config
from evse_rules.errors import ConfigError, DataError, RuleFileErrors
from evse_rules.inputs.http import HttpInput
from evse_rules.language import load_program_text
from evse_rules.language.program import Environment, Kind, Value, ValueType
from evse_rules.simulate import Recorder, simulate

MINUTES = [f"2026-06-01T12:0{i}:00+00:00" for i in range(4)]


def csv(tmp_path: Path, header: str, *cells: str) -> Path:
    path = tmp_path / "day.csv"
    path.write_text("\n".join([f"time,{header}", *(f"{t},{c}" for t, c in zip(
        MINUTES, cells, strict=False))]) + "\n")
    return path


class Logs(Recorder):
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lets: list[dict[str, Value]] = []

    def event(self, now: datetime, text: str) -> None:
        self.lines.append(text.rsplit(": ", 1)[-1])   # without the rule's FILE:LINE

    def tick(self, now: datetime, chargers: object, inputs: list[Value],
             lets: dict[str, Value]) -> None:
        self.lets.append(dict(lets))


def read(kind: str, body: bytes, path: str = "tariff.colour") -> Value:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    async def once() -> Value:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            source = HttpInput("tariff", "http://meter.local/x", path, kind=kind,  # type: ignore[arg-type]
                               client=client)
            return (await source.read()).value

    return asyncio.run(once())


def test_an_http_text_input_reads_a_json_string_and_rules_compare_it() -> None:
    value = read("text", b'{"tariff": {"colour": "red"}}')
    assert value == "red"
    program = load_program_text('if tariff is "red" then stop\n', "t.evr", Environment(
        inputs={"tariff": ValueType(Kind.TEXT)}))
    result = program.tick(datetime.fromisoformat(MINUTES[0]), [value])
    assert [a.kind.value for a in result.actions] == ["stop"]


def test_an_http_boolean_input_reads_0_and_1() -> None:
    assert read("boolean", b'{"on": 1}', "on") is True
    assert read("boolean", b'{"on": 0}', "on") is False


def test_config_inputs_declare_text_and_boolean(tmp_path: Path) -> None:
    (tmp_path / "r.evr").write_text('if boost and tariff is "red" then start\n')
    (tmp_path / "c.toml").write_text(
        'rules = ["r.evr"]\n[chargers.evse]\ndriver = "simulated"\n'
        '[inputs.tariff]\nkind = "http"\nurl = "http://meter.local/t"\npath = "c"\n'
        'type = "text"\n'
        '[inputs.boost]\nkind = "constant"\ntype = "boolean"\nvalue = true\n')
    config = load_config(tmp_path / "c.toml")
    env = config.environment()
    assert env.inputs["tariff"] == ValueType(Kind.TEXT)
    assert env.inputs["boost"] == ValueType(Kind.BOOLEAN)
    assert config.inputs["boost"].constant_value() is True


def test_a_constant_of_the_wrong_type_names_its_key(tmp_path: Path) -> None:
    (tmp_path / "r.evr").write_text("start\n")
    (tmp_path / "c.toml").write_text(
        'rules = ["r.evr"]\n[chargers.evse]\ndriver = "simulated"\n'
        '[inputs.boost]\nkind = "constant"\ntype = "boolean"\nvalue = "yes please"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "c.toml")
    assert "inputs.boost.value" in str(caught.value) and "true or false" in str(caught.value)


def test_a_csv_text_column_feeds_a_text_input(tmp_path: Path) -> None:
    rules = tmp_path / "r.evr"
    rules.write_text('input tariff: text\nwhen tariff is "red":\n    log "red day"\n')
    logs = Logs()
    simulate([rules], csv(tmp_path, "tariff", "blue", "red", "blue", "red"), recorder=logs)
    assert logs.lines == ["red day", "red day"]


def test_a_csv_column_of_0_and_1_feeds_a_boolean(tmp_path: Path) -> None:
    rules = tmp_path / "r.evr"
    rules.write_text('input boost: boolean\nwhen boost:\n    log "boost on"\n')
    logs = Logs()
    simulate([rules], csv(tmp_path, "boost", "0", "1", "1", "0"), recorder=logs)
    assert logs.lines == ["boost on"]


def test_a_csv_column_of_true_and_false_feeds_a_boolean(tmp_path: Path) -> None:
    rules = tmp_path / "r.evr"
    rules.write_text('input boost: boolean\nwhen boost:\n    log "on"\n')
    logs = Logs()
    simulate([rules], csv(tmp_path, "boost", "false", "true", "off", "TRUE"), recorder=logs)
    assert logs.lines == ["on", "on"]


def test_a_csv_column_without_a_unit_takes_the_declared_unit(tmp_path: Path) -> None:
    rules = tmp_path / "r.evr"
    rules.write_text("input pv: kW\nlet watts = pv\n")
    logs = Logs()
    simulate([rules], csv(tmp_path, "pv", "1.5", "2"), recorder=logs)
    assert [lets["watts"] for lets in logs.lets] == [1500.0, 2000.0]


def test_a_bad_boolean_cell_names_the_file_line_and_column(tmp_path: Path) -> None:
    rules = tmp_path / "r.evr"
    rules.write_text('input boost: boolean\nif boost then log "on"\n')
    with pytest.raises(DataError) as caught:
        simulate([rules], csv(tmp_path, "boost", "0", "7"), recorder=Logs())
    message = str(caught.value)
    assert "day.csv" in message and ":3" in message and "'boost'" in message


def test_a_type_clash_with_a_csv_column_names_the_column(tmp_path: Path) -> None:
    rules = tmp_path / "r.evr"
    rules.write_text("input pv: W\nlet x = pv\n")
    with pytest.raises(RuleFileErrors) as caught:
        simulate([rules], csv(tmp_path, "pv[A]", "6", "7"), recorder=Logs())
    assert "by column pv of day.csv" in str(caught.value)


def test_a_config_input_clash_and_a_current_above_max_amps_name_the_config(
        tmp_path: Path) -> None:
    from evse_rules.language import check_texts

    (tmp_path / "r.evr").write_text("start\n")
    (tmp_path / "c.toml").write_text(
        'rules = ["r.evr"]\n[chargers.garage]\ndriver = "simulated"\nmax_amps = 16\n'
        '[inputs.pv]\nkind = "http"\nurl = "http://meter.local/t"\npath = "p"\nunit = "W"\n')
    env = load_config(tmp_path / "c.toml").environment()
    _, errors = check_texts([("r.evr", "input pv: A\nset amps to 20 A\n")], env)
    assert [e.message for e in errors] == [
        "input pv is power (W) by [inputs.pv] of the config, not current (A)",
        "20 A is outside garage's 6..16 A (the config's min_amps..max_amps): the engine "
        "would clamp it to 16 A at every tick"]
