"""Polling inputs and chargers, each on its own interval, none waiting for another.

Each source has at most one read in flight. A tick launches the reads that are due, waits
for them a bounded time, and takes whatever has arrived; a read still running (a dead meter
waiting for its timeout) finishes in the background and is taken at a later tick. So a dead
source delays nothing: its value simply goes stale in the store.

A reading is stamped with the tick that launched it: the time the question was asked.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from evse_rules.chargers.base import Charger, ChargerStatus, offline_status
from evse_rules.inputs.base import Input, InputError
from evse_rules.traced import TracedOnce

log = logging.getLogger("evse_rules.live")


@dataclass(frozen=True, slots=True)
class InputResult:
    name: str
    at: datetime
    value: float | None
    error: str | None


@dataclass(frozen=True, slots=True)
class ChargerResult:
    name: str
    at: datetime
    status: ChargerStatus


class _Poll:
    """One source's schedule and its read in flight."""

    def __init__(self, name: str, every: float) -> None:
        self.name = name
        self.every = timedelta(seconds=every)
        self.next_due: datetime | None = None
        self.task: asyncio.Task[None] | None = None

    def due(self, now: datetime) -> bool:
        return self.task is None and (self.next_due is None or now >= self.next_due)

    def planned(self, now: datetime) -> None:
        # The next read counts from the tick that launched this one, not from when it ended.
        self.next_due = now + self.every


class Sources:
    """The inputs and chargers of one daemon, with their reads in flight."""

    def __init__(self, inputs: dict[str, Input], chargers: dict[str, Charger],
                 charger_every: dict[str, float]) -> None:
        self.inputs = inputs
        self.chargers = chargers
        self._traced = TracedOnce()
        self._input_polls = {name: _Poll(name, i.every) for name, i in inputs.items()}
        self._charger_polls = {name: _Poll(name, charger_every[name]) for name in chargers}
        self._ready: list[InputResult | ChargerResult] = []
        self._last_status: dict[str, ChargerStatus] = {}
        # Sources whose last read failed: a tick does not wait for them (a dead meter would
        # delay every tick by its timeout); their answer is taken whenever it comes.
        self._failing: set[str] = set()

    def launch(self, now: datetime) -> dict[str, asyncio.Task[None]]:
        """Start the reads that are due at `now`; returns them by source name."""
        started: dict[str, asyncio.Task[None]] = {}
        for name, poll in self._input_polls.items():
            if poll.due(now):
                poll.planned(now)
                poll.task = asyncio.create_task(self._read_input(poll, now),
                                                name=f"input {name}")
                started[name] = poll.task
        for name, poll in self._charger_polls.items():
            if poll.due(now):
                poll.planned(now)
                poll.task = asyncio.create_task(self._refresh(poll, now),
                                                name=f"charger {name}")
                started[name] = poll.task
        return started

    async def gather(self, now: datetime, budget: float) -> list[InputResult | ChargerResult]:
        """Launch the due reads, wait for them at most `budget` seconds, take what came."""
        started = [task for name, task in self.launch(now).items()
                   if name not in self._failing]
        if started:
            await asyncio.wait(started, timeout=budget)
        ready, self._ready = self._ready, []
        return ready

    async def _read_input(self, poll: _Poll, at: datetime) -> None:
        source = self.inputs[poll.name]
        try:
            reading = await source.read()
            # A value pushed to us (MQTT) is as old as its arrival, not as the poll: its
            # staleness counts from then.
            stamp = reading.at if getattr(source, "stamps_arrival", False) else at
            result = InputResult(poll.name, stamp, reading.value, None)
        except InputError as error:
            result = InputResult(poll.name, at, None, str(error))
        except Exception as error:   # a bug in an input must not stop the daemon
            self._traced.error(log, f"inputs.{poll.name}", error,
                               "inputs.%s: unexpected failure", poll.name)
            result = InputResult(poll.name, at, None,
                                 f"inputs.{poll.name}: unexpected {type(error).__name__}")
        finally:
            poll.task = None
        self._mark(poll.name, result.error is not None)
        self._ready.append(result)

    async def _refresh(self, poll: _Poll, at: datetime) -> None:
        charger = self.chargers[poll.name]
        try:
            status = await charger.refresh()
        except Exception as error:   # refresh should never raise; if it does, it is offline
            self._traced.error(log, f"chargers.{poll.name}", error,
                               "chargers.%s: refresh failed unexpectedly", poll.name)
            status = offline_status(f"unexpected {type(error).__name__}",
                                    self._last_status.get(poll.name))
        finally:
            poll.task = None
        self._last_status[poll.name] = status
        self._mark(poll.name, not status.online)
        self._ready.append(ChargerResult(poll.name, at, status))

    def _mark(self, name: str, failed: bool) -> None:
        if failed:
            self._failing.add(name)
        else:
            self._failing.discard(name)

    async def cancel(self) -> None:
        """Stop every read in flight (shutdown)."""
        tasks = [p.task for p in (*self._input_polls.values(), *self._charger_polls.values())
                 if p.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
