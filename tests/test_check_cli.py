"""`evse-rules check`: the summary, the errors, the exit status."""

from __future__ import annotations

from pathlib import Path

import pytest

from evse_rules.cli import main

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """
tick = "1 min"
rules = ["solar.evr"]

[chargers.garage]
driver = "simulated"
min_amps = 6
max_amps = 16

[inputs.pv]
kind = "constant"
value = "3 kW"

[inputs.house]
kind = "constant"
value = "300 W"
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["check", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_every_example_rule_file_checks_clean(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in (ROOT / "rules").glob("*.evr"))
    assert len(files) >= 4
    status, out, err = run(capsys, *files)
    assert status == 0 and "error:" not in err
    # Only the naive file, kept to show what goes wrong, is warned about.
    warned = {line.split(":", 1)[0] for line in err.splitlines() if ": warning: " in line}
    assert warned == {str(ROOT / "rules" / "naive_surplus.evr")}
    assert out.startswith(f"{len(files)} files, ") and out.endswith(" statements: ok\n")


def test_a_warning_is_shown_and_the_check_passes(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "w.evr"
    rules.write_text("input pv: W\n"
                     "if mode is auto and pv > 2 kW then start else stop\n"
                     "every 5 min:\n    if avg(pv, 1 min) > 1 kW then start\n")
    status, out, err = run(capsys, str(rules))
    assert status == 0 and out == "1 file, 3 statements: ok\n"
    assert f"{rules}:2:47: warning: this else also runs in manual mode" in err
    assert f"{rules}:4:8: warning: avg over 1 min in a block that runs every 5 min sees " \
        "one sample" in err


def test_summary_counts_files_and_statements(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "a.evr"
    rules.write_text("input pv: W\ninput surplus: W\n"
                     "if mode is auto and pv > 1400W then set amps to surplus/voltage\n")
    assert run(capsys, str(rules)) == (0, "1 file, 3 statements: ok\n", "")


def test_errors_go_to_stderr_with_exit_status_1(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.evr"
    bad.write_text("input pv: W\nif pv > 16A then stop\nif pvv > 1 kW then start\n")
    good = tmp_path / "good.evr"
    good.write_text("start\n")
    status, out, err = run(capsys, str(good), str(bad))
    assert (status, out) == (1, "")
    assert err == (f"{bad}:2:9: error: cannot compare power (W) with current (A)\n"
                   "    if pv > 16A then stop\n"
                   "            ^^^\n"
                   f"{bad}:3:4: error: unknown name pvv; did you mean pv?\n"
                   "    if pvv > 1 kW then start\n"
                   "       ^^^\n"
                   "2 errors\n")


def test_each_file_is_checked_on_its_own_without_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Both declare `let x`: separately, both are clean.
    for name in ("a.evr", "b.evr"):
        (tmp_path / name).write_text("let x = 1\n")
    status, _, _ = run(capsys, str(tmp_path / "a.evr"), str(tmp_path / "b.evr"))
    assert status == 0


def test_missing_file_is_a_usage_error(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, str(tmp_path / "nope.evr"))
    assert (status, out) == (2, "")
    assert "nope.evr" in err


def test_no_file_at_all_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys)
    assert status == 2 and "no rule files" in err


def test_with_config_the_rule_files_are_checked_together_against_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "solar.evr").write_text("let surplus = pv - house\n"
                                        "if surplus > 1.4 kW then start garage\n")
    extra = tmp_path / "extra.evr"
    extra.write_text("if surplus < 0 W for 5 min then stop\n")      # uses the config's let
    config = tmp_path / "evse-rules.toml"
    config.write_text(CONFIG)
    assert run(capsys, str(extra), "--config", str(config)) == (
        0, "2 files, 3 statements: ok\n", "")
    extra.write_text("if power > 1 kW then stop evse\n")
    status, _, err = run(capsys, str(extra), "--config", str(config))
    assert status == 1
    assert "unknown charger evse (chargers: garage)" in err


def test_a_file_of_the_config_named_again_is_checked_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The README's `evse-rules check rules/solar_surplus.evr --config evse-rules.toml`, where
    # the config lists the same file: relative here, resolved against the config there.
    (tmp_path / "solar.evr").write_text("let surplus = pv - house\n"
                                        "if surplus > 1.4 kW then start garage\n")
    (tmp_path / "evse-rules.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "solar.evr", "./solar.evr", "--config", "evse-rules.toml") == (
        0, "1 file, 2 statements: ok\n", "")


def test_with_config_an_input_the_config_does_not_feed_is_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The daemon refuses rules reading an input it never reads: check says so first, at
    # the declaration.
    (tmp_path / "solar.evr").write_text("input pv: W\ninput sun: W\n"
                                        "if sun > 1 kW then start garage\n")
    config = tmp_path / "evse-rules.toml"
    config.write_text(CONFIG)
    status, out, err = run(capsys, "--config", str(config))
    assert (status, out) == (1, "")
    assert err == (f"{tmp_path / 'solar.evr'}:2:7: error: input sun is not in the config "
                   "(inputs: house, pv); add [inputs.sun]\n"
                   "    input sun: W\n"
                   "          ^^^\n"
                   "1 error\n")


def test_config_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--config", str(tmp_path / "none.toml")) == (
        2, "", f"evse-rules check: error: {tmp_path / 'none.toml'}: no such file\n")
    assert run(capsys, "--config", str(tmp_path)) == (
        2, "", f"evse-rules check: error: {tmp_path}: not a file\n")
    config = tmp_path / "evse-rules.toml"
    config.write_text('tick = "forever"\n')
    status, _, err = run(capsys, "--config", str(config))
    assert status == 1 and "tick" in err


def test_a_byte_order_mark_is_not_part_of_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "solar.evr").write_bytes(b"\xef\xbb\xbfif pv > 1 kW then start garage\n")
    config = tmp_path / "evse-rules.toml"
    config.write_bytes(b"\xef\xbb\xbf" + CONFIG.encode())
    assert run(capsys, "--config", str(config)) == (0, "1 file, 1 statement: ok\n", "")
