"""Rules that coexist: the README's example and the example files, replayed over a day and a
night, do what their comments say; blocks name themselves in the trace; `when` fires on
edges; `stop now` is sent whatever min_on says."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evse_rules.chargers.base import ChargerState
from evse_rules.chargers.simulated import SimulatedCharger
from evse_rules.engine import ChargerSettings, Engine
from evse_rules.language import load_program_text
from evse_rules.language.program import ActionKind, Value
from evse_rules.simulate import Recorder, simulate
from tests.engine_fakes import status

ROOT = Path(__file__).resolve().parent.parent


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## What a rule file looks like", 1)[1]
    found = re.search(r"```\n(.*?)```", section, re.S)
    assert found
    return found.group(1)


def day_and_night(tmp_path: Path) -> Path:
    """The bundled clear day from 12:00, and the night after it until the next noon (the
    same day's rows again, a day later): a replay from noon to noon."""
    rows = (ROOT / "data" / "clear-day.csv").read_text().splitlines()
    header, body = rows[0], rows[1:]
    out = [header]
    for shift in (0, 1):
        for row in body:
            stamp, rest = row.split(",", 1)
            moment = datetime.fromisoformat(stamp) + timedelta(days=shift)
            if (shift == 0 and moment.hour >= 12) or (shift == 1 and moment.hour < 12):
                out.append(f"{moment.isoformat()},{rest}")
    path = tmp_path / "day-and-night.csv"
    path.write_text("\n".join(out) + "\n")
    return path


class Amps(Recorder):
    """Per tick: the charger's local time, whether it charges and at what current, and the
    surplus the data gave."""

    def __init__(self) -> None:
        self.rows: list[tuple[datetime, bool, float, float]] = []

    def tick(self, now: datetime, chargers: dict[str, SimulatedCharger],
             inputs: list[Value], lets: dict[str, Value]) -> None:
        charger = next(iter(chargers.values()))
        surplus = lets.get("surplus")
        self.rows.append((now, charger.current > 0, float(charger.amps),
                          float(surplus) if isinstance(surplus, float) else 0.0))


def test_the_readme_example_charges_full_off_peak_and_follows_the_surplus_by_day(
        tmp_path: Path) -> None:
    rules = tmp_path / "readme.evr"
    rules.write_text(readme_example())
    recorder = Amps()
    simulate([rules], day_and_night(tmp_path), recorder=recorder)
    night = [r for r in recorder.rows if r[0].hour >= 22 or r[0].hour < 6]
    assert len(night) == 8 * 60
    # Off-peak: charging at 32 A, every minute from 22:00 to 06:00 (the comment's promise).
    assert all(charging and amps == 32 for _, charging, amps, _ in night), [
        r for r in night if not (r[1] and r[2] == 32)][:3]
    # By day: while charging, the current follows the surplus (rounded down, 6..32 A).
    day = [r for r in recorder.rows if 8 <= r[0].hour < 20 and r[1]]
    assert len(day) > 60
    followed = [r for r in day if r[2] == max(6, min(32, int(r[3] / 240 + 1e-6)))]
    assert len(followed) >= 0.9 * len(day)
    assert {amps for _, _, amps, _ in day} != {32.0}


def test_a_when_rule_logs_once_per_rising_edge() -> None:
    program = load_program_text(
        "input pv: W\nwhen pv > 1 kW:\n    log \"surplus at {pv}\"\n", "edge.evr")
    start = datetime(2026, 6, 1, 10, tzinfo=UTC)
    logged = []
    for i in range(300):
        # Held for 100 ticks, low for 100, held for 100 again: two rising edges.
        pv = 0.0 if 100 <= i < 200 else 2000.0
        values: list[Value] = [pv]
        result = program.tick(start + timedelta(minutes=i), values)
        logged += [(i, a.value) for a in result.actions if a.kind is ActionKind.LOG]
    assert logged == [(0, "surplus at 2000 W"), (200, "surplus at 2000 W")]


def test_a_safety_stop_is_sent_within_min_on() -> None:
    program = load_program_text(
        "input house: W\n"
        "if mode is auto and house < 5 kW then start\n"
        "if house > 9 kW then stop now\n", "shed.evr")
    engine = Engine(program, [ChargerSettings("evse", min_on=600, min_off=300)])
    start = datetime(2026, 6, 1, 10, tzinfo=UTC)
    engine.store.set_mode("evse", "auto")
    engine.store.set_charger("evse", status(ChargerState.SLEEPING), start)
    engine.store.set_input("house", 2000.0, start)
    first = engine.step(start)
    assert [c.kind.value for c in first.commands] == ["start"]
    for command in first.commands:
        engine.commit(command, True)
    later = start + timedelta(minutes=1)
    engine.store.set_charger("evse", status(ChargerState.CHARGING), later)
    engine.store.set_input("house", 10000.0, later)
    stopped = engine.step(later)
    assert [c.kind.value for c in stopped.commands] == ["stop"]
    assert "safety stop" in str(stopped.commands[0].reason)


class Trace(Recorder):
    """Every charger's current per tick, and the events (log lines) with their time."""

    def __init__(self) -> None:
        self.rows: list[tuple[datetime, dict[str, tuple[bool, float]]]] = []
        self.events: list[tuple[datetime, str]] = []

    def tick(self, now: datetime, chargers: dict[str, SimulatedCharger],
             inputs: list[Value], lets: dict[str, Value]) -> None:
        self.rows.append((now, {name: (c.current > 0, float(c.amps))
                                for name, c in chargers.items()}))

    def event(self, now: datetime, text: str) -> None:
        self.events.append((now, text))


def test_off_peak_charges_the_whole_window_at_full_power_and_not_by_day(
        tmp_path: Path) -> None:
    trace = Trace()
    simulate([ROOT / "rules" / "off_peak.evr"], day_and_night(tmp_path), recorder=trace)
    night = [seen["evse"] for now, seen in trace.rows if now.hour >= 22 or now.hour < 6]
    assert len(night) == 480 and all(seen == (True, 32.0) for seen in night)
    # Monday and Tuesday: no weekend evening; by day nothing charges (the stop at 06:00 is
    # the first tick of the day).
    day = [seen["evse"][0] for now, seen in trace.rows
           if 6 <= now.hour < 22 and not (now.hour == 6 and now.minute == 0)]
    assert day and not any(day)
    starts = [(now, text) for now, text in trace.events if "off-peak starts" in text]
    assert [(now.hour, now.minute) for now, _ in starts] == [(22, 0)]


def test_two_chargers_the_carport_only_takes_what_the_garage_leaves(tmp_path: Path) -> None:
    # A roof three times the bundled one: enough surplus for both chargers at noon.
    rows = (ROOT / "data" / "clear-day.csv").read_text().splitlines()
    data = tmp_path / "big-roof.csv"
    data.write_text("\n".join([rows[0], *(f"{t},{float(pv) * 3:g},{house}" for t, pv, house in (
        row.split(",") for row in rows[1:]))]) + "\n")
    trace = Trace()
    simulate([ROOT / "rules" / "two_chargers.evr"], data, recorder=trace)
    garage = [seen["garage"] for _, seen in trace.rows]
    carport = [seen["carport"] for _, seen in trace.rows]
    assert any(g[0] for g in garage) and any(c[0] for c in carport)
    # The carport charges only while the garage does (a tick of overlap at a stop aside).
    alone = [i for i, c in enumerate(carport) if c[0] and not garage[i][0]
             and not (i > 0 and garage[i - 1][0])]
    assert alone == []
    # While the garage charges it follows its share: not stuck at the current it started at.
    assert len({g[1] for g in garage if g[0]}) > 3
    # On a clear day, few starts: the hysteresis holds.
    starts = sum(1 for i in range(1, len(garage)) if garage[i][0] and not garage[i - 1][0])
    assert starts <= 2


async def test_the_dashboard_counts_down_to_a_start_a_for_clock_waits_on(
        tmp_path: Path) -> None:
    from evse_rules.config import parse_config
    from evse_rules.live import Daemon, FakeTime
    from evse_rules.live.face import DaemonFace

    (tmp_path / "sun.evr").write_text("input pv: W\n"
                                      "if mode is auto and pv > 1 kW for 2 min then start\n")
    config = parse_config(
        'tick = "20 s"\nrules = ["sun.evr"]\n'
        '[chargers.evse]\ndriver = "simulated"\nmode = "auto"\n'
        '[inputs.pv]\nkind = "constant"\nvalue = "2 kW"\n', "evse-rules.toml", tmp_path)
    time = FakeTime(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    daemon = Daemon(config, clock=time.clock, sleep=time.sleep, max_ticks=5)
    await daemon.run()
    assert daemon.last_tick is not None
    time.now = daemon.last_tick         # the view as of the last tick: 80 s of 120 s held
    (charger,) = DaemonFace(daemon).view().chargers
    assert charger.countdown is not None
    assert (charger.countdown.action, charger.countdown.seconds) == ("start", 40.0)
    assert charger.countdown.text == (
        f"starting in 40 s if it holds ({tmp_path / 'sun.evr'}:2 if mode is auto and "
        "pv > 1 kW for 2 min then start)")
    assert charger.why == charger.countdown.text


async def test_the_journal_says_which_block_decided(tmp_path: Path) -> None:
    from evse_rules.config import parse_config
    from evse_rules.engine.journal import Journal
    from evse_rules.live import Daemon, FakeTime
    from evse_rules.live.report import describe

    (tmp_path / "night.evr").write_text("if mode is auto:\n    between 10:00 and 14:00:\n"
                                        "        start\n")
    config = parse_config(
        'rules = ["night.evr"]\n[chargers.evse]\ndriver = "simulated"\nmode = "auto"\n',
        "evse-rules.toml", tmp_path)
    time = FakeTime(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    await Daemon(config, clock=time.clock, sleep=time.sleep, max_ticks=2).run()
    with Journal(config.journal_path) as journal:
        sent = [describe(e) for e in journal.entries() if e.type == "command"]
    assert sent == [f"start sent <- {tmp_path / 'night.evr'}:3 start; in if mode is auto "
                    "(night.evr:1) > between 10:00 and 14:00 (night.evr:2)"]


def test_off_peak_after_solar_surplus_full_power_at_night_and_the_sun_by_day(
        tmp_path: Path) -> None:
    trace = Trace()
    simulate([ROOT / "rules" / "solar_surplus.evr", ROOT / "rules" / "off_peak.evr"],
             day_and_night(tmp_path), recorder=trace)
    night = [seen["evse"] for now, seen in trace.rows if now.hour >= 22 or now.hour < 6]
    assert len(night) == 480 and all(seen == (True, 32.0) for seen in night)
    # By day the solar rules decide: the charge follows the sun below full power.
    day = [seen["evse"] for now, seen in trace.rows if 9 <= now.hour < 18]
    assert any(charging for charging, _ in day)
    assert {amps for charging, amps in day if charging} - {32.0}
