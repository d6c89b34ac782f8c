"""The TOML config: every key validated, every error naming the file and the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from evse_rules.config import (
    ChargerConfig,
    Config,
    HttpConfig,
    InputConfig,
    MqttConfig,
    SiteConfig,
    load_config,
    parse_config,
)
from evse_rules.errors import ConfigError
from evse_rules.language.program import Kind
from evse_rules.language.units import CURRENT, POWER, VOLTAGE

GOOD = """
tick = "1 min"
rules = ["rules/solar_surplus.evr"]
journal = "evse-rules.sqlite"
state = "evse-rules-state.json"

[chargers.garage]
driver = "openevse"
url = "http://192.168.1.50/"
user = "admin"
password_env = "EVSE_TEST_PASSWORD"
min_amps = 6
max_amps = 16
phases = 1
voltage = 230
min_on = "10 min"
min_off = "5 min"
mode = "auto"

[inputs.pv]
kind = "http"
url = "http://inverter.local/api/flow"
path = "site.meters.0.power"
unit = "kW"
every = "10 s"
timeout = "5 s"
stale_after = "2 min"

[inputs.house]
kind = "constant"
value = "300 W"
"""


def _write(tmp_path: Path, text: str, name: str = "evse-rules.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _errors(tmp_path: Path, text: str) -> list[str]:
    """The error lines of loading `text` as ./evse-rules.toml (messages name the path given)."""
    _write(tmp_path, text)
    with pytest.MonkeyPatch.context() as patch, pytest.raises(ConfigError) as info:
        patch.chdir(tmp_path)
        load_config("evse-rules.toml")
    return str(info.value).splitlines()


def test_the_design_example_loads_with_canonical_values(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD))
    assert config.tick_seconds == 60.0
    assert config.rule_paths == [tmp_path / "rules" / "solar_surplus.evr"]
    assert config.journal_path == tmp_path / "evse-rules.sqlite"
    assert config.state_path == tmp_path / "evse-rules-state.json"
    garage = config.chargers["garage"]
    assert (garage.min_on, garage.min_off, garage.max_amps) == (600.0, 300.0, 16)
    assert garage.url == "http://192.168.1.50"
    assert garage.voltage_volts == 230.0 and garage.voltage_input is None
    pv = config.inputs["pv"]
    assert (pv.every, pv.timeout, pv.stale_after, pv.factor()) == (10.0, 5.0, 120.0, 1000.0)
    assert config.inputs["house"].constant().value == 300.0


def test_defaults_for_state_and_journal_are_beside_the_config(tmp_path: Path) -> None:
    text = 'rules = ["r.evr"]\n[chargers.evse]\ndriver = "simulated"\n'
    config = load_config(_write(tmp_path, text))
    assert config.state_path == tmp_path / "evse-rules-state.json"
    assert config.journal_path == tmp_path / "evse-rules.sqlite"
    assert config.chargers["evse"].mode == "manual"
    assert config.tick_seconds == 60.0


def test_environment_gives_input_dimensions_and_charger_names(tmp_path: Path) -> None:
    env = load_config(_write(tmp_path, GOOD)).environment()
    assert env.chargers == ("garage",)
    assert env.inputs["pv"].kind is Kind.NUMBER
    assert env.inputs["pv"].dimension == POWER
    assert env.inputs["house"].dimension == POWER


def test_every_error_is_reported_with_file_and_key(tmp_path: Path) -> None:
    bad = (GOOD.replace("max_amps = 16", "max_amps = 40")
           .replace('mode = "auto"', 'mdoe = "auto"')
           .replace('unit = "kW"', 'unit = "kw"')
           .replace('every = "10 s"', "every = 10"))
    lines = _errors(tmp_path, bad)
    assert "evse-rules.toml: chargers.garage.max_amps: error: must be between 6 and 32, got 40" \
        in lines
    assert any(line.startswith("evse-rules.toml: chargers.garage.mdoe: error: unknown key")
               and "did you mean 'mode'" in line for line in lines)
    assert any(line.startswith("evse-rules.toml: inputs.pv.unit: error: unknown unit 'kw'")
               and line.endswith("; did you mean kW?") for line in lines)
    assert any(line.startswith("evse-rules.toml: inputs.pv.every: error:") and "unit" in line
               for line in lines)
    assert len(lines) == 4


def test_error_object_names_file_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, GOOD.replace('phases = 1', 'phases = 2')))
    assert info.value.file.endswith("evse-rules.toml")
    assert info.value.key == "chargers.garage.phases"


@pytest.mark.parametrize(("change", "key", "words"), [
    (('driver = "openevse"', 'driver = "tesla"'), "chargers.garage.driver", "must be one of"),
    (('min_amps = 6', 'min_amps = 20'), "chargers.garage", "min_amps (20) is above max_amps"),
    (('url = "http://192.168.1.50/"', 'url = "192.168.1.50"'), "chargers.garage.url", "http://"),
    (('url = "http://192.168.1.50/"', 'url = "http://192.168.1.50:99999"'),
     "chargers.garage.url", "port between 1 and 65535"),
    (('url = "http://192.168.1.50/"', 'url = "http://192.168.1.50:http/"'),
     "chargers.garage.url", "port between 1 and 65535"),
    (('voltage = 230', 'voltage = "230 A"'), "chargers.garage.voltage", "not a voltage"),
    (('voltage = 230', 'voltage = "mains"'), "chargers.garage.voltage", "no input named 'mains'"),
    (('min_on = "10 min"', 'min_on = "10 W"'), "chargers.garage.min_on", "not a duration"),
    (('tick = "1 min"', 'tick = "-1 s"'), "tick", "must be positive"),
    (('tick = "1 min"', 'tick = "1e400 s"'), "tick", "the number is too large"),
    (('value = "300 W"', 'value = inf\nunit = "W"'), "inputs.house.value", "got inf"),
    (('kind = "http"', 'kind = "modbus"'), "inputs.pv.kind", "must be one of"),
    (('path = "site.meters.0.power"', 'path = "site..power"'), "inputs.pv.path", "dotted path"),
    (('value = "300 W"', 'value = "lots"'), "inputs.house.value", "not a quantity"),
    (('user = "admin"', 'password = "hunter2"'), "chargers.garage.password", "password_env"),
    (('[chargers.garage]', '[chargers.now]'), "chargers", "reserved"),
    (('[inputs.house]', '[inputs.garage]'), None, "names both a charger and an input"),
])
def test_bad_values_name_their_key(
    tmp_path: Path, change: tuple[str, str], key: str | None, words: str
) -> None:
    lines = _errors(tmp_path, GOOD.replace(*change))
    prefix = f"evse-rules.toml: {key}: error:" if key else "evse-rules.toml"
    assert any(line.startswith(prefix) and words in line for line in lines), lines


def test_a_voltage_input_must_be_a_voltage(tmp_path: Path) -> None:
    text = GOOD.replace("voltage = 230", 'voltage = "house"')
    lines = _errors(tmp_path, text)
    assert lines == ["evse-rules.toml: chargers.garage.voltage: error: input 'house' is not a "
                     "voltage (it is power (W))"]
    # Every cross-check is reported at once.
    text += ('[chargers.carport]\ndriver = "simulated"\nvoltage = "gird"\n'
             '[inputs.grid]\nkind = "constant"\nvalue = "236 V"\n')
    assert _errors(tmp_path, text) == [
        "evse-rules.toml: chargers.garage.voltage: error: input 'house' is not a voltage (it "
        "is power (W))",
        "evse-rules.toml: chargers.carport.voltage: error: no input named 'gird' (did you mean "
        "'grid'?)"]
    text = GOOD.replace("voltage = 230", 'voltage = "grid"') + \
        '[inputs.grid]\nkind = "constant"\nvalue = "236 V"\n'
    config = load_config(_write(tmp_path, text))
    assert config.chargers["garage"].voltage_input == "grid"
    assert config.environment().inputs["grid"].dimension == VOLTAGE


def test_zero_guards_are_allowed(tmp_path: Path) -> None:
    text = GOOD.replace('min_on = "10 min"', 'min_on = "0 s"')
    assert load_config(_write(tmp_path, text)).chargers["garage"].min_on == 0.0


def test_constant_input_kinds_are_checked(tmp_path: Path) -> None:
    text = GOOD + '[inputs.limit]\nkind = "constant"\nvalue = 16\nunit = "A"\n'
    config = load_config(_write(tmp_path, text))
    assert config.inputs["limit"].constant().value == 16.0
    assert config.inputs["limit"].dimension == CURRENT
    lines = _errors(tmp_path, GOOD + '[inputs.x]\nkind = "constant"\nurl = "http://a"\nvalue = 1\n')
    assert any("inputs.x" in line and "takes no url" in line for line in lines)
    lines = _errors(tmp_path, GOOD + '[inputs.y]\nkind = "http"\nunit = "W"\n')
    assert any("inputs.y" in line and "needs url and path" in line for line in lines)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")
    lines = _errors(tmp_path, "tick = \n")
    assert lines[0].startswith("evse-rules.toml: error: not valid TOML")


def test_password_is_read_at_connect_time_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(_write(tmp_path, GOOD))
    garage = config.chargers["garage"]
    with pytest.raises(ConfigError, match="EVSE_TEST_PASSWORD is not set"):
        garage.password()
    monkeypatch.setenv("EVSE_TEST_PASSWORD", "s3cret-pw")
    secret = garage.password()
    assert secret is not None and secret.get_secret_value() == "s3cret-pw"
    assert "s3cret-pw" not in repr(secret) + str(secret) + repr(config)
    pw_file = tmp_path / "pw"
    pw_file.write_text("file-pw\n")
    text = GOOD.replace('password_env = "EVSE_TEST_PASSWORD"', 'password_file = "pw"')
    filed = load_config(_write(tmp_path, text)).chargers["garage"].password()
    assert filed is not None and filed.get_secret_value() == "file-pw"


def test_credentials_in_url_are_refused(tmp_path: Path) -> None:
    lines = _errors(tmp_path, GOOD.replace("http://192.168.1.50/", "http://admin:pw@192.168.1.50"))
    assert any("must not hold credentials" in line for line in lines)
    assert not any("pw@" in line for line in lines)


def test_parse_config_without_file() -> None:
    config = parse_config('rules = ["a.evr"]\n[chargers.evse]\ndriver = "simulated"\n',
                          base=Path("/srv/x"))
    assert isinstance(config, Config)
    assert config.rule_paths == [Path("/srv/x/a.evr")]


def test_the_example_config_at_the_repository_root_loads() -> None:
    root = Path(__file__).resolve().parent.parent
    config = load_config(root / "evse-rules.example.toml")
    assert config.rule_paths == [root / "rules" / "solar_surplus.evr"]
    assert set(config.chargers) == {"garage"} and set(config.inputs) == {"pv", "house"}


def _documented_keys() -> dict[str, set[str]]:
    """The keys of each config table of docs/running.md: the first column of its tables."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "running.md").read_text()
    text = text[text.index("\n## The config file\n"):]
    text = text[:text.index("\n## ", 1)]
    keys: dict[str, set[str]] = {}
    section = "top"
    for line in text.splitlines():
        if line.startswith("### "):
            section = {"### Top level": "top", "### `[chargers.NAME]`": "chargers",
                       "### `[inputs.NAME]`": "inputs", "### `[http]`": "http",
                       "### `[mqtt]`": "mqtt",
                       "### `[site]`": "site"}[line]
        elif line.startswith("| `"):
            keys.setdefault(section, set()).update(
                re.findall(r"`(\w+)`", line.split("|")[1]))
    return keys


