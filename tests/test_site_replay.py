"""The site limit in a replay: two simulated chargers on a 25 A single-phase supply."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from evse_rules.chargers.simulated import SimulatedCharger
from evse_rules.language.program import Value
from evse_rules.simulate.replay import Recorder, run
from evse_rules.simulate.setup import prepare

RULES = """charger garage, carport
# Both at full power all evening: only the site limit stands between them and the breaker.
start garage, set amps of garage to 32 A
start carport, set amps of carport to 32 A
"""

CONFIG = """tick = "1 min"
rules = ["full.evr"]

[site]
max_amps = 25
house = "house"
voltage = 230

[chargers.garage]
driver = "simulated"
priority = 1
min_on = "10 min"

[chargers.carport]
driver = "simulated"
min_on = "10 min"

[inputs.house]
kind = "constant"
value = "0 W"
"""


def _evening(path: Path) -> list[float]:
    """Three hours at a minute a row: the house rises to a 7 kW peak and falls back."""
    start = datetime.fromisoformat("2026-01-15T17:00:00+01:00")
    loads: list[float] = []
    for minute in range(180):
        peak = max(0.0, 1.0 - abs(minute - 90) / 60)      # 0..1..0 over two hours
        loads.append(float(round(400.0 + 6600.0 * peak)))
    lines = ["time,house[W]"] + [
        f"{(start + timedelta(minutes=m)).isoformat()},{load}" for m, load in enumerate(loads)]
    path.write_text("\n".join(lines) + "\n")
    return loads


class _Draws(Recorder):
    def __init__(self) -> None:
        self.ticks: list[tuple[datetime, float, float]] = []
        self.events: list[str] = []

    def tick(self, now: datetime, chargers: dict[str, SimulatedCharger],
             inputs: list[Value], lets: dict[str, Value]) -> None:
        garage, carport = chargers["garage"], chargers["carport"]
        self.ticks.append((now, garage.current, carport.current))

    def event(self, now: datetime, text: str) -> None:
        self.events.append(text)


def test_two_chargers_never_draw_more_than_the_supply_leaves(tmp_path: Path) -> None:
    (tmp_path / "full.evr").write_text(RULES)
    (tmp_path / "site.toml").write_text(CONFIG)
    loads = _evening(tmp_path / "evening.csv")
    recorder = _Draws()
    setup = prepare([], tmp_path / "evening.csv", tmp_path / "site.toml")
    result = run(setup, recorder)
    assert len(recorder.ticks) == len(loads)
    reduced = paused = 0
    for (now, garage, carport), house in zip(recorder.ticks, loads, strict=True):
        room = max(25.0 - house / 230.0, 0.0)
        # No tick over 25 A: what the chargers draw fits beside the house.
        assert garage + carport <= room + 1e-6, (now, house, garage, carport)
        # The lower priority gives way first: the carport never has more than its minimum
        # while the garage is held below its 32 A.
        if 0 < garage < 32:
            assert carport in (0.0, 6.0), (now, garage, carport)
            reduced += 1
        paused += carport == 0.0
    assert reduced and paused
    # At the peak (7 kW: 30.4 A of house) neither charger draws.
    assert recorder.ticks[90][1:] == (0.0, 0.0)
    # Both charge again once the house falls back.
    assert recorder.ticks[-1][1] > 0 and recorder.ticks[-1][2] > 0
    assert result.chargers["garage"].ev > result.chargers["carport"].ev
    # Every reduction is in the replay's events, with its figures.
    site = [event.text for event in result.events if event.kind == "site"]
    assert site and site == [text for text in recorder.events if "site limit" in text]
    assert any("carport: stop <- site limit 25 A: house" in text and "carport paused" in text
               for text in site)
    assert any("garage: set_current" in text and "garage 32 A ->" in text for text in site)


def test_the_documented_replay_prints_what_docs_site_shows() -> None:
    import re
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs" / "site.md").read_text()
    command = re.search(r"\n    (evse-rules simulate --config data/site-example\.toml .*)\n", doc)
    assert command
    shown = doc[doc.index("    events ("):].split("\n\n", 1)[0]
    out = subprocess.run(
        [sys.executable, "-m", "evse_rules", *command.group(1).split()[1:]], cwd=root,
        capture_output=True, text=True, check=True).stdout
    for line in shown.splitlines():
        assert line.strip() in out, line
