"""docs/tariffs.md says what the software does: its commands print what it shows, its config
examples load, its error lines are the program's."""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime
from pathlib import Path

import pytest

from evse_rules.cli import main
from evse_rules.config import parse_config
from evse_rules.errors import ConfigError
from evse_rules.inputs.prices import read_csv

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "tariffs.md").read_text()
BASE = 'rules = ["r.evr"]\n[chargers.evse]\ndriver = "simulated"\n'


def _commands() -> list[str]:
    return [line.strip() for line in DOC.splitlines()
            if line.startswith("    evse-rules simulate")]


def test_the_documented_replay_prints_the_documented_cost(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    command = _commands()[0]
    assert command == "evse-rules simulate --config data/tariff.toml --data data/winter-day.csv"
    assert main(shlex.split(command)[1:]) == 0
    out = capsys.readouterr().out
    shown = DOC[DOC.index(command):]
    shown = shown[:shown.index('    "cost"')]
    for line in shown.splitlines()[1:]:
        if line.strip():
            assert line.strip() in out, line
    assert main([*shlex.split(command)[1:], "--json"]) == 0
    text = capsys.readouterr().out
    for key, value in re.findall(r'"(\w+)": ([0-9.]+)', DOC[DOC.index('    "cost"'):
                                                           DOC.index("How it is counted")]):
        assert f'"{key}": {value}' in text, key


def test_the_same_rules_over_a_price_column_need_no_config(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    command = _commands()[1]
    assert command == "evse-rules simulate rules/cheapest_hours.evr --data day-with-prices.csv"
    # The winter day with the bundled prices as a column: the same charge, the same cost.
    prices = read_csv((ROOT / "data" / "day-ahead-prices.csv").read_text(), "prices.csv")
    rows = (ROOT / "data" / "winter-day.csv").read_text().splitlines()
    lines = [rows[0] + ",price"]
    for row in rows[1:]:
        time = row.split(",")[0]
        lines.append(f"{row},{prices.at(datetime.fromisoformat(time))}")
    (tmp_path / "day-with-prices.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(tmp_path)
    args = shlex.split(command)[1:]
    args[1] = str(ROOT / args[1])
    assert main([*args, "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    # The night as with the config's file; then the known rest of the day (the doc says).
    assert [event["time"][11:16] for event in figures["events"]] == ["02:00", "12:00", "23:00"]
    assert figures["charges"] == 3 and figures["cost"]["saved"] > 0


def _config_examples() -> list[str]:
    blocks = re.findall(r"((?:    \[inputs\.price\][^\n]*\n)(?:    .+\n)+)", DOC)
    return [re.sub(r"^    ", "", block, flags=re.M) for block in blocks]


def test_every_complete_config_example_loads(tmp_path: Path) -> None:
    examples = _config_examples()
    assert len(examples) >= 4
    for example in examples:
        config = parse_config(BASE + example, "evse-rules.toml", tmp_path)
        assert config.inputs["price"].kind == "prices"


def test_the_documented_config_error_is_the_programs() -> None:
    line = next(line.strip() for line in DOC.splitlines()
                if "evse-rules.toml: inputs.price: error:" in line)
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + '[inputs.price]\nkind = "prices"\nfile = "p.csv"\n'
                     'url = "http://prices.local/today"\n', "evse-rules.toml")
    assert str(caught.value) == line


def test_the_documented_csv_error_is_the_programs() -> None:
    with pytest.raises(ValueError) as caught:
        read_csv("time,price\n2025-12-18T00:00:00-05:00,0.1\n2025-12-18T01:00:00-05:00,dear\n",
                 "prices.csv")
    assert f"inputs.price: {caught.value}" in DOC
