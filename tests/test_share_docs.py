"""The "Several chargers" chapter of docs/language.md: its example is rules/two_chargers.evr,
it checks, and it replays as the chapter says (the carport charges beside a small garage)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evse_rules.cli import main
from tests.test_share_replay import replay, together_on_one

ROOT = Path(__file__).resolve().parent.parent


def chapter() -> str:
    text = (ROOT / "docs" / "language.md").read_text()
    return text.split("\n## Several chargers\n", 1)[1].split("\n## ", 1)[0]


def example() -> str:
    """The chapter's first indented rule file (from its `charger` line to the block's end)."""
    lines = chapter().split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("    charger "))
    block: list[str] = []
    for line in lines[first:]:
        if line and not line.startswith("    "):
            break
        block.append(line[4:])
    return "\n".join(block).strip() + "\n"


def code(text: str) -> list[str]:
    """The lines that are not comments or blank."""
    return [line.rstrip() for line in text.split("\n")
            if line.strip() and not line.strip().startswith("#")]


def test_the_example_is_the_bundled_file() -> None:
    bundled = (ROOT / "rules" / "two_chargers.evr").read_text()
    assert code(example()) == [line.split("  #")[0].rstrip() for line in code(bundled)]


def test_the_example_checks_and_replays_as_the_chapter_says(tmp_path: Path) -> None:
    rules = tmp_path / "example.evr"
    rules.write_text(example())
    assert main(["check", str(rules)]) == 0
    rows = replay(rules, "clear-day", tmp_path, "garage.available").rows
    assert together_on_one(rows) == []
    assert any("carport" in started for _, started, _, _ in rows)


def test_the_chapters_command_runs(capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (command,) = [line.strip() for line in chapter().split("\n")
                  if line.strip().startswith("evse-rules simulate")]
    monkeypatch.chdir(ROOT)
    assert main(command.split()[1:]) == 0
    shown = capsys.readouterr().out
    assert "garage" in shown and "carport" in shown


def test_the_share_benchmark_prints_both_figures() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_share.py"),
                          "--ticks", "50", "--repeat", "1"], capture_output=True, text=True,
                         check=True).stdout
    assert "with share:" in out and "hand-made lets" in out and "share costs" in out
