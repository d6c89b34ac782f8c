"""When ticks happen: on the wall clock, aligned, and injectable for tests and benchmarks.

Ticks fall on whole multiples of the interval since the Unix epoch, so a one-minute tick
runs at hh:mm:00 and a five-minute tick at :00, :05, :10... A tick that comes too late
(the box was busy or asleep) is not caught up: the next one is the next aligned time.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
# Waits `seconds` unless `stop` is set first; returns True when stopped.
Sleeper = Callable[[float, asyncio.Event], Awaitable[bool]]


def wall_clock() -> datetime:
    return datetime.now(UTC)


async def wall_sleep(seconds: float, stop: asyncio.Event) -> bool:
    """Sleep on the event loop, waking at once when `stop` is set (SIGTERM)."""
    if stop.is_set():
        return True
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        return False
    return True


def next_tick(now: datetime, interval: float) -> datetime:
    """The first aligned tick time at or after `now`."""
    epoch = now.timestamp()
    aligned = math.ceil(round(epoch / interval, 9)) * interval
    return datetime.fromtimestamp(aligned, UTC)


class FakeTime:
    """A clock that moves only when slept on: ticks run as fast as the work allows.

    For tests and benchmarks; `sleep` also yields to the event loop so that pollers run.
    """

    def __init__(self, start: datetime) -> None:
        self.now = start

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float, stop: asyncio.Event) -> bool:
        self.now += timedelta(seconds=max(0.0, seconds))
        await asyncio.sleep(0)
        return stop.is_set()
