"""The guards between what rules propose and what a charger is sent (DESIGN.md section 4).

Per charger: amperes rounded down and clamped to the limits, minimum on and off times for
the contactor, no start without a vehicle (unless configured), nothing sent that changes
nothing. The limits are those of `chargers.limits` (the drivers check the same again): when
the charger's hard limits leave no current (empty, NaN, infinite) the charger is faulted and
no current and no start is sent (`Guard.FAULT`, the reason naming the figures); a stop is.
The engine's mode is *not* a guard: rules read it (`if mode is auto and ...`) and
the engine does what the rules say in either mode.

What "changes nothing" means: the charger already is in the asked state. The engine knows
the state from the charger's last status, unless it sent a command after that status was
read (then what it sent is the newer knowledge).

It also means asking again for what a charger did not follow. A charger may keep another
current than the one sent (its own soft limit caps the pilot) or stay disabled after a start
(a higher-priority claim, a manual override). The guard remembers what the charger reported
at the first status read after the command (`watch`); while the rules ask for exactly what
was sent and the charger keeps reporting that, sending it again would change nothing. As
soon as either changes (or the charger goes offline: it may have restarted), the usual
comparison applies again.
"""

from __future__ import annotations

import math
from datetime import datetime

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine.results import (
    Command,
    CommandKind,
    Guard,
    HeldBack,
    Reason,
    clamp_note,
)
from evse_rules.engine.settings import ChargerSettings
from evse_rules.language.program import ProposedAction

# Enum members as module constants: on Python 3.11 `Guard.UNCHANGED` goes through the enum
# machinery (about 70 ns) at every use, and these run for every proposal of every tick.
_UNCHANGED, _NO_VEHICLE, _MIN_ON, _MIN_OFF = (Guard.UNCHANGED, Guard.NO_VEHICLE, Guard.MIN_ON,
                                              Guard.MIN_OFF)
_OFFLINE, _NO_VALUE, _CLAMP = Guard.OFFLINE, Guard.NO_VALUE, Guard.CLAMP
_FAULT = Guard.FAULT
_OFFLINE_STATE = ChargerState.OFFLINE
_START, _STOP, _SET_CURRENT = CommandKind.START, CommandKind.STOP, CommandKind.SET_CURRENT
_new = tuple.__new__     # _new(HeldBack, (...)): without HeldBack's Python-level __new__
_floor = math.floor
_INF = math.inf

# States in which the charger is allowed to charge (it charges when the vehicle asks), and
# those in which it is paused.
_STARTING, _NOT_CONNECTED = ChargerState.STARTING, ChargerState.NOT_CONNECTED
_CONNECTED, _CHARGING = ChargerState.CONNECTED, ChargerState.CHARGING
_SLEEPING, _DISABLED_STATE = ChargerState.SLEEPING, ChargerState.DISABLED

# What the journal says of a stop sent by `stop now`.
SAFETY_NOTE = "safety stop (no contactor guard holds it back)"

# A reference voltage closer than this to the charger's own is not worth a command.
VOLTAGE_TOLERANCE = 0.5


def _minutes(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.3g} min"


