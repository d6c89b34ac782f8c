"""State kept between ticks: triggers, `for` clocks, time-window aggregates, smoothing.

Compiled statements call these objects with `n`, the tick's time in seconds (POSIX), so that
nothing on the hot path converts datetimes. Every object can be reset, which makes the next
tick a first tick again.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import date, datetime, timedelta, timezone, tzinfo
from datetime import time as dtime
from typing import NoReturn

from croniter import croniter

from evse_rules.language.names import WEEKDAYS
from evse_rules.language.program import Value


class ForClock:
    """`COND for D`: true once COND has been true at every evaluation for at least D."""

    __slots__ = ("duration", "since")

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self.since: float | None = None

    def __call__(self, n: float, holds: bool) -> bool:
        if not holds:
            self.since = None
            return False
        if self.since is None:
            self.since = n
        return n - self.since >= self.duration

    def reset(self) -> None:
        self.since = None


class Window:
    """avg/min/max of the known values seen at evaluations within the last `duration`
    seconds: samples at times t with now - duration < t <= now."""

    __slots__ = ("duration", "kind", "samples")

    def __init__(self, kind: str, duration: float) -> None:
        self.kind = kind
        self.duration = duration
        self.samples: deque[tuple[float, float]] = deque()

    def __call__(self, n: float, value: float | None) -> float | None:
        samples = self.samples
        if value is not None:
            samples.append((n, value))
        horizon = n - self.duration
        while samples and samples[0][0] <= horizon:
            samples.popleft()
        if not samples:
            return None
        if self.kind == "avg":
            return sum(v for _, v in samples) / len(samples)
        if self.kind == "min":
            return min(v for _, v in samples)
        return max(v for _, v in samples)

    def reset(self) -> None:
        self.samples.clear()


class Smoother:
    """Exponential smoothing with a rise and a fall time constant.

    s <- s + (x - s) * (1 - exp(-dt / tau)), tau = rise when x > s else fall, dt the time
    since the previous known sample. The first known sample starts s at x. An unknown sample
    gives an unknown result and leaves s as it was.
    """

    __slots__ = ("fall", "last", "rise", "state")

    def __init__(self, rise: float, fall: float) -> None:
        self.rise = rise
        self.fall = fall
        self.state: float | None = None
        self.last = 0.0

    def __call__(self, n: float, value: float | None) -> float | None:
        if value is None:
            return None
        state = self.state
        if state is None:
            self.state = value
        else:
            tau = self.rise if value > state else self.fall
            self.state = state + (value - state) * (1.0 - math.exp(-(n - self.last) / tau))
        self.last = n
        return self.state

    def reset(self) -> None:
        self.state = None
        self.last = 0.0


class Today:
    """`today(x)`: how much a counter (a charger's total_energy) grew since the local day
    began - since the first tick of the day that knew it. A counter that goes back (a
    charger replaced or reset) starts the day's count again from there."""

    __slots__ = ("day", "start")

    def __init__(self) -> None:
        self.day: object = None
        self.start: float | None = None

    def __call__(self, day: object, value: float | None) -> float | None:
        if value is None:
            return None
        start = self.start
        if day != self.day or start is None or value < start:
            self.day, self.start = day, value
            return 0.0
        return value - start

    def reset(self) -> None:
        self.day = None
        self.start = None


class TickClock:
    """The program's own clock, kept by the tick function: whether the next tick is the
    first one, and the time of the last (-inf before the first)."""

    __slots__ = ("first", "last")

    def __init__(self) -> None:
        self.first = True
        self.last = -math.inf

    def reset(self) -> None:
        self.first = True
        self.last = -math.inf


def refuse_tick(now: datetime, values: list[Value], n: float, expected: int,
                last: float) -> NoReturn:
    """Raise why the tick function cannot run (it checks cheaply, this says why)."""
    if now.tzinfo is None:
        raise ValueError("tick needs a timezone-aware `now`")
    if len(values) != expected:
        raise ValueError(f"tick needs {expected} values (one per external), got {len(values)}")
    raise ValueError("time went backwards: call reset() before replaying again")


# ---- triggers -------------------------------------------------------------------------------


class Trigger:
    """A block's trigger; asked once per tick, in block order, by the tick function."""

    def due(self, now: datetime, n: float, first: bool) -> bool:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget what was seen (the base trigger keeps nothing)."""


class Every(Trigger):
    """Fires on the first tick, then whenever at least `period` has passed since it fired."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.last: float | None = None

    def due(self, now: datetime, n: float, first: bool) -> bool:
        if self.last is None or n - self.last >= self.period:
            self.last = n
            return True
        return False

    def reset(self) -> None:
        self.last = None


# The largest change of UTC offset a switch to daylight saving time makes (2 h: the Troll
# station in Antarctica; 1 h almost everywhere, 30 min on Lord Howe Island).
MAX_OFFSET_STEP = 7200.0


def lead_for(zone: tzinfo | None) -> float:
    """How long before its due time `at` and `cron` ask to be checked.

    A fixed offset (a replay's data: `+01:00`, then `+02:00`) says nothing about the next one:
    any tick may come with a larger offset, which makes a local time due up to
    MAX_OFFSET_STEP earlier in POSIX seconds. A time zone with rules (ZoneInfo) places its
    local times itself, so its triggers are checked only once due."""
    return MAX_OFFSET_STEP if isinstance(zone, timezone) else 0.0


def moved(now: datetime, scheduled: datetime) -> bool:
    """Whether `now` is in another zone or offset than the time `scheduled` was placed in
    (the replay shares one tzinfo per offset: the identity check is the usual answer)."""
    zone = now.tzinfo
    return zone is not scheduled.tzinfo and zone != scheduled.tzinfo


class At(Trigger):
    """Fires once on the first tick at or after HH:MM (local time of `now`), on the given
    weekdays; a time already past on the first tick waits for its next day.

    `next` is the next occurrence in the zone of the tick that placed it, `due_n` the
    earliest POSIX second at which it can be local time there, and `next_n` (-inf before the
    first tick) `due_n` less the zone's lead: the tick function calls `due` only from
    `next_n` on. A tick whose zone is not that of `next` (the offset changed in a replay)
    moves `next` to the same local time in the tick's zone."""

    def __init__(self, seconds: float, days: tuple[int, ...]) -> None:
        self.time = dtime(int(seconds // 3600), int(seconds % 3600 // 60))
        self.days = days or tuple(range(7))
        self.next: datetime | None = None
        self.due_n = math.inf
        self.next_n = -math.inf

    def _occurrence(self, now: datetime, strictly_after: bool) -> datetime | None:
        """The next HH:MM on an allowed day; None past the last day a datetime holds (the
        year 9999: a tick must not fail there either)."""
        day = now.date()
        for _ in range(8):
            if day.weekday() in self.days:
                candidate = datetime.combine(day, self.time, tzinfo=now.tzinfo)
                # The same tzinfo: a comparison of local times.
                if candidate > now or (candidate == now and not strictly_after):
                    return candidate
            if day == date.max:
                return None
            day += timedelta(days=1)
        raise AssertionError("unreachable: every week has an allowed day")

    def _schedule(self, occurrence: datetime | None) -> None:
        if occurrence is None:           # no day is left: never due again (until reset)
            self.next = None
            self.due_n = self.next_n = math.inf
            return
        self.next = occurrence
        # A local time that a zone's clock skips (02:30 when 02:00 jumps to 03:00) is due on
        # the first tick after the jump: the earlier of its two readings (fold 0 and 1).
        self.due_n = min(occurrence.timestamp(), occurrence.replace(fold=1).timestamp())
        self.next_n = self.due_n - lead_for(occurrence.tzinfo)

    def due(self, now: datetime, n: float, first: bool) -> bool:
        if self.next is None:
            self._schedule(self._occurrence(now, strictly_after=False))
        elif moved(now, self.next):
            self._schedule(self.next.replace(tzinfo=now.tzinfo))
        if n < self.due_n:
            return False
        assert self.next is not None
        if now >= self.next:      # local times (the same tzinfo, or the same offset)
            self._schedule(self._occurrence(now, strictly_after=True))
            return True
        return False

    def reset(self) -> None:
        self.next = None
        self.due_n = math.inf
        self.next_n = -math.inf


# How long a cron trigger for which croniter found no next time waits to ask again.
CRON_RETRY = 86400.0


class Cron(Trigger):
    """Fires once on a tick when one or more cron times fall in (previous tick, now]; on the
    first tick only when now is a cron time. `next`, `due_n` and `next_n` as for `At`; a
    tick in another zone than `next` moves the next cron time (`_move`)."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.next: datetime | None = None
        self.due_n = math.inf
        self.next_n = -math.inf

    def _schedule(self, occurrence: datetime) -> None:
        self.next = occurrence
        self.due_n = occurrence.timestamp()
        self.next_n = self.due_n - lead_for(occurrence.tzinfo)

    def _after(self, moment: datetime) -> datetime | None:
        """The first cron time after `moment`; None when croniter finds none (the checker
        refuses an expression that never gives a time; a tick must not fail all the same,
        on that or on any other surprise of croniter's)."""
        try:
            next_time: datetime = croniter(self.expression, moment).get_next(datetime)
        except Exception:  # CroniterBadDateError, or a date out of range
            return None
        return next_time

    def _schedule_after(self, moment: datetime) -> None:
        """The next cron time after `moment`; if croniter finds none, it is asked again
        CRON_RETRY later (nothing fires meanwhile)."""
        occurrence = self._after(moment)
        if occurrence is None:
            self.next = None
            self.due_n = math.inf
            self.next_n = moment.timestamp() + CRON_RETRY
        else:
            self._schedule(occurrence)

    def _move(self, now: datetime) -> None:
        """The offset changed: the next cron time is the first one in the tick's offset at or
        after the earlier of the old next time and its local time in the new offset.

        A later offset (daylight saving time begins) makes the old next local time due
        earlier; a local time the clock skipped is due on the first tick after the jump. An
        earlier offset (it ends) keeps the old next time: `*/15` goes on every 15 minutes
        through the hour the clock repeats, and `30 2 * * *` fires once on that day."""
        assert self.next is not None
        start = min(self.next, self.next.replace(tzinfo=now.tzinfo))
        self._schedule_after(start.astimezone(now.tzinfo) - timedelta(microseconds=1))

    def due(self, now: datetime, n: float, first: bool) -> bool:
        if self.next is None:
            self._schedule_after(now - timedelta(microseconds=1))
        elif moved(now, self.next):
            self._move(now)
        if n < self.due_n:
            return False
        # Due in POSIX seconds, not in local times: in the hour a zone's clock repeats,
        # 02:00 (second time) is after 02:20 (first time).
        self._schedule_after(now)
        return True

    def reset(self) -> None:
        self.next = None
        self.due_n = math.inf
        self.next_n = -math.inf


_UNSEEN = object()


class OnChange(Trigger):
    """Fires when the watched value differs from the previous tick's (unknown counts as a
    value: a change between known and unknown fires); never on the first tick. The tick
    function passes the value to `changed`; `slot` says where it is among the slots."""

    def __init__(self, slot: int) -> None:
        self.slot = slot
        self.previous: object = _UNSEEN

    def changed(self, current: Value) -> bool:
        previous, self.previous = self.previous, current
        if previous is _UNSEEN:
            return False
        return bool(current != previous)

    def due(self, now: datetime, n: float, first: bool) -> bool:
        raise TypeError("on change of: the tick function calls changed(value)")

    def reset(self) -> None:
        self.previous = _UNSEEN


class OnStart(Trigger):
    def due(self, now: datetime, n: float, first: bool) -> bool:
        return first


# ---- helpers the compiled code calls ----------------------------------------------------------


def round_half_away(x: float) -> float:
    """round(2.5) is 3 and round(-2.5) is -3 (not Python's banker's rounding)."""
    if not math.isfinite(x):
        return x
    return float(math.floor(x + 0.5)) if x >= 0 else -float(math.floor(-x + 0.5))


def floor(x: float) -> float:
    return float(math.floor(x)) if math.isfinite(x) else x


def ceil(x: float) -> float:
    return float(math.ceil(x)) if math.isfinite(x) else x


def time_between(t: float, low: float, high: float) -> bool:
    """[low, high) of the day, wrapping midnight when low > high; low == high is empty."""
    if low <= high:
        return low <= t < high
    return t >= low or t < high


# The built-ins, in slot order (names.BUILTINS): now, time, hour, weekday, date, minute.
BUILTIN_COUNT = 6


def builtins_at(now: datetime) -> tuple[Value, ...]:
    """The built-ins' values at `now` (local time of `now`)."""
    seconds = now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6
    return (now.isoformat(timespec="seconds"), float(seconds), float(now.hour),
            WEEKDAYS[now.weekday()], now.date().isoformat(), float(now.minute))


def until(t: float, target: float) -> float:
    """Seconds from the time of day `t` to the next `target` (0 at the very time)."""
    return (target - t) % 86400.0


class Edge(Trigger):
    """`when COND:`: due at each tick where COND holds and did not at the previous one (the
    first tick counts a condition that holds as risen)."""

    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = False

    def rose(self, holds: bool) -> bool:
        was, self.held = self.held, holds
        return holds and not was

    def due(self, now: datetime, n: float, first: bool) -> bool:
        raise TypeError("when: the tick function calls rose(condition)")

    def reset(self) -> None:
        self.held = False