def test_running_guide_describes_every_config_key_and_no_other() -> None:
    models: dict[str, type[BaseModel]] = {"top": Config, "chargers": ChargerConfig,
                                          "inputs": InputConfig, "http": HttpConfig,
                                          "mqtt": MqttConfig, "site": SiteConfig}
    in_code = {section: set(model.model_fields) - {"source", "chargers", "inputs"}
               for section, model in models.items()}
    assert _documented_keys() == in_code


def test_time_zone_names_are_checked(tmp_path: Path) -> None:
    lines = _errors(tmp_path, 'timezone = "Europe/Pariss"\n' + GOOD)
    assert lines == ["evse-rules.toml: timezone: error: unknown time zone 'Europe/Pariss' "
                     "(write it like 'Europe/Paris')"]
    config = load_config(_write(tmp_path, 'timezone = "Europe/Paris"\n' + GOOD))
    assert str(config.tzinfo()) == "Europe/Paris"


def test_http_inputs_take_credentials_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = GOOD.replace('stale_after = "2 min"', 'stale_after = "2 min"\nuser = "meter"\n'
                        'password_env = "EVSE_TEST_METER"')
    pv = load_config(_write(tmp_path, text)).inputs["pv"]
    monkeypatch.setenv("EVSE_TEST_METER", "m-pw")
    secret = pv.password()
    assert secret is not None and secret.get_secret_value() == "m-pw"
    lines = _errors(tmp_path, GOOD.replace("http://inverter.local", "http://u:pw@inverter.local"))
    assert any(line.startswith("evse-rules.toml: inputs.pv.url: error: must not hold")
               for line in lines)
    lines = _errors(tmp_path, GOOD.replace('value = "300 W"', 'value = "300 W"\nuser = "x"'))
    assert any("kind 'constant' takes no user" in line for line in lines)


