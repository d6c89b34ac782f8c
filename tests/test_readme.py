"""The README opens with the two commands a new user needs, and CI runs the second verbatim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "README.md must open with a ```sh block of two commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_install_and_test_commands() -> None:
    install, test = _readme_commands()[:2]
    assert "pip install" in install and "evse-rules simulate" in install
    assert "pytest" in test


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test = _readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci, f"{test!r} is not a line of .ci/run"


def test_the_readme_rule_example_checks_clean() -> None:
    from evse_rules.language import load_program_text

    text = (ROOT / "README.md").read_text()
    section = text.split("## What a rule file looks like", 1)[1]
    example = re.search(r"```\n(.*?)```", section, re.S)
    assert example, "the section shows no rule file"
    program = load_program_text(example.group(1), "README.md")
    assert len(program.rules) == 4


def test_the_readme_error_example_is_what_check_prints() -> None:
    from evse_rules.errors import RuleFileErrors
    from evse_rules.language import load_program_text

    text = (ROOT / "README.md").read_text()
    shown = re.search(r"\$ evse-rules check broken\.evr\n(.*?)```", text, re.S)
    assert shown
    try:
        load_program_text("input pv: W\nif pv > 16A then stop\n", "broken.evr")
    except RuleFileErrors as error:
        assert error.render().strip() == shown.group(1).strip()
    else:
        raise AssertionError("the README's broken example checked clean")


def test_the_readme_check_summary_is_what_check_prints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from evse_rules.cli import main

    text = (ROOT / "README.md").read_text()
    shown = re.search(r"\$ evse-rules check rules/\*\.evr\n(.*)\n", text)
    assert shown
    monkeypatch.chdir(ROOT)
    assert main(["check", *sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("rules/*.evr"))]) == 0
    assert capsys.readouterr().out.strip() == shown.group(1).strip()



def _replay_commands() -> list[str]:
    """Every `evse-rules simulate` line of the README's shell blocks (a loop's body for one
    of its days), without its comment."""
    text = (ROOT / "README.md").read_text()
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S)[1:]:
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip().replace("$day", "cloudy")
            if line.startswith("evse-rules simulate"):
                lines.append(line)
    return lines


def test_every_replay_the_readme_shows_runs_as_written(tmp_path: Path) -> None:
    import subprocess
    import sys

    # In a folder of its own (the commands write t.csv and p.png), with the repository's
    # rules and data where the README's relative paths expect them.
    for folder in ("rules", "data"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    commands = _replay_commands()
    assert len(commands) >= 8
    for command in commands:
        done = subprocess.run([sys.executable, "-m", "evse_rules", *command.split()[1:]],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{command}:\n{done.stderr}"
        assert done.stdout.strip(), command
    assert (tmp_path / "t.csv").exists() and (tmp_path / "p.png").exists()
