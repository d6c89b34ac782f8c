"""MQTT without a broker: the config keys, payload parsing, state payloads, command topics,
and replay parity (an mqtt input replays from its CSV column like any other input)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evse_rules.config import MqttConfig, load_config, parse_config
from evse_rules.errors import ConfigError
from evse_rules.inputs.mqtt import parse_payload, shown
from evse_rules.language.program import Kind
from evse_rules.language.units import POWER
from evse_rules.live.views import HandCommand
from evse_rules.mqtt.commands import NotACommand, command_topic, parse_command, variable_command
from evse_rules.mqtt.state import number, payload

BASE = """
rules = ["r.evr"]
[chargers.garage]
driver = "simulated"
[mqtt]
host = "broker.local"
[inputs.pv]
kind = "mqtt"
topic = "shellies/em3/power"
unit = "kW"
"""


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "evse-rules.toml")
    return str(caught.value).splitlines()


def test_an_mqtt_input_and_its_broker_are_read_with_their_defaults() -> None:
    config = parse_config(BASE + '[inputs.tariff]\nkind = "mqtt"\ntopic = "edf/tempo"\n'
                          'type = "text"\n[inputs.boost]\nkind = "mqtt"\n'
                          'topic = "z2m/boost"\npath = "state"\ntype = "boolean"\n')
    assert config.mqtt is not None
    assert (config.mqtt.port_number, config.mqtt.base_topic, config.mqtt.discovery_prefix,
            config.mqtt.discovery) == (1883, "evse-rules", "homeassistant", True)
    pv, tariff, boost = (config.inputs[n] for n in ("pv", "tariff", "boost"))
    assert pv.value_type().kind is Kind.NUMBER and pv.value_type().dimension is POWER
    assert tariff.value_type().kind is Kind.TEXT
    assert boost.value_type().kind is Kind.BOOLEAN
    # The rules see the declared types (a text compared to a text, a boolean as a condition).
    inputs = config.environment().inputs
    assert (inputs["tariff"].kind, inputs["boost"].kind) == (Kind.TEXT, Kind.BOOLEAN)
    assert MqttConfig(host="b", tls=True).port_number == 8883


@pytest.mark.parametrize(("change", "key", "words"), [
    (('topic = "shellies/em3/power"', 'topic = "shellies/+/power"'), "inputs.pv.topic",
     "without the wildcards + and #"),
    (('topic = "shellies/em3/power"', 'topic = "shellies/#"'), "inputs.pv.topic",
     "without the wildcards + and #"),
    (('topic = "shellies/em3/power"', ""), "inputs.pv", "kind 'mqtt' needs a topic"),
    (('unit = "kW"', 'unit = "kW"\ntype = "text"'), "inputs.pv", "unit is only for numbers"),
    (('unit = "kW"', 'unit = "kW"\ntimeout = "2 s"'), "inputs.pv", "kind 'mqtt' takes no "
     "timeout"),
    (('unit = "kW"', 'unit = "kW"\ntype = "colour"'), "inputs.pv.type", "must be one of"),
    (('host = "broker.local"', 'host = "broker.local"\nbase_topic = "evse/#"'),
     "mqtt.base_topic", "without the wildcards"),
    (('host = "broker.local"', 'host = "broker.local"\nbase_topic = "evse/"'),
     "mqtt.base_topic", "no leading or trailing /"),
    (('host = "broker.local"', 'host = "broker.local"\npassword_env = "MQTT_PW"'), "mqtt",
     "a password needs a user"),
    (('host = "broker.local"', 'host = "broker.local"\nport = 70000'), "mqtt.port",
     "less than or equal to 65535"),
    (('[mqtt]\nhost = "broker.local"\n', ""), "inputs.pv.kind", "needs an [mqtt] table"),
    (('host = "broker.local"', 'host = "broker.local"\npassword = "x"'), "mqtt.password",
     ""),
])
def test_bad_mqtt_keys_are_refused_naming_the_key(change: tuple[str, str], key: str,
                                                  words: str) -> None:
    lines = _errors(BASE.replace(*change))
    prefix = f"evse-rules.toml: {key}: error:"
    assert any(line.startswith(prefix) and words in line for line in lines), lines


def test_the_topic_key_is_only_for_mqtt_inputs() -> None:
    lines = _errors('rules = ["r.evr"]\n[inputs.pv]\nkind = "http"\nurl = "http://m.local/"\n'
                    'path = "pv"\ntopic = "a/b"\n')
    assert any("topic is only for kind 'mqtt'" in line for line in lines), lines


@pytest.mark.parametrize(("raw", "kind", "path", "factor", "value"), [
    (b"1234.5", "number", None, 1.0, 1234.5),
    (b" 1.5 \n", "number", None, 1000.0, 1500.0),        # kW in, W held
    (b'{"ENERGY": {"Power": 812}}', "number", ("ENERGY", "Power"), 1.0, 812.0),
    (b'{"data": [{"p": "42"}]}', "number", ("data", "0", "p"), 1.0, 42.0),
    (b"BLUE", "text", None, 1.0, "BLUE"),
    (b'{"tempo": "red"}', "text", ("tempo",), 1.0, "red"),
    (b"7", "text", None, 1.0, "7"),
    (b"ON", "boolean", None, 1.0, True),
    (b"off", "boolean", None, 1.0, False),
    (b"true", "boolean", None, 1.0, True),
    (b"False", "boolean", None, 1.0, False),
    (b"1", "boolean", None, 1.0, True),
    (b"0", "boolean", None, 1.0, False),
    (b'{"state": "ON"}', "boolean", ("state",), 1.0, True),
    (b'{"on": false}', "boolean", ("on",), 1.0, False),
])
def test_payloads_of_every_type_parse(raw: bytes, kind: str, path: tuple[str, ...] | None,
                                      factor: float, value: object) -> None:
    assert parse_payload(raw, kind, path, factor) == value  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "kind", "path", "words"), [
    (b"abc", "number", None, "is not a number"),
    (b"", "number", None, "is empty"),
    (b"nan", "number", None, "is not a number"),
    (b'{"a": 1}', "number", ("b",), "has nothing at path 'b'"),
    (b"not json", "number", ("a",), "is not JSON"),
    (b"maybe", "boolean", None, "is not a boolean (true/false, on/off, 1/0)"),
    (b"2", "boolean", None, "is not a boolean"),
    (b'{"x": [1]}', "text", ("x",), "is not a text"),
    (b"\xff\xfe", "text", None, "is not UTF-8"),
    (b"x" * 70000, "text", None, "at most 65536"),
])
def test_bad_payloads_say_why(raw: bytes, kind: str, path: tuple[str, ...] | None,
                              words: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_payload(raw, kind, path)  # type: ignore[arg-type]
    assert words in str(caught.value)


def test_a_payload_is_shown_cut_to_60_characters() -> None:
    assert shown(b"x" * 100) == "x" * 60 + "..."
    assert shown(b"short") == "short"


def test_state_payloads_are_plain_decimals_and_words() -> None:
    assert [number(1234.0), number(7.5), number(0.1 + 0.2), number(1e7), number(-0.0001)] == [
        "1234", "7.5", "0.3", "10000000", "-0.0001"]
    assert number(3.14159, 1) == "3.1" and number(2.96, 0) == "3" and number(-0.04, 1) == "0"
    assert [payload(True), payload(False), payload(None), payload("charging")] == [
        "true", "false", "", "charging"]


def test_command_topics_become_hand_commands_with_source_mqtt() -> None:
    assert command_topic("evse-rules", "evse-rules/garage/mode/set") == ("garage", "mode")
    assert command_topic("home/evse", "home/evse/var/boost/set") == ("var", "boost")
    for other in ("evse-rules/garage/mode", "other/garage/mode/set",
                  "evse-rules/garage/x/y/set", "evse-rules//mode/set"):
        assert command_topic("evse-rules", other) is None
    assert parse_command("garage", "mode", b"AUTO") == HandCommand("mode", "garage", "auto",
                                                                   "mqtt")
    for on in (b"on", b"true", b"1", b"START"):
        assert parse_command("garage", "charging", on).action == "start"
    for off in (b"off", b"false", b"0", b"stop"):
        assert parse_command("garage", "enabled", off).action == "stop"
    assert parse_command("garage", "amps", b"12.5") == HandCommand("amps", "garage", 12.5,
                                                                   "mqtt")
    # Not a number: handed on as it is, the command path refuses it (journaled).
    assert parse_command("garage", "amps", b"lots").value == "lots"
    assert variable_command("target", b" 20 kWh ") == HandCommand("set", "target", "20 kWh",
                                                                  "mqtt")
    with pytest.raises(NotACommand, match="on or off"):
        parse_command("garage", "charging", b"maybe")
    with pytest.raises(NotACommand, match="no command 'power'"):
        parse_command("garage", "power", b"1")


def test_an_mqtt_input_replays_from_its_column_like_an_http_input(
    tmp_path: Path,
) -> None:
    from evse_rules.simulate import simulate

    rules = tmp_path / "r.evr"
    rules.write_text('if tariff is "blue" and pv > 1000 W then start else stop\n')
    data = tmp_path / "d.csv"
    rows = [f"2026-06-21T12:{m:02d}:00,{3000 if m < 10 else 500},{'blue' if m < 15 else 'red'}"
            for m in range(20)]
    data.write_text("time,pv[W],tariff[text]\n" + "\n".join(rows) + "\n")
    results = []
    for pv in ('kind = "http"\nurl = "http://meter.local/"\npath = "pv"',
               'kind = "mqtt"\ntopic = "meter/pv"'):
        config = tmp_path / "c.toml"
        config.write_text(f"""rules = ["r.evr"]