class ChargerGuard:
    """Guard state of one charger: what was sent last (and when), starts and stops."""

    __slots__ = ("_fault", "_high", "_limits_of", "_low", "amps_at", "amps_kept", "amps_pending",
                 "amps_sent", "last_start", "last_stop", "run_at", "run_kept", "run_pending",
                 "run_sent", "settings", "volts_at", "volts_sent", "watched")

    def __init__(self, settings: ChargerSettings) -> None:
        self.settings = settings
        self.last_start: datetime | None = None    # last successful start
        self.last_stop: datetime | None = None     # last successful stop
        self.run_sent: bool | None = None           # what the last start/stop asked
        self.run_at: datetime | None = None
        self.amps_sent: float | None = None
        self.amps_at: datetime | None = None
        self.volts_sent: float | None = None
        self.volts_at: datetime | None = None
        # What the charger kept instead of the current or the start/stop last sent (None:
        # it followed, or something changed since), and whether the first status read after
        # that command is still to come. `watched`: the engine calls `watch` at every step.
        self.amps_kept: float | None = None
        self.amps_pending = False
        self.run_kept: ChargerState | None = None
        self.run_pending = False
        self.watched = False
        # The limits of the last status seen: a status object changes far less often
        # than a current is asked for.
        self._limits_of: ChargerStatus | None = None
        bounds = settings.bounds(None)
        self._low, self._high, self._fault = bounds.low, bounds.high, bounds.fault

    def committed(self, command: Command) -> bool:
        """A command was carried out: remember it. True when the charger's next statuses
        must be watched (see `watch`)."""
        at = command.at
        if command.kind is _START:
            self.last_start, self.run_sent, self.run_at = at, True, at
        elif command.kind is _STOP:
            self.last_stop, self.run_sent, self.run_at = at, False, at
        elif command.kind is _SET_CURRENT:
            self.amps_sent, self.amps_at = command.value, at
            self.amps_kept, self.amps_pending = None, True
            return True
        else:
            self.volts_sent, self.volts_at = command.value, at
            return False
        self.run_kept, self.run_pending = None, True
        return True

    def watch(self, status: ChargerStatus | None, read_at: datetime | None) -> bool:
        """Look at the charger's last status (called at every step while this returns True):
        note what the charger reports at the first read after a command, and forget it
        once the charger reports something else."""
        if status is None or read_at is None:
            return True
        if status.state is _OFFLINE_STATE:
            # It may restart and lose what it was sent: what it keeps afterwards is new.
            self.amps_kept, self.amps_pending = None, False
            self.run_kept, self.run_pending = None, False
            return False
        if self.amps_pending:
            if self.amps_at is not None and read_at > self.amps_at:
                self.amps_pending = False
                if status.amps != self.amps_sent:
                    self.amps_kept = status.amps
        elif self.amps_kept is not None and status.amps != self.amps_kept:
            self.amps_kept = None
        enabled = _enabled_in(status.state)
        if self.run_pending:
            if self.run_at is not None and read_at > self.run_at:
                self.run_pending = False
                if enabled is not self.run_sent:
                    self.run_kept = status.state
        elif self.run_kept is not None and enabled is not _enabled_in(self.run_kept):
            self.run_kept = None
        return self.amps_pending or self.run_pending or self.amps_kept is not None or \
            self.run_kept is not None

    def enabled(self, status: ChargerStatus | None, read_at: datetime | None) -> bool | None:
        """Whether the charger is allowed to charge now; None when it cannot be told."""
        if self.run_at is not None and (read_at is None or self.run_at >= read_at):
            return self.run_sent
        if status is None:
            return None
        return _enabled_in(status.state)

    def _not_followed(self, run: bool) -> str | None:
        """Why a start (`run`) or stop is held: the same was sent and the charger kept its
        other state; None when the usual rules apply."""
        kept = self.run_kept
        if kept is None or self.run_sent is not run or self.run_at is None:
            return None
        what = "start" if run else "stop"
        return (f"unchanged: {what} was sent at {self.run_at:%H:%M}; the charger stays "
                f"{kept.value} (overridden?)")

    def start(
        self, action: ProposedAction, status: ChargerStatus | None, read_at: datetime | None,
        now: datetime, held: list[HeldBack],
    ) -> Command | None:
        if self.enabled(status, read_at) is True:
            held.append(_new(HeldBack, (action, _UNCHANGED, "unchanged: already started", None)))
            return None
        if self.run_kept is not None and (why := self._not_followed(True)) is not None:
            held.append(_new(HeldBack, (action, _UNCHANGED, why, None)))
            return None
        if status is None or status.state is _OFFLINE_STATE:
            held.append(_new(HeldBack, (action, _OFFLINE, _offline(status), None)))
            return None
        if (fault := self._limits(status)) is not None:
            # A charger whose limits leave no current would charge at one outside them.
            held.append(_new(HeldBack, (action, _FAULT, fault, None)))
            return None
        if not status.vehicle and not self.settings.start_without_vehicle:
            held.append(_new(HeldBack, (action, _NO_VEHICLE, "no vehicle", None)))
            return None
        if self.last_stop is not None:
            off = (now - self.last_stop).total_seconds()
            if off < self.settings.min_off:
                held.append(_new(HeldBack, (action, _MIN_OFF, (
                    f"min_off {_minutes(self.settings.min_off)} not reached "
                    f"(stopped {_minutes(off)} ago)"), None)))
                return None
        return Command(self.settings.name, _START, None,
                       Reason.of(action), now)

    def stop(
        self, action: ProposedAction, status: ChargerStatus | None, read_at: datetime | None,
        now: datetime, held: list[HeldBack],
    ) -> Command | None:
        if self.enabled(status, read_at) is False:
            held.append(_new(HeldBack, (action, _UNCHANGED, "unchanged: already stopped", None)))
            return None
        if self.run_kept is not None and (why := self._not_followed(False)) is not None:
            held.append(_new(HeldBack, (action, _UNCHANGED, why, None)))
            return None
        if status is None or status.state is _OFFLINE_STATE:
            held.append(_new(HeldBack, (action, _OFFLINE, _offline(status), None)))
            return None
        if action.safety:
            # A safety stop (`stop now`): protection of the supply outranks protection of the
            # contactor, so min_on never holds it back.
            return Command(self.settings.name, _STOP, None, Reason.of(action, SAFETY_NOTE), now)
        if self.last_start is not None:
            on = (now - self.last_start).total_seconds()
            if on < self.settings.min_on:
                held.append(_new(HeldBack, (action, _MIN_ON, (
                    f"min_on {_minutes(self.settings.min_on)} not reached "
                    f"(running {_minutes(on)})"), None)))
                return None
        return Command(self.settings.name, _STOP, None,
                       Reason.of(action), now)

    def set_amps(
        self, action: ProposedAction, status: ChargerStatus | None, read_at: datetime | None,
        now: datetime, held: list[HeldBack], adjusted: list[HeldBack],
    ) -> Command | None:
        value = action.value
        # A float is the common case (compiled rules give floats): one class test for it.
        if (value.__class__ is not float and (not isinstance(value, float | int)
                                             or isinstance(value, bool))) or value != value:
            held.append(_new(HeldBack, (action, _NO_VALUE,
                                   "no value (an input it reads is unknown or stale)", None)))
            return None
        if status is None or status.state is _OFFLINE_STATE:
            held.append(_new(HeldBack, (action, _OFFLINE, _offline(status), None)))
            return None
        # Round down (15.7 A is 15 A: never more than the surplus), but let float noise
        # of an exact value (16 A computed as 15.999999999) stay 16 A.
        if value == _INF or value == -_INF:
            held.append(_new(HeldBack, (action, _NO_VALUE, f"no value ({value} A)", None)))
            return None
        if (fault := self._limits(status)) is not None:
            held.append(_new(HeldBack, (action, _FAULT, fault, None)))
            return None
        amps = _floor(value + 1e-6)
        clamp = None
        if amps < self._low:
            clamp = (value, self._low)     # said in words only when someone reads it
            amps = self._low
        elif amps > self._high:
            clamp = (value, self._high)
            amps = self._high
        amps_at = self.amps_at
        if amps_at is not None and (read_at is None or amps_at >= read_at):
            current = self.amps_sent
        else:
            current = status.amps
        if current == amps:
            held.append(_new(HeldBack, (action, _UNCHANGED, "unchanged", clamp)))
            return None
        kept = self.amps_kept
        if kept is not None and amps == self.amps_sent and current == kept and amps_at is not None:
            held.append(_new(HeldBack, (action, _UNCHANGED, (
                f"unchanged: {amps:g} A was sent at {amps_at:%H:%M}; the charger keeps "
                f"{kept:g} A (capped or overridden by the charger)"), clamp)))
            return None
        note = None
        if clamp is not None:
            note = clamp_note(value, amps)
            adjusted.append(_new(HeldBack, (action, _CLAMP, "", clamp)))
        return Command(self.settings.name, _SET_CURRENT, float(amps),
                       Reason.of(action, note), now)

    def _limits(self, status: ChargerStatus) -> str | None:
        """Bring `_low`, `_high` up to date with `status`; why nothing may be sent, if so."""
        if status is not self._limits_of:
            bounds = self.settings.bounds(status)
            self._low, self._high, self._fault = bounds.low, bounds.high, bounds.fault
            self._limits_of = status
        return self._fault

    def set_voltage(
        self, volts: float, source: str, status: ChargerStatus | None,
        read_at: datetime | None, now: datetime,
    ) -> Command | None:
        if status is None or status.state is _OFFLINE_STATE:
            return None
        volts = round(volts, 1)
        if self.volts_at is not None and (read_at is None or self.volts_at >= read_at):
            current = self.volts_sent
        else:
            current = status.voltage
        if current is not None and abs(current - volts) < VOLTAGE_TOLERANCE:
            return None
        return Command(self.settings.name, CommandKind.SET_VOLTAGE, volts,
                       Reason(None, ((source, f"{volts:g} V"),)), now)


def _enabled_in(state: ChargerState) -> bool | None:
    """Whether a charger in `state` is allowed to charge; None when the state does not say."""
    # Identity tests, not set membership: hashing an enum member is a Python-level call.
    if state is _CHARGING or state is _CONNECTED or state is _NOT_CONNECTED or \
            state is _STARTING:
        return True
    if state is _SLEEPING or state is _DISABLED_STATE:
        return False
    return None


def _offline(status: ChargerStatus | None) -> str:
    if status is None:
        return "charger not read yet"
    return f"charger offline ({status.error})" if status.error else "charger offline"
