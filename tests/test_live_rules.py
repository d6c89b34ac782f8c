"""The daemon with real rule files on a fake clock: time-of-day and cron triggers fire at
their time, once, in the configured time zone; `on start` fires after every start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from evse_rules.config import load_config
from evse_rules.engine.journal import Journal
from evse_rules.live import Daemon, FakeTime

RULES = """\
on start:
    log "started"

at 14:02:
    if mode is auto then start, log "at 14:02"

cron "*/5 * * * *":
    log "cron"
"""

CONFIG = """
tick = "1 min"
timezone = "Europe/Paris"
rules = ["timed.evr"]
[chargers.garage]
driver = "simulated"
mode = "auto"
"""

START = datetime(2026, 6, 1, 11, 59, 30, tzinfo=UTC)   # 13:59:30 in Paris (summer time)


async def _run(tmp_path: Path, start: datetime, ticks: int) -> None:
    (tmp_path / "timed.evr").write_text(RULES)
    (tmp_path / "evse-rules.toml").write_text(CONFIG)
    config = load_config(tmp_path / "evse-rules.toml")
    time = FakeTime(start)
    await Daemon(config, clock=time.clock, sleep=time.sleep, max_ticks=ticks).run()


def _logs(tmp_path: Path) -> list[tuple[str, str]]:
    with Journal(tmp_path / "evse-rules.sqlite") as journal:
        entries = journal.entries()
    paris = timedelta(hours=2)
    return [((e.at + paris).strftime("%H:%M"), (e.detail or "").split(": ", 1)[1])
            for e in entries if e.type == "event" and e.source == "log"]


async def test_time_of_day_and_cron_fire_at_their_time_once(tmp_path: Path) -> None:
    await _run(tmp_path, START, ticks=11)        # 14:00 .. 14:10 local time
    assert _logs(tmp_path) == [("14:00", "started"), ("14:00", "cron"), ("14:02", "at 14:02"),
                               ("14:05", "cron"), ("14:10", "cron")]
    with Journal(tmp_path / "evse-rules.sqlite") as journal:
        commands = [(e.kind, e.at) for e in journal.entries() if e.type == "command"]
    assert commands == [("start", datetime(2026, 6, 1, 12, 2, tzinfo=UTC))]


async def test_a_restart_runs_on_start_again_and_not_a_past_time_of_day(tmp_path: Path) -> None:
    await _run(tmp_path, START, ticks=4)                             # 14:00 .. 14:03
    await _run(tmp_path, START + timedelta(minutes=5), ticks=2)      # 14:05 .. 14:06
    assert _logs(tmp_path) == [("14:00", "started"), ("14:00", "cron"), ("14:02", "at 14:02"),
                               ("14:05", "started"), ("14:05", "cron")]