[mqtt]
host = "broker.local"
[chargers.evse]
driver = "simulated"
mode = "auto"
min_on = "0 s"
min_off = "0 s"
[inputs.pv]
{pv}
unit = "W"
stale_after = "5 min"
[inputs.tariff]
kind = "mqtt"
topic = "edf/tempo"
type = "text"
""")
        assert load_config(config).inputs["pv"].kind in ("http", "mqtt")
        results.append(simulate([rules], data, config).to_json())
    assert json.dumps(results[0]) == json.dumps(results[1])
    # Started on the sun with the blue tariff, stopped when the sun went (12:10).
    assert results[0]["commands"]["start"] == 1 and results[0]["commands"]["stop"] == 1


def test_the_broker_fixture_skips_locally_and_fails_on_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.mosquitto import require

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        require("/nonexistent/mosquitto")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="not installed"):
        require("/nonexistent/mosquitto")


def test_tls_takes_the_system_cas_or_a_ca_file(tmp_path: Path) -> None:
    import ssl

    from evse_rules.mqtt.link import tls_context

    assert tls_context(MqttConfig(host="b")) is None
    context = tls_context(MqttConfig(host="b", tls=True))
    assert isinstance(context, ssl.SSLContext) and context.verify_mode is ssl.CERT_REQUIRED
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError) as caught:
        tls_context(MqttConfig(host="b", ca_file=bad))
    assert caught.value.key == "mqtt.ca_file" and str(bad) in caught.value.message
    assert MqttConfig(host="b", ca_file=bad).port_number == 8883


def test_a_missing_broker_password_is_an_error_naming_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from evse_rules.mqtt.link import MqttLink

    monkeypatch.delenv("EVSE_TEST_NO_SUCH", raising=False)
    config = MqttConfig(host="b", user="evse", password_env="EVSE_TEST_NO_SUCH")
    with pytest.raises(ConfigError) as caught:
        MqttLink(config, "x")
    assert caught.value.key == "mqtt.password_env"
    assert "EVSE_TEST_NO_SUCH is not set" in caught.value.message


def test_the_guide_s_examples_are_valid_and_every_state_key_is_documented() -> None:
    import re

    from evse_rules.mqtt.state import CHARGER_KEYS

    guide = (Path(__file__).resolve().parent.parent / "docs" / "mqtt.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", guide, re.S)
    assert len(blocks) == 2
    mqtt, inputs = blocks
    config = parse_config('rules = ["r.evr"]\n[chargers.garage]\ndriver = "simulated"\n'
                          + mqtt + inputs, "docs/mqtt.md")
    assert config.mqtt is not None and config.mqtt.user == "evse"
    assert {spec.type for spec in config.inputs.values()} == {"number", "text", "boolean"}
    for key in CHARGER_KEYS:
        assert f"| `evse-rules/garage/{key}` |" in guide, key


def test_mqtt_inputs_without_the_broker_the_engine_started_with_are_refused() -> None:
    """A config changed while running that adds [mqtt] and an mqtt input: [mqtt] applies
    at the next start, so the input is refused (the change is not applied), never read as
    some other kind."""
    from evse_rules.live.build import build_inputs

    config = parse_config(BASE, "evse-rules.toml").model_copy(update={"mqtt": None})
    with pytest.raises(ConfigError) as caught:
        build_inputs(config, None)
    assert caught.value.key == "inputs.pv.kind" and "restart" in caught.value.message


async def test_a_broker_added_while_running_applies_at_the_next_start(
    tmp_path: Path,
) -> None:
    from tests.test_reconfigure import CONFIG, Setup

    setup = Setup(tmp_path)
    await setup.ticks(1)
    setup.path.write_text(CONFIG + '[mqtt]\nhost = "127.0.0.1"\n')
    await setup.ticks(1)
    assert setup.daemon.config.mqtt is None
    events = await setup.stop()
    assert events[0][0] == "warning" and "(mqtt" in events[0][1]
    assert events[0][1].endswith("these apply at the next start (restart evse-rules)")


async def test_a_broker_that_is_down_is_not_waited_for_at_the_first_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first read waits for a retained value only while the first connection attempt
    runs: with no broker it says why at once (a wait of an hour would fail the test)."""
    import asyncio

    from evse_rules.inputs import mqtt as mqtt_input
    from evse_rules.inputs.base import InputError
    from evse_rules.mqtt.link import MqttLink
    from tests.mosquitto import free_port

    monkeypatch.setattr(mqtt_input, "FIRST_WAIT", 3600.0)
    link = MqttLink(MqttConfig(host="127.0.0.1", port=free_port()), "test-down")
    pv = mqtt_input.MqttInput("pv", "meter/pv", link)
    with pytest.raises(InputError) as caught:
        await asyncio.wait_for(pv.read(), 30)
    assert "no message yet on topic 'meter/pv'" in caught.value.message
    assert "connection refused (is the broker running?)" in caught.value.message
    await pv.close()


