"""What the daemon says about its sources and itself: a problem once when it starts, once
when it changes, once when it ends, with a count.

A meter that stays dead for a night is one warning and one "reading again after 480 failed
reads", not a line per tick; the journal gets the same events, so `evse-rules history`
shows them. The daemon's own failures (a tick that raised, a journal or state file that
cannot be written) are `Recurring` problems: the first one is logged with its traceback, the
same one again only as a count, now and then, until it changes or recovers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine import StateStore
from evse_rules.engine.journal import Event
from evse_rules.live.sources import ChargerResult, InputResult

log = logging.getLogger("evse_rules.live")

STALE = "stale: no fresh value, rules that read it do not fire"

# A problem that keeps coming back is logged again as a count at its 2nd, 10th, 100th...
# time, and at least once an hour: enough to see it goes on, never a line per tick.
_REMIND_EVERY = timedelta(hours=1)


def _remind(count: int) -> bool:
    if count == 2:
        return True
    while count >= 10 and count % 10 == 0:
        count //= 10
    return count == 1


def _since(at: datetime) -> str:
    """A start time as the log shows it: the tick's local time (the config's time zone)."""
    return at.strftime("%H:%M")


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


@dataclass(slots=True)
class Recurring:
    """One of the daemon's own problems that may come back at every tick.

    `what` names it in the count lines ("tick failed again ..."), `source` in the journal.
    """

    what: str
    source: str
    message: str | None = None
    since: datetime | None = None
    count: int = 0
    _said: datetime | None = None
    # The failures whose traceback is in the log already: one that comes back after a
    # recovery (every other tick, say) is a line, not a traceback again.
    _traced: set[str] = field(default_factory=set)

    def failed(self, now: datetime, message: str,
               error: BaseException | None = None) -> Event | None:
        """Count one failure; log it (with `error`'s traceback, the first time) when it is
        new or changed. Returns the event to journal when it is new or changed, else None."""
        if message != self.message:
            self.message, self.since, self.count, self._said = message, now, 1, now
            if error is not None and message not in self._traced and len(self._traced) < 100:
                self._traced.add(message)
                log.error("%s", message, exc_info=error)
            else:
                log.error("%s", message)
            return Event("error", self.source, message)
        self.count += 1
        assert self.since is not None and self._said is not None
        if _remind(self.count) or now - self._said >= _REMIND_EVERY:
            self._said = now
            log.error("%s failed again (%d times since %s): same error", self.what,
                      self.count, _since(self.since))
        return None

    def recovered(self, now: datetime) -> Event | None:
        """The thing works again: log and return the event once, after a failure."""
        if self.message is None or self.since is None:
            return None
        message = (f"{self.what} works again after failing {_times(self.count)} "
                   f"since {_since(self.since)}")
        self.message, self.since, self.count, self._said = None, None, 0, None
        log.info("%s", message)
        return Event("info", self.source, message)


@dataclass(slots=True)
class _Streak:
    """A source's current problem and how many ticks it has lasted."""

    reason: str
    since: datetime
    count: int = 1


@dataclass(slots=True)
class Health:
    """The last thing said about each source, and the daemon's own recurring problems."""

    input_errors: dict[str, _Streak] = field(default_factory=dict)
    stale: dict[str, _Streak] = field(default_factory=dict)
    offline: dict[str, _Streak] = field(default_factory=dict)
    faults: dict[str, _Streak] = field(default_factory=dict)
    tick: Recurring = field(default_factory=lambda: Recurring("tick", "daemon"))
    journal: Recurring = field(default_factory=lambda: Recurring("journal", "journal"))
    state_file: Recurring = field(default_factory=lambda: Recurring("state file", "state"))

    def apply(self, store: StateStore, results: Sequence[InputResult | ChargerResult],
              events: list[Event]) -> None:
        """Put the reads that arrived into the store; report failures and recoveries."""
        for result in results:
            if isinstance(result, ChargerResult):
                store.set_charger(result.name, result.status, result.at)
                self._charger(result.name, result.status, result.at, events)
            elif result.error is None and result.value is not None:
                store.set_input(result.name, result.value, result.at)
                streak = self.input_errors.pop(result.name, None)
                if streak is not None:
                    message = (f"reading again after {_failed_reads(streak.count)} since "
                               f"{_since(streak.since)}")
                    log.info("inputs.%s: %s", result.name, message)
                    events.append(Event("info", f"inputs.{result.name}", message))
            elif result.error is not None:
                streak = self.input_errors.get(result.name)
                if streak is None or streak.reason != result.error:
                    log.warning("%s", result.error)
                    events.append(Event("warning", f"inputs.{result.name}", result.error))
                    self.input_errors[result.name] = _Streak(result.error, result.at)
                else:
                    streak.count += 1

    def _charger(self, name: str, status: ChargerStatus, at: datetime,
                 events: list[Event]) -> None:
        source = f"chargers.{name}"
        if not status.online:
            reason = status.error or "no answer"
            streak = self.offline.get(name)
            if streak is None or streak.reason != reason:
                log.warning("%s: offline: %s", name, reason)
                events.append(Event("warning", source, f"offline: {reason}", name))
                self.offline[name] = _Streak(reason, at)
            else:
                streak.count += 1
            return
        streak = self.offline.pop(name, None)
        if streak is not None:
            message = (f"online again ({status.state.value}) after "
                       f"{_failed_reads(streak.count)} since {_since(streak.since)}")
            log.info("%s: %s", name, message)
            events.append(Event("info", source, message, name))
        self._fault(name, status, at, events)

    def _fault(self, name: str, status: ChargerStatus, at: datetime,
               events: list[Event]) -> None:
        """A charger in its `error` state (a fault, or a state code we do not know): logged
        and journaled with its reason when it starts or changes, and when it clears."""
        source = f"chargers.{name}"
        if status.state is ChargerState.ERROR:
            reason = status.error or "no reason given"
            streak = self.faults.get(name)
            if streak is None or streak.reason != reason:
                log.error("%s: fault: %s", name, reason)
                events.append(Event("error", source, f"fault: {reason}", name))
                self.faults[name] = _Streak(reason, at)
            else:
                streak.count += 1
            return
        streak = self.faults.pop(name, None)
        if streak is not None:
            message = (f"fault cleared ({status.state.value}), was: {streak.reason} since "
                       f"{_since(streak.since)}")
            log.info("%s: %s", name, message)
            events.append(Event("info", source, message, name))

    def staleness(self, store: StateStore, now: datetime, events: list[Event]) -> None:
        """Say when an input goes stale (rules reading it stop firing) and when it is back.

        Call after `store.expire(now)`."""
        stale = {r.name for r in store.readings() if r.stale}
        for name in sorted(stale - set(self.stale)):
            log.warning("inputs.%s: %s", name, STALE)
            events.append(Event("warning", f"inputs.{name}", STALE))
            self.stale[name] = _Streak(STALE, now, 0)
        for name in sorted(set(self.stale) - stale):
            streak = self.stale.pop(name)
            message = (f"fresh again after {_ticks(streak.count)} stale since "
                       f"{_since(streak.since)}")
            log.info("inputs.%s: %s", name, message)
            events.append(Event("info", f"inputs.{name}", message))
        for name in stale:
            self.stale[name].count += 1


def _failed_reads(count: int) -> str:
    return "1 failed read" if count == 1 else f"{count} failed reads"


def _ticks(count: int) -> str:
    return "1 tick" if count == 1 else f"{count} ticks"