@pytest.mark.parametrize(("client_id", "said"), [
    (20, "already used by"), (65540, "already used by"), (2**31, "out of range"),
])
def test_client_id_follows_the_drivers_rule(tmp_path: Path, client_id: int, said: str) -> None:
    text = GOOD.replace('mode = "auto"', f'mode = "auto"\nclient_id = {client_id}')
    (line,) = _errors(tmp_path, text)
    assert line.startswith("evse-rules.toml: chargers.garage.client_id: error:")
    assert said in line


def test_a_url_with_credentials_is_refused_for_chargers_and_inputs(tmp_path: Path) -> None:
    text = GOOD.replace("http://192.168.1.50/", "http://admin:secret@192.168.1.50/").replace(
        "http://inverter.local/", "http://u:p@inverter.local/")
    lines = _errors(tmp_path, text)
    assert [line.split(": error:")[0] for line in lines] == [
        "evse-rules.toml: chargers.garage.url", "evse-rules.toml: inputs.pv.url"]
    assert all("must not hold credentials" in line for line in lines)
    assert not any("secret" in line for line in lines)


def test_a_rule_file_listed_twice_is_loaded_once(tmp_path: Path) -> None:
    config = parse_config('rules = ["a.evr", "./a.evr", "b.evr", "sub/../a.evr"]\n'
                          '[chargers.evse]\ndriver = "simulated"\n', base=tmp_path)
    assert config.rule_paths == [tmp_path / "a.evr", tmp_path / "b.evr"]


