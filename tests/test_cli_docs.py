"""Every command is documented: its function's docstring is its help, and docs/commands.md
describes it."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from evse_rules.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {"check", "simulate", "charger", "run", "history", "why", "mode", "set", "start",
            "stop", "amps", "release", "status", "demo", "plan"}


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_command_of_the_design_exists() -> None:
    assert set(_commands()) >= EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_command_has_help_and_reference_entry(name: str) -> None:
    parser = _commands()[name]
    assert parser.description and len(parser.description) > 20, f"{name}: no docstring help"
    reference = (ROOT / "docs" / "commands.md").read_text()
    assert f"## evse-rules {name}" in reference, f"docs/commands.md does not describe {name}"


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "evse_rules", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for name in EXPECTED:
        assert name in result.stdout


def test_a_reader_that_goes_away_stops_the_output_quietly() -> None:
    # `evse-rules history | head`: the pipe closes before everything is written.
    process = subprocess.Popen(
        [sys.executable, "-m", "evse_rules", "simulate", str(ROOT / "rules" / "solar_surplus.evr"),
         "--data", str(ROOT / "data" / "cloudy-day.csv")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in err and err == ""



@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_reference_names_every_option_of_the_command(name: str) -> None:
    reference = (ROOT / "docs" / "commands.md").read_text()
    section = reference.split(f"## evse-rules {name}\n", 1)[1].split("\n## ", 1)[0]
    options = {option for action in _commands()[name]._actions for option in action.option_strings
               if option.startswith("--") and option not in ("--help", "--verbose", "--version")}
    assert sorted(option for option in options if option not in section) == []


@pytest.mark.parametrize(("argv", "verbose"), [
    (["run"], 0), (["run", "-v"], 1), (["-v", "run"], 1), (["-vv", "run"], 2),
    (["run", "--config", "x.toml", "-vv"], 2), (["history", "-v"], 1),
])
def test_verbose_is_taken_before_and_after_the_command(argv: list[str], verbose: int) -> None:
    assert build_parser().parse_args(argv).verbose == verbose


@pytest.mark.parametrize("argv", [
    ["--version"], ["check", "x.evr", "--version"], ["run", "--config", "x.toml", "--version"],
    ["history", "--version"], ["simulate", "--version"],
])
def test_version_is_taken_before_and_after_the_command(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from evse_rules import __version__
    from evse_rules.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"evse-rules {__version__}\n"


@pytest.mark.parametrize("argv", [
    ["run", "--config", "none.toml"], ["why", "--config", "none.toml"],
    ["history", "--config", "none.toml"], ["mode", "garage", "auto", "--config", "none.toml"],
    ["set", "target", "1 kWh", "--config", "none.toml"],
    ["check", "x.evr", "--config", "none.toml"],
    ["simulate", "none.evr", "--data", "none.csv"],
])
def test_a_missing_file_is_a_usage_error_for_every_command(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    from evse_rules.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.evr").write_text("input pv: W\n")
    assert main(argv) == 2
    missing = "none.evr" if argv[0] == "simulate" else "none.toml"
    assert capsys.readouterr().err == f"evse-rules {argv[0]}: error: {missing}: no such file\n"


def test_run_without_a_config_here_says_how_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from evse_rules.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evse-rules run: error: evse-rules.toml: no such file (no ./evse-")
    assert "--config FILE" in err


def _readme_sh_blocks() -> list[str]:
    import re

    return re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_the_readme_says_how_its_later_commands_find_evse_rules() -> None:
    # After the first two commands `evse-rules` is on no PATH: a block that types it bare
    # activates the venv first.
    later = _readme_sh_blocks()[1:]
    bare = [block for block in later
            if any(line.strip().startswith("evse-rules ") for line in block.splitlines())]
    assert bare
    for block in bare:
        assert block.startswith(". .venv/bin/activate"), block.splitlines()[0]


def test_the_readme_check_and_simulate_commands_work_as_written(tmp_path: Path) -> None:
    venv = Path(sys.executable).parent.parent
    if not (venv / "bin" / "activate").exists():
        pytest.skip("not run from a venv: the README's `. .venv/bin/activate` has none")
    for name in ("rules", "data", "evse-rules.example.toml"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / ".venv").symlink_to(venv)
    running, simulation = (block for block in _readme_sh_blocks()
                           if "cp evse-rules.example.toml" in block
                           or "--trace t.csv" in block)
    # The running block up to its check (the rest needs a charger and the wall clock).
    lines = running.splitlines()
    check = next(i for i, line in enumerate(lines) if line.startswith("evse-rules check"))
    script = "set -e\n" + "\n".join(lines[:check + 1]) + "\n" + simulation
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "statements: ok" in result.stdout
    assert (tmp_path / "t.csv").exists() and (tmp_path / "p.png").exists()


def test_an_unexpected_error_is_one_line_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from evse_rules.cli import check as check_module
    from evse_rules.cli import main

    def broken(args: argparse.Namespace) -> int:
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(check_module, "check", broken)
    rules = tmp_path / "r.evr"
    rules.write_text("input pv: W\n")
    assert main(["check", str(rules)]) == 1
    err = capsys.readouterr().err
    assert err == ("evse-rules check: internal error: RuntimeError: something inside broke (a "
                   "bug: run it again with -v for the traceback, and report it)\n")
    assert main(["check", str(rules), "-v"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_a_refused_file_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import errno

    from evse_rules.cli import check as check_module
    from evse_rules.cli import main

    def refused(args: argparse.Namespace) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", "/var/lib/x.csv")

    monkeypatch.setattr(check_module, "check", refused)
    rules = tmp_path / "r.evr"
    rules.write_text("input pv: W\n")
    assert main(["check", str(rules)]) == 1
    assert capsys.readouterr().err == "evse-rules check: error: /var/lib/x.csv: Permission denied\n"
