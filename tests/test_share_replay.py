"""rules/two_chargers.evr replayed over the three bundled days with two simulated chargers:
the two never start in the same tick on a surplus that fits only one, and the carport
starts only on what the garage leaves. The same rules written the natural way, each charger
reading the whole surplus, do both (what `share` is for)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evse_rules.chargers.simulated import SimulatedCharger
from evse_rules.engine.results import Command, CommandKind, HeldBack
from evse_rules.language.program import Value
from evse_rules.simulate import Recorder, simulate

ROOT = Path(__file__).resolve().parent.parent
DAYS = ("clear-day", "cloudy-day", "winter-day")
VOLTS = 240.0                          # the simulated chargers' voltage
MIN_POWER = 6 * VOLTS                  # a charger's minimum current, as power
START_POWER = 6.5 * VOLTS              # what the rules wait for before a start

# The garage is a small charger (at most 6 A: a 1.4 kW circuit) so that the bundled days'
# surplus, at most about 3.5 kW, is sometimes enough for the carport too.
CONFIG = """tick = "1 min"
rules = ["RULES"]
[chargers.garage]
driver = "simulated"
mode = "auto"
max_amps = 6
[chargers.carport]
driver = "simulated"
mode = "auto"
"""

# Each charger reading the whole surplus, as people write it first.
NATURAL = """charger garage, carport
input pv: W
input house: W
let surplus = smooth(pv - house, rise 20 s, fall 10 min)
if garage.mode is auto:
    if surplus / garage.voltage >= 6.5 A for 3 min then start garage
    set amps of garage to surplus / garage.voltage
    if surplus / garage.voltage < 6 A for 5 min then stop garage
if carport.mode is auto:
    if surplus / carport.voltage >= 6.5 A for 3 min then start carport
    set amps of carport to surplus / carport.voltage
    if surplus / carport.voltage < 6 A for 5 min then stop carport
"""


class Starts(Recorder):
    """Per tick: the chargers started, the smoothed surplus, and the garage's draw after
    the tick's commands."""

    def __init__(self, surplus: str) -> None:
        self.surplus = surplus
        self.started: dict[datetime, list[str]] = {}
        self.rows: list[tuple[datetime, list[str], float, float]] = []

    def decided(self, now: datetime, commands: Sequence[Command],
                held: Sequence[HeldBack]) -> None:
        self.started[now] = [c.charger for c in commands if c.kind is CommandKind.START]

    def tick(self, now: datetime, chargers: dict[str, SimulatedCharger],
             inputs: list[Value], lets: dict[str, Value]) -> None:
        surplus = lets[self.surplus]
        garage = chargers["garage"]
        draw = garage.amps * VOLTS if garage.current > 0 else 0.0
        self.rows.append((now, self.started.get(now, []),
                          surplus if isinstance(surplus, float) else 0.0, draw))


def replay(rules: Path, day: str, tmp_path: Path, surplus: str) -> Starts:
    config = tmp_path / "two.toml"
    config.write_text(CONFIG.replace("RULES", str(rules)))
    recorder = Starts(surplus)
    simulate([rules], ROOT / "data" / f"{day}.csv", config, recorder=recorder)
    assert len(recorder.rows) == 1440
    return recorder


def together_on_one(rows: list[tuple[datetime, list[str], float, float]]) -> list[datetime]:
    """The ticks where both started though the surplus fitted one charger's minimum only."""
    return [now for now, started, surplus, _ in rows
            if len(started) == 2 and surplus < 2 * MIN_POWER]


def carport_on_the_garages_part(rows: list[tuple[datetime, list[str], float, float]]
                                ) -> list[datetime]:
    """The carport's starts where what the garage left was not enough to start on."""
    return [now for now, started, surplus, draw in rows
            if "carport" in started and surplus - draw < START_POWER]


@pytest.mark.parametrize("day", DAYS)
def test_with_share_the_carport_starts_only_on_what_the_garage_leaves(
        day: str, tmp_path: Path) -> None:
    rows = replay(ROOT / "rules" / "two_chargers.evr", day, tmp_path, "garage.available").rows
    assert together_on_one(rows) == []
    assert carport_on_the_garages_part(rows) == []
    # Not vacuous: both start on this day, and the carport charges beside the garage.
    assert any("garage" in started for _, started, _, _ in rows)
    carport_starts = [now for now, started, _, _ in rows if "carport" in started]
    assert carport_starts
    # The garage has first claim: each carport start finds the garage charging.
    charging = {now for now, _, _, draw in rows if draw > 0}
    assert all(now in charging for now in carport_starts)


def test_without_share_both_start_on_a_surplus_that_fits_one(tmp_path: Path) -> None:
    rules = tmp_path / "natural.evr"
    rules.write_text(NATURAL)
    together: list[datetime] = []
    on_the_garages: list[datetime] = []
    for day in DAYS:
        rows = replay(rules, day, tmp_path, "surplus").rows
        together += together_on_one(rows)
        on_the_garages += carport_on_the_garages_part(rows)
    assert together
    assert len(on_the_garages) >= len(together)


async def test_the_daemon_runs_the_same_share(tmp_path: Path) -> None:
    """Live, a surplus that fits one charger (2 kW, constant) starts the garage alone."""
    from evse_rules.config import parse_config
    from evse_rules.engine.journal import Journal
    from evse_rules.live import Daemon, FakeTime

    config = parse_config(
        f'tick = "20 s"\nrules = ["{ROOT / "rules" / "two_chargers.evr"}"]\n'
        '[chargers.garage]\ndriver = "simulated"\nmode = "auto"\n'
        '[chargers.carport]\ndriver = "simulated"\nmode = "auto"\n'
        '[inputs.pv]\nkind = "constant"\nvalue = "2 kW"\n'
        '[inputs.house]\nkind = "constant"\nvalue = "0 W"\n', "evse-rules.toml", tmp_path)
    time = FakeTime(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    await Daemon(config, clock=time.clock, sleep=time.sleep, max_ticks=30).run()
    with Journal(config.journal_path) as journal:
        starts = [e for e in journal.entries() if e.type == "command" and e.kind == "start"]
    assert [e.charger for e in starts] == ["garage"]
    # Its reason shows the share it started on.
    assert ("garage.share", "8.33333 A") in starts[0].values
