"""What-if events of a replay: a person's actions at given times (`--at`, `--events FILE`).

    --at 12:00 mode=manual          every day of the data at 12:00 (the data's local time)
    --at 2025-06-30T19:30 boost=true   once
    --at 12:00 garage.stop          a charger's ON/OFF, current or mode: `start`, `stop`,
                                    `amps=16`, `mode=auto`; the charger may be left out
                                    when there is only one
    --at 19:30 boost=true           a user variable the rules declare (`var boost: ...`)
    --at 19:00 plan=20kWh@07:00     a charge plan (docs/plans.md); `plan=cancel` cancels it

An events file holds one event a line, `TIME ACTION`, with `#` comments. The replay carries
them out through the same path as a person's commands live (`Engine.hand`, and the same
parsing of variable values as the dashboard): a hand ON, OFF or current switches the charger
to manual, a person's OFF is never held back by min_on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from pathlib import Path

from evse_rules.errors import DataError

# The actions of a person on a charger, as `Engine.hand` names them.
CHARGER_ACTIONS = ("start", "stop", "amps", "mode", "plan")
_ACTION = re.compile(r"^\s*(?:([A-Za-z_][A-Za-z0-9_]*)\.)?([A-Za-z_][A-Za-z0-9_]*)"
                     r"\s*(?:=\s*(.*?))?\s*$")
_DAILY = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?$")


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event as written: when (a time of day, or a moment), and what."""

    where: str                    # "--at" or "FILE:LINE", for messages
    daily: time | None            # every day at this local time
    once: datetime | None         # or once, at this moment
    charger: str | None           # the charger named before the dot, if any
    action: str                   # start, stop, amps, mode, or a variable's name
    value: str | None             # after "=", as written

    def text(self) -> str:
        target = f"{self.charger}." if self.charger else ""
        value = f"={self.value}" if self.value is not None else ""
        return f"{target}{self.action}{value}"


@dataclass(frozen=True, slots=True)
class Event:
    """An event placed on the replay's clock (POSIX seconds)."""

    at: float
    spec: EventSpec


def parse_event(when: str, what: str, where: str) -> EventSpec:
    """`12:00` + `mode=manual`, or DataError naming `where` and what is wrong."""
    when = when.strip()
    daily: time | None = None
    once: datetime | None = None
    if _DAILY.match(when):
        try:
            daily = time.fromisoformat(when if len(when.split(":")[0]) == 2 else "0" + when)
        except ValueError:
            raise DataError(where, None, f"{when!r} is not a time of day (HH:MM)") from None
    else:
        try:
            once = datetime.fromisoformat(when)
        except ValueError:
            raise DataError(where, None, (
                f"{when!r} is not a time: write HH:MM (every day) or a date and time like "
                "2025-06-30T12:00")) from None
    match = _ACTION.match(what)
    if match is None:
        raise DataError(where, None, (
            f"{what!r} is not an action: write mode=manual, start, stop, amps=16, "
            "garage.stop or VARIABLE=VALUE"))
    charger, action, value = match.group(1), match.group(2), match.group(3)
    if action in ("start", "stop") and value is not None:
        raise DataError(where, None, f"{action} takes no value (write {action!r})")
    if action in ("amps", "mode", "plan") and not value:
        example = {"amps": "16", "mode": "manual", "plan": "20kWh@07:00"}[action]
        raise DataError(where, None, f"{action} needs a value (like {action}={example})")
    if action not in CHARGER_ACTIONS:
        if charger is not None:
            raise DataError(where, None, (
                f"{charger}.{action}: a charger takes start, stop, amps=N or mode=auto|manual"))
        if value is None:
            raise DataError(where, None, (
                f"{action!r} is not an action: write start, stop, amps=N, mode=auto|manual "
                "or VARIABLE=VALUE"))
    return EventSpec(where, daily, once, charger, action, value)


def read_events(path: str | Path) -> list[EventSpec]:
    """The events of a file: `TIME ACTION` a line, `#` comments, blank lines skipped."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise DataError(file, None, f"cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise DataError(file, None, "not UTF-8 text") from None
    specs = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        parts = content.split(None, 1)
        if len(parts) != 2:
            raise DataError(file, number, f"write a time and an action, like "
                                          f"'12:00 mode=manual', not {content!r}")
        try:
            specs.append(parse_event(parts[0], parts[1], f"{file}:{number}"))
        except DataError as error:
            raise DataError(file, number, error.message) from None
    return specs


def place_events(specs: Sequence[EventSpec], start: float, end: float,
                 zone: tzinfo) -> list[Event]:
    """The events on the clock from `start` to `end` (POSIX seconds), in time order: a
    daily one on each day of the data (in the data's first time zone), a moment once (a
    moment without an offset is read in the data's zone)."""
    events: list[Event] = []
    first = datetime.fromtimestamp(start, zone).date()
    last = datetime.fromtimestamp(end, zone).date()
    for spec in specs:
        if spec.once is not None:
            moment = spec.once if spec.once.tzinfo else spec.once.replace(tzinfo=zone)
            events.append(Event(moment.timestamp(), spec))
            continue
        assert spec.daily is not None
        day = first
        while day <= last:
            stamp = datetime.combine(day, spec.daily, zone).timestamp()
            if start <= stamp <= end:
                events.append(Event(stamp, spec))
            day += timedelta(days=1)
    events.sort(key=lambda event: event.at)
    return events
