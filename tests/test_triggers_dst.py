"""`at` and `cron` when the UTC offset changes: local times stay local.

A replay gives each tick the fixed offset of its data row (`+01:00`, then `+02:00` once
daylight saving time begins); live, a time zone with rules (ZoneInfo) does. Both give the
same fire times but for a cron time of the day in the repeated hour (once with fixed
offsets), and neither misses or doubles a fire."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from evse_rules.chargers.simulated import SimulatedCharger
from evse_rules.language import load_program_text
from evse_rules.language.program import Value
from evse_rules.simulate import Recorder, prepare, run

BERLIN = ZoneInfo("Europe/Berlin")
# One tzinfo per offset, as the replay shares them.
OFFSETS = {hours: timezone(timedelta(hours=hours)) for hours in (1, 2)}
SPRING = datetime(2025, 3, 29, 12, 0, tzinfo=UTC)   # 01:00Z on the 30th: 02:00 -> 03:00
AUTUMN = datetime(2025, 10, 25, 12, 0, tzinfo=UTC)  # 01:00Z on the 26th: 03:00 -> 02:00


def fixed(moment: datetime) -> datetime:
    """`moment` at the fixed offset Berlin has then (a replay's row)."""
    offset = moment.astimezone(BERLIN).utcoffset()
    assert offset is not None
    return moment.astimezone(OFFSETS[int(offset.total_seconds()) // 3600])


def zoned(moment: datetime) -> datetime:
    return moment.astimezone(BERLIN)


def fires(text: str, start: datetime, step: timedelta, hours: int,
          local: Callable[[datetime], datetime] = fixed) -> list[str]:
    """The local times of the ticks at which the program's block fired."""
    program = load_program_text(text, "t.evr")
    seen: list[str] = []
    for i in range(int(timedelta(hours=hours) / step)):
        now = local(start + i * step)
        if program.tick(now, []).fired:
            seen.append(now.isoformat(timespec="minutes"))
    return seen


HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize("trigger", ["at 21:00", 'cron "0 21 * * *"'])
@pytest.mark.parametrize("step", [MINUTE, HOUR])
def test_a_local_time_after_spring_forward_fires_at_that_local_time(
        trigger: str, step: timedelta) -> None:
    # Before the offset changed the trigger was placed at 21:00+01:00 (20:00Z); 21:00+02:00
    # is an hour before that.
    assert fires(f"{trigger}:\n    start\n", SPRING, step, 36) == [
        "2025-03-29T21:00+01:00", "2025-03-30T21:00+02:00"]


@pytest.mark.parametrize("trigger", ["at 21:00", 'cron "0 21 * * *"'])
@pytest.mark.parametrize("step", [MINUTE, HOUR])
def test_a_local_time_after_fall_back_fires_once_at_that_local_time(
        trigger: str, step: timedelta) -> None:
    # 21:00+02:00 (19:00Z) is 20:00+01:00 after the change: not a second fire.
    assert fires(f"{trigger}:\n    start\n", AUTUMN, step, 36) == [
        "2025-10-25T21:00+02:00", "2025-10-26T21:00+01:00"]


@pytest.mark.parametrize("trigger", ["at 02:30", 'cron "30 2 * * *"'])
@pytest.mark.parametrize("local", [fixed, zoned])
def test_a_skipped_local_time_fires_on_the_first_tick_after_the_jump(
        trigger: str, local: Callable[[datetime], datetime]) -> None:
    assert fires(f"{trigger}:\n    start\n", SPRING, MINUTE, 24, local) == [
        "2025-03-30T03:00+02:00"]


@pytest.mark.parametrize("trigger", ["at 02:30", 'cron "30 2 * * *"'])
def test_a_repeated_local_time_fires_once_with_fixed_offsets(trigger: str) -> None:
    assert fires(f"{trigger}:\n    start\n", AUTUMN, MINUTE, 24) == ["2025-10-26T02:30+02:00"]


@pytest.mark.parametrize("start", [SPRING, AUTUMN])
@pytest.mark.parametrize("text", [
    "at 21:00", "at 02:30", "at 03:15 on sun", 'cron "0 21 * * *"', 'cron "*/20 * * * *"',
    'cron "0 * * * *"', 'cron "15 3 * * *"', 'cron "45 1 * * *"', 'cron "0 */3 * * *"'])
@pytest.mark.parametrize("step", [MINUTE, 7 * MINUTE, 25 * MINUTE, HOUR, 90 * MINUTE])
def test_fixed_offsets_fire_as_the_time_zone_does(start: datetime, text: str,
                                                  step: timedelta) -> None:
    # The time zone's rules are the reference, except where fixed offsets cannot tell that
    # a local time comes twice (a cron time in the hour the clock repeats: once, not twice).
    program = f"{text}:\n    start\n"
    live = fires(program, start, step, 48, zoned)
    replay = fires(program, start, step, 48, fixed)
    assert len(replay) == len(set(replay))
    assert replay == live


def test_ticks_coarser_than_the_cron_spacing_fire_on_every_tick_across_the_change() -> None:
    # Every 25 min a tick passes one or two cron times of */10: each tick fires, once.
    for start in (SPRING, AUTUMN):
        ticks = [fixed(start + i * 25 * MINUTE) for i in range(int(62 * HOUR / (25 * MINUTE)))]
        assert fires('cron "*/10 * * * *":\n    start\n', start, 25 * MINUTE, 62) == [
            t.isoformat(timespec="minutes") for t in ticks]


def test_a_replay_fires_at_the_local_times_of_the_data(tmp_path: Path) -> None:
    # Hourly rows, +01:00 until daylight saving time begins, +02:00 after; ticks each minute.
    rows = ["time,pv[W]"]
    for i in range(40):
        rows.append(f"{fixed(SPRING + i * HOUR).isoformat()},0")
    data = tmp_path / "data.csv"
    data.write_text("\n".join(rows) + "\n")
    rules = tmp_path / "r.evr"
    rules.write_text("at 21:00:\n    start\n"
                     'cron "30 21 * * *":\n    stop\n')
    changes: list[tuple[str, str]] = []

    class States(Recorder):
        def tick(self, now: datetime, chargers: dict[str, SimulatedCharger],
                 inputs: list[Value], lets: dict[str, Value]) -> None:
            (charger,) = chargers.values()
            state = charger.state.value
            if not changes or changes[-1][1] != state:
                changes.append((now.isoformat(timespec="minutes"), state))

    run(prepare([rules], data), States())
    assert changes[1:] == [
        ("2025-03-29T21:00+01:00", "charging"), ("2025-03-29T21:30+01:00", changes[0][1]),
        ("2025-03-30T21:00+02:00", "charging"), ("2025-03-30T21:30+02:00", changes[0][1])]


def test_a_time_zone_fires_each_coarse_tick_through_the_repeated_hour() -> None:
    # Hourly ticks, cron every 20 min: the tick at 02:00+01:00 (second time) passed 02:20,
    # 02:40 (first time) and 03:00+02:00; it fires although 02:00 reads before 02:20.
    seen = fires('cron "*/20 * * * *":\n    start\n', AUTUMN, HOUR, 24, zoned)
    assert seen == [zoned(AUTUMN + i * HOUR).isoformat(timespec="minutes") for i in range(24)]