def test_a_byte_order_mark_is_not_part_of_the_config(tmp_path: Path) -> None:
    path = tmp_path / "evse-rules.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert set(load_config(path).chargers) == {"garage"}


def test_every_word_the_rules_reserve_is_refused_as_a_config_name() -> None:
    # A charger or input named like a keyword, a built-in or a charger property would load
    # and could never be named in a rule: the config refuses it, whatever the language adds.
    from evse_rules.config import _RESERVED_NAMES
    from evse_rules.language.names import BUILTINS, CHARGER_PROPERTIES
    from evse_rules.language.parse import KEYWORDS

    assert KEYWORDS | set(BUILTINS) | set(CHARGER_PROPERTIES) <= _RESERVED_NAMES


def test_paths_are_written_as_people_read_them(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    text = GOOD.replace('rules = ["rules/solar_surplus.evr"]', 'rules = ["../rules/a.evr"]')
    assert 'rules = ["../rules/a.evr"]' in text
    config = load_config(_write(tmp_path / "conf", text))
    assert config.rule_paths == [tmp_path / "rules" / "a.evr"]


@pytest.mark.parametrize(("given", "said"), [
    ('"17 A"', "'17 A' is not a power (write it like '17 kW')"),
    ("17000", "write the power with its unit, like '17 kW', got 17000"),
    ('"20000 kW"', "a site's power limit is 100 W to 10 MW, got '20000 kW'"),
])
def test_a_site_power_limit_is_a_power_with_its_unit(tmp_path: Path, given: str,
                                                      said: str) -> None:
    text = GOOD + f'\n[site]\nmax_power = {given}\nhouse = "house"\n'
    lines = _errors(tmp_path, text)
    assert any(line.startswith("evse-rules.toml: site.max_power: error:") and said in line
               for line in lines), lines
