"""The site limit: the chargers together stay within the supply they share (DESIGN.md 13).

It runs at the end of every engine step, after the guards, on what the step is about to
send, and on every hand command, so whatever the rules or a person ask, the total holds:

    house  = what the supply carries besides the chargers: the `house` input as read, or
             the `meter` input (the whole site) minus the chargers' measured power; never
             below 0 W (production is not counted on: a cloud can take it between readings)
    room   = per phase: max_amps - house / voltage (on a three-phase site with one meter
             the house counts on every phase: the meter does not say how it is split);
             in power: max_power - house

The chargers that may draw (allowed to charge with a vehicle plugged in, or being started)
share the room in the fairness order: higher `priority` first, then the one that started
first (a running charger stays ahead of one starting now), then config order.

    1. each in turn gets its minimum current if that fits the room left, else it is paused;
    2. each in turn is raised towards the current it asks for, as far as the room allows.

So the lowest priority is reduced first and paused first. A charger given less than it asks
is sent the lower current; one given nothing is stopped at once (the supply outranks the
contactor: min_on does not hold it back) and started again when its minimum fits (min_off
still counts), unless the rules or a person stop it meanwhile. A person's or a rule's stop
is never touched. Every reduction is a command whose reason gives the figures.

A meter that is stale or silent: its last reading counts for `fallback_after`; beyond, the
chargers together get `fallback_amps` per phase (default 0: every charger paused), as the
firmware's current shaper does after its data interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine.guards import ChargerGuard
from evse_rules.engine.results import Command, CommandKind, Guard, HeldBack, Reason
from evse_rules.engine.settings import ChargerSettings
from evse_rules.engine.store import StateStore
from evse_rules.language.program import ActionKind, ProposedAction

_START, _STOP, _SET_CURRENT = CommandKind.START, CommandKind.STOP, CommandKind.SET_CURRENT
_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)
Proposals = Mapping[str, tuple[ProposedAction | None, ProposedAction | None]]


@dataclass(frozen=True, slots=True)
class SiteSettings:
    """The supply the chargers share, as `[site]` sets it (see the module docstring)."""

    input: str                        # the input that measures the site
    includes_chargers: bool           # True: a site meter; False: the house without them
    max_amps: float | None = None     # per phase
    max_power: float | None = None    # W
    phases: int = 1
    voltage: float = 230.0
    fallback_after: float = 120.0     # s
    fallback_amps: float = 0.0        # per phase, all chargers together

    def __post_init__(self) -> None:
        if self.max_amps is None and self.max_power is None:
            raise ValueError("a site needs max_amps and/or max_power")


@dataclass(frozen=True, slots=True)
class SiteState:
    """What the last allocation saw, for the faces: the house load (None: the meter has been
    silent too long and the fallback applies), the room the chargers had together (A on the
    tightest phase, W; inf where no limit is set), the chargers the site paused, and the
    figures in words."""

    house_w: float | None
    room_amps: float
    room_w: float
    paused: tuple[str, ...]
    text: str


@dataclass(slots=True)
class _Draw:
    """One charger's part in a step's allocation."""

    name: str
    settings: ChargerSettings
    phases: tuple[int, ...]
    volts_per_amp: float              # W per A: voltage x phases
    low: int
    asked: int                        # the current it would draw after this step (0: none)
    prior: float | None               # the current it has now (sent or read)
    running: bool                     # allowed to charge now (before this step's commands)
    started: datetime                 # when it started (the fairness order)
    granted: int = 0


class SiteLimit:
    """Keeps the chargers' total within a site's supply (see the module docstring)."""

    def __init__(self, settings: SiteSettings, chargers: Sequence[ChargerSettings]) -> None:
        self.settings = settings
        self.chargers = tuple(chargers)
        # Chargers the site stopped, to be started again when their minimum fits.
        self.paused: set[str] = set()
        self._house_w: float | None = None       # the last house load known
        self._known_at: datetime | None = None   # when the meter last gave a value
        self._first: datetime | None = None
        self.last_why = ""                       # the figures of the last allocation
        self.state: SiteState | None = None      # what the last allocation saw
        # Per charger (config order): the supply phases it draws on; its limits for the
        # hard limits last reported (they change far less often than a tick comes).
        self._phases = tuple((1, 2, 3)[:s.phases] if s.phases > 1 else (s.phase,)
                             for s in self.chargers)
        self._limits_of: dict[str, tuple[tuple[float, float] | None, int, int]] = {}

    # -- the house load -------------------------------------------------------------------

    def house(self, store: StateStore, now: datetime) -> tuple[float | None, str]:
        """The house load in W (None: the meter has been silent too long: the fallback
        applies), and how it was found, for the journal."""
        site = self.settings
        if self._first is None:
            self._first = now
        value = store.input_value(site.input)
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(value):
            if not site.includes_chargers:
                self._house_w, self._known_at = max(float(value), 0.0), now
                return self._house_w, ""
            chargers = 0.0
            for settings in self.chargers:
                status = store.charger_status(settings.name)
                if status is not None and status.state is not ChargerState.OFFLINE:
                    chargers += status.power
            self._house_w, self._known_at = max(float(value) - chargers, 0.0), now
            return self._house_w, (f"{site.input} {value:.0f} W less the chargers' "
                                   f"{chargers:.0f} W")
        since = self._known_at or self._first
        silent = (now - since).total_seconds()
        if self._house_w is not None and silent < site.fallback_after:
            return self._house_w, f"{site.input} unknown: its last reading counts"
        return None, (f"{site.input} unknown for {silent:.0f} s: fallback "
                      f"{site.fallback_amps:g} A per phase")

    # -- the step -------------------------------------------------------------------------

    def apply(
        self, now: datetime, store: StateStore, guards: Mapping[str, ChargerGuard],
        commands: list[Command], proposals: Proposals, held: list[HeldBack],
        only: str | None = None,
    ) -> None:
        """Bring `commands` within the site's limit (in place); what a rule asked and did not
        get goes to `held`. `only`: a hand command for that charger: the others keep what
        they have (the next tick shares the room by priority again) and only its commands
        change."""
        house, measured = self.house(store, now)
        draws = self._draws(now, store, guards, commands, proposals)
        room = self._room(house)
        seen = (house, min(room[1:1 + self.settings.phases]), room[0])
        if only is not None:
            # A hand command: the others keep what they draw; it gets what is left.
            for draw in draws:
                if draw.name != only:
                    self._take(room, draw, draw.asked)
                    draw.granted = draw.asked
            draws = [draw for draw in draws if draw.name == only]
        for draw in draws:                       # 1. minimums, in the fairness order
            if draw.asked and self._fits(room, draw, draw.low):
                self._take(room, draw, draw.low)
                draw.granted = draw.low
        for draw in draws:                       # 2. up towards what each asks
            if draw.granted:
                more = min(draw.asked - draw.granted, self._most(room, draw))
                more = max(math.floor(more + 1e-6), 0)
                self._take(room, draw, more)
                draw.granted += more
        why = self.last_why = self._why(house, measured)
        for draw in draws:
            self._enforce(draw, now, guards[draw.name], commands, proposals, held, why)
        if only is None:
            self.state = SiteState(*seen, tuple(sorted(self.paused)), why)

    def _draws(
        self, now: datetime, store: StateStore, guards: Mapping[str, ChargerGuard],
        commands: list[Command], proposals: Proposals,
    ) -> list[_Draw]:
        site = self.settings
        draws = []
        by_charger: dict[str, dict[CommandKind, Command]] = {}
        for command in commands:
            by_charger.setdefault(command.charger, {})[command.kind] = command
        none: dict[CommandKind, Command] = {}
        for index, settings in enumerate(self.chargers):
            name = settings.name
            status, read_at = store.charger_reading(name)
            guard = guards[name]
            kinds = by_charger.get(name, none)
            running = guard.enabled(status, read_at) is True
            plugged = status is not None and status.state is not ChargerState.OFFLINE and (
                status.vehicle or status.state is ChargerState.CHARGING)
            run = proposals.get(name, (None, None))[0]
            if _STOP in kinds or (run is not None and run.kind is ActionKind.STOP):
                self.paused.discard(name)
            will_run = _START in kinds or (running and _STOP not in kinds) or (
                name in self.paused and plugged)
            low, high = self._limits(settings, status)
            prior = _setpoint(guard, status, read_at)
            setpoint = kinds[_SET_CURRENT].value if _SET_CURRENT in kinds else prior
            asked = 0
            if will_run and plugged and low <= high:
                asked = int(min(max(setpoint if setpoint is not None else high, low), high))
            volts = status.voltage if status is not None and 100 <= status.voltage <= 500 \
                else site.voltage
            phases = self._phases[index]
            # A charger found running (started before this engine knew it) started first.
            started = (guard.last_start or _LONG_AGO) if running else now
            draws.append((_Draw(name, settings, phases, volts * len(phases), low, asked,
                                prior, running, started), index))
        # The fairness order.
        draws.sort(key=lambda pair: (-pair[0].settings.priority,
                                     pair[0].started, pair[1]))
        return [draw for draw, _ in draws]

    def _limits(self, settings: ChargerSettings,
                status: ChargerStatus | None) -> tuple[int, int]:
        # Keyed by the hard limits the status reports: every read is a new status object.
        key = None if status is None else (status.min_amps, status.max_amps)
        known = self._limits_of.get(settings.name)
        if known is not None and known[0] == key:
            return known[1], known[2]
        low, high = settings.limits(status)
        self._limits_of[settings.name] = (key, low, high)
        return low, high

    def _room(self, house: float | None) -> list[float]:
        """[power W, phase 1 A, phase 2 A, phase 3 A] the chargers may draw together."""
        site = self.settings
        if house is None:
            return [math.inf] + [site.fallback_amps] * 3
        amps = math.inf if site.max_amps is None else site.max_amps - house / site.voltage
        power = math.inf if site.max_power is None else site.max_power - house
        return [power] + [amps if phase <= site.phases else 0.0 for phase in (1, 2, 3)]

    @staticmethod
    def _most(room: list[float], draw: _Draw) -> float:
        return min(room[0] / draw.volts_per_amp, *(room[p] for p in draw.phases))

    def _fits(self, room: list[float], draw: _Draw, amps: int) -> bool:
        return self._most(room, draw) >= amps - 1e-6

    @staticmethod
    def _take(room: list[float], draw: _Draw, amps: int) -> None:
        room[0] -= amps * draw.volts_per_amp
        for phase in draw.phases:
            room[phase] -= amps

    def _why(self, house: float | None, measured: str) -> str:
        site = self.settings
        limits = []
        if site.max_amps is not None:
            limits.append(f"{site.max_amps:g} A" + (" per phase" if site.phases > 1 else ""))
        if site.max_power is not None:
            limits.append(f"{site.max_power / 1000:g} kW")
        if house is None:
            return f"site limit {' and '.join(limits)}: {measured}"
        measured = f", {measured}" if measured else ""
        return (f"site limit {' and '.join(limits)}: house {house:.0f} W "
                f"({house / site.voltage:.1f} A{measured})")

    # -- the commands ---------------------------------------------------------------------

    def _enforce(
        self, draw: _Draw, now: datetime, guard: ChargerGuard, commands: list[Command],
        proposals: Proposals, held: list[HeldBack], why: str,
    ) -> None:
        name = draw.name
        run, amps = proposals.get(name, (None, None))
        if draw.asked and not draw.granted:
            # Nothing fits: no start, no current; a running charger is stopped.
            note = f"{why}; {name} paused (its minimum {draw.low} A does not fit)"
            for command in [c for c in commands if c.charger == name]:
                if command.kind is _START or command.kind is _SET_CURRENT:
                    commands.remove(command)
                    action = run if command.kind is _START else amps
                    if action is not None:
                        held.append(HeldBack(action, Guard.SITE, note))
            if draw.running:
                commands.append(Command(name, _STOP, None, Reason(None, (), note), now))
            self.paused.add(name)
            return
        if name in self.paused and draw.granted and not draw.running and not any(
                c.charger == name and c.kind is _START for c in commands):
            # Room again for a charger the site paused: start it when min_off allows.
            stopped = guard.last_stop
            if stopped is None or (now - stopped).total_seconds() >= draw.settings.min_off:
                commands.append(Command(name, _START, None, Reason(None, (), (
                    f"{why}; room again for {name}'s {draw.granted} A")), now))
                self.paused.discard(name)
        if not draw.granted or draw.granted >= draw.asked:
            return
        note = f"{why}; {name} {draw.asked} A -> {draw.granted} A"
        for i, command in enumerate(commands):
            if command.charger == name and command.kind is _SET_CURRENT:
                if draw.prior == draw.granted:
                    del commands[i]
                    if amps is not None:
                        held.append(HeldBack(amps, Guard.UNCHANGED, f"unchanged: {note}"))
                else:
                    reason = command.reason
                    joined = f"{reason.note}; {note}" if reason.note else note
                    commands[i] = command._replace(value=float(draw.granted),
                                                   reason=reason._replace(note=joined))
                return
        if draw.prior != draw.granted:
            # The current the charger has (or is being started at) is more than the room.
            at = next((i for i, c in enumerate(commands)
                       if c.charger == name and c.kind is _START), len(commands))
            commands.insert(at, Command(name, _SET_CURRENT, float(draw.granted),
                                        Reason(None, (), note), now))

    def forget(self, charger: str) -> None:
        """A person stopped `charger`: the site does not start it again."""
        self.paused.discard(charger)


def _setpoint(guard: ChargerGuard, status: ChargerStatus | None,
              read_at: datetime | None) -> float | None:
    """The current the charger has now: the last one sent when newer than its last read."""
    if guard.amps_at is not None and (read_at is None or guard.amps_at >= read_at):
        return guard.amps_sent
    return None if status is None else status.amps