async def test_a_pushed_value_is_as_old_as_its_arrival_and_goes_stale_on_time() -> None:
    """An mqtt value polled 50 s after it arrived counts from its arrival: with a 60 s
    stale_after it is unknown 60 s after the message, not 60 s after the poll."""
    from datetime import UTC, datetime, timedelta

    from evse_rules.engine.store import StateStore
    from evse_rules.inputs.base import Reading
    from evse_rules.language.program import Kind, ValueType
    from evse_rules.language.units import POWER
    from evse_rules.live.sources import InputResult, Sources

    arrived = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    class Pushed:
        name, every, stale_after, stamps_arrival = "pv", 10.0, 60.0, True

        async def read(self) -> Reading:
            return Reading(2000.0, arrived)

        async def close(self) -> None:
            return None

    sources = Sources({"pv": Pushed()}, {}, {})
    store = StateStore()
    store.declare_input("pv", ValueType(Kind.NUMBER, POWER), 60.0)
    polled = arrived + timedelta(seconds=50)
    [result] = await sources.gather(polled, 1.0)
    assert isinstance(result, InputResult) and result.at == arrived
    store.set_input("pv", result.value, result.at)
    store.expire(arrived + timedelta(seconds=59))
    assert store.input_value("pv") == 2000.0
    store.expire(arrived + timedelta(seconds=61))
    assert store.input_value("pv") is None
