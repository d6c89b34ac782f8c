"""The running engine as its faces see it: `EngineFace` over a daemon (live/views.py).

Views are built from the store, the guards' times and the last tick's decisions, without
I/O; the journal is read for the recent events and the chart. Commands go to the daemon's
one command path (live/commands.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Literal

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine import Guard, StepResult
from evse_rules.engine.hand import PERSON_UNITS
from evse_rules.engine.journal import Entry
from evse_rules.language.program import Kind, Value, VariableDecl
from evse_rules.language.units import format_quantity
from evse_rules.live.plan_view import plan_view
from evse_rules.live.report import describe
from evse_rules.live.views import (
    ChargerView,
    CommandOutcome,
    Countdown,
    EngineView,
    HandCommand,
    InputView,
    JournalLine,
    RulesView,
    Series,
    SiteView,
    VariableView,
)

if TYPE_CHECKING:
    from evse_rules.live.daemon import Daemon

STATE_TEXT = {
    ChargerState.STARTING: "Starting",
    ChargerState.NOT_CONNECTED: "Ready, no vehicle",
    ChargerState.CONNECTED: "Vehicle connected, not charging",
    ChargerState.CHARGING: "Charging",
    ChargerState.SLEEPING: "Sleeping (paused, not charging)",
    ChargerState.DISABLED: "Disabled (not charging)",
    ChargerState.ERROR: "Error",
    ChargerState.OFFLINE: "Offline",
}
# At most this many points per series in the chart (a day of 1 s ticks is 86,400).
_MAX_POINTS = 1500
_JOURNAL_DAYS = 7


def _waiting(program: object, name: str, charging: bool,
             now: datetime) -> tuple[Countdown | None, str | None]:
    """A start (when not charging) or stop (when charging) that a rule's `for` clock is
    counting down to, as "starting in 40 s if it holds (RULE)"."""
    waiting = getattr(program, "waiting", None)
    if waiting is None:
        return None, None
    for item in waiting(now):
        if item.charger not in (name, None):
            continue
        kinds = {kind.value for kind in item.actions}
        action: Literal["start", "stop"] | None = (
            "stop" if charging and "stop" in kinds else
            "start" if not charging and "start" in kinds else None)
        if action is None:
            continue
        rule = item.rule
        verb = "starting" if action == "start" else "stopping"
        text = (f"{verb} in {_seconds(item.seconds_left)} if it holds "
                f"({rule} {rule.text})")
        return Countdown(action, item.seconds_left, text), f"{rule} {rule.described}"
    return None, None


def _version() -> str:
    try:
        return package_version("evse-rules")
    except PackageNotFoundError:
        return "unknown"


class DaemonFace:
    """`EngineFace` for one daemon."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        self._version = _version()

    # -- views ----------------------------------------------------------------------------

    def view(self) -> EngineView:
        daemon = self._daemon
        now = daemon.now()
        engine = daemon.engine
        files = list(engine.program.files) if engine is not None else []
        return EngineView(
            version=self._version, now=now, tick_seconds=daemon.config.tick_seconds,
            last_tick=daemon.last_tick, next_tick=daemon.next_tick,
            rules=RulesView(files, daemon.rules_error),
            chargers=[self._charger(name, now) for name in daemon.config.chargers],
            inputs=self._inputs(now), variables=self._variables(), site=self._site())

    def _site(self) -> SiteView | None:
        engine = self._daemon.engine
        site = engine.site if engine is not None else None
        if site is None:
            return None
        state, limits = site.state, site.settings
        if state is None:
            return SiteView(limits.max_amps, limits.max_power, None, None, None, False, [],
                            "site limit: no tick yet")
        return SiteView(limits.max_amps, limits.max_power, state.house_w,
                        _finite(state.room_amps), _finite(state.room_w),
                        state.house_w is None, list(state.paused), state.text)

    def _charger(self, name: str, now: datetime) -> ChargerView:
        daemon = self._daemon
        engine = daemon.engine
        settings = daemon.config.charger_settings()
        limits = next(s for s in settings if s.name == name)
        if engine is None:
            return _blank(name, limits.min_amps, limits.max_amps)
        store = engine.store
        status, read_at = store.charger_reading(name)
        low, high = engine.settings[name].limits(status)
        guard = engine.guard(name)
        online = status is not None and status.state is not ChargerState.OFFLINE
        fresh = status if online else None
        why, countdown, block = self._why(name, status, now)
        return ChargerView(
            name=name, mode="auto" if store.mode(name) == "auto" else "manual",
            online=online,
            state=status.state.value if status is not None else "offline",
            state_text=_state_text(status),
            vehicle=fresh.vehicle if fresh is not None else None,
            charging=fresh is not None and fresh.state is ChargerState.CHARGING,
            enabled=guard.enabled(status, read_at),
            current=fresh.current if fresh else None,
            amps=fresh.amps if fresh else None,
            setpoint=guard.amps_sent,
            voltage=fresh.voltage if fresh else None,
            power=fresh.power if fresh else None,
            session_energy=fresh.session_energy if fresh else None,
            temp=fresh.temp if fresh else None,
            min_amps=low, max_amps=high,
            error=status.error if status is not None else "not read yet",
            why=why, countdown=countdown, block=block, updated=read_at,
            plan=plan_view(engine.plans.status(name, now), now))

    def _why(self, name: str, status: ChargerStatus | None,
             now: datetime) -> tuple[str, Countdown | None, str | None]:
        """One line of why, the countdown of a start or stop held by a contactor guard,
        and the rule that decided last."""
        daemon = self._daemon
        engine = daemon.engine
        assert engine is not None
        if status is None:
            return "not read yet", None, None
        if status.state is ChargerState.OFFLINE:
            return f"offline: {status.error or 'no answer'}", None, None
        if daemon.rules_error is not None:
            return ("no rules run: the rule files have errors (see evse-rules why)", None,
                    None)
        step: StepResult | None = daemon.last_step
        manual = engine.store.mode(name) != "auto"
        prefix = "Manual: rules that test the mode leave it alone. " if manual else ""
        if step is None:
            return prefix + "waiting for the first tick", None, None
        for command in step.commands:
            if command.charger == name:
                rule = command.reason.rule
                block = f"{rule} {rule.described}" if rule else None
                return prefix + f"{_short(command.kind.value, command.value)} sent <- " \
                    f"{command.reason}", None, block
        times = engine.contactor_times().get(name)
        settings = engine.settings[name]
        for held in step.held:
            if held.action.charger not in (name, None) or held.guard is Guard.UNCHANGED:
                continue
            rule = held.action.rule
            block = f"{rule} {rule.described}"
            countdown = None
            if held.guard is Guard.MIN_OFF and times is not None and times.last_stop:
                left = settings.min_off - (now - times.last_stop).total_seconds()
                if left > 0:
                    countdown = Countdown("start", left, f"starting in {_seconds(left)} if the "
                                          "rules still ask (min_off)")
            elif held.guard is Guard.MIN_ON and times is not None and times.last_start:
                left = settings.min_on - (now - times.last_start).total_seconds()
                if left > 0:
                    countdown = Countdown("stop", left, f"stopping in {_seconds(left)} if the "
                                          "rules still ask (min_on)")
            return (prefix + f"{held.action.kind.value} held back: {held.why}", countdown,
                    block)
        state = _state_text(status)
        charging = status.state is ChargerState.CHARGING
        countdown, block = _waiting(engine.program, name, charging, now)
        if countdown is not None:
            return prefix + countdown.text, countdown, block
        if charging:
            return prefix + f"{state} at {status.amps:g} A", None, None
        return prefix + f"{state}; no rule asks for a change", None, None

    def _inputs(self, now: datetime) -> list[InputView]:
        engine = self._daemon.engine
        if engine is None:
            return []
        views = []
        for reading in engine.store.readings():
            dimension = reading.type.dimension if reading.type is not None and \
                reading.type.kind is Kind.NUMBER else None
            unit = PERSON_UNITS.get(dimension) if dimension is not None else None
            value: float | str | bool | None = _plain(reading.value)
            if isinstance(value, float) and unit is not None:
                value = unit.from_canonical(value)
            display = _display(reading.value, dimension)
            age = (now - reading.updated).total_seconds() if reading.updated else None
            views.append(InputView(reading.name, value, unit.symbol if unit else None,
                                   display, age, reading.stale))
        return views

    def _variables(self) -> list[VariableView]:
        engine = self._daemon.engine
        if engine is None:
            return []
        store = engine.store
        declared: dict[str, VariableDecl] = {d.name: d for d in engine.program.variables}
        views = []
        for name, raw in store.variables().items():
            decl = declared.get(name)
            if decl is None:
                continue    # a saved value no running rule declares
            kind: Literal["text", "number", "boolean"] = "text"
            unit = None
            value = _plain(raw)
            if decl.type.kind is Kind.BOOLEAN:
                kind = "boolean"
            elif decl.type.kind is Kind.NUMBER:
                kind = "number"
                person = PERSON_UNITS.get(decl.type.dimension)
                unit = person.symbol if person else None
                if isinstance(value, float) and person is not None:
                    value = person.from_canonical(value)
            display = _display(raw, decl.type.dimension if kind == "number" else None)
            views.append(VariableView(name, kind, unit, value, display))
        return views

    # -- the journal ------------------------------------------------------------------------

    def journal(self, limit: int = 50, charger: str | None = None) -> list[JournalLine]:
        journal = self._daemon.journal
        if journal is None:
            return []
        since = self._daemon.now() - timedelta(days=_JOURNAL_DAYS)
        entries = journal.entries(since, charger, limit=limit)
        return [_line(entry) for entry in reversed(entries)]

    def series(self, hours: float = 24.0) -> list[Series]:
        daemon = self._daemon
        journal = daemon.journal
        if journal is None:
            return []
        since = daemon.now() - timedelta(hours=hours)
        rows = journal.samples_since(since)
        stride = max(1, len(rows) // _MAX_POINTS)
        rows = rows[::stride]
        names: list[tuple[str, str | None, float]] = []
        engine = daemon.engine
        if engine is not None:
            for reading in engine.store.readings():
                if reading.type is not None and reading.type.kind is Kind.NUMBER:
                    unit = PERSON_UNITS.get(reading.type.dimension)
                    names.append((reading.name, unit.symbol if unit else None,
                                  unit.factor if unit else 1.0))
        for name in daemon.config.chargers:
            names += [(f"{name}.power", "W", 1.0), (f"{name}.amps", "A", 1.0)]
        series = []
        for key, unit_symbol, factor in names:
            points: list[tuple[float, float | None]] = []
            for at, values in rows:
                value = values.get(key)
                number = float(value) / factor if isinstance(value, int | float) and \
                    not isinstance(value, bool) else None
                points.append((at.timestamp() * 1000.0, number))
            series.append(Series(key, unit_symbol, points))
        return series

    def why(self, charger: str) -> str:
        engine = self._daemon.engine
        if engine is None or charger not in engine.settings:
            known = ", ".join(self._daemon.config.chargers)
            raise KeyError(f"no charger named {charger!r} (chargers: {known})")
        view = self._charger(charger, self._daemon.now())
        lines = [f"{charger}: {view.state_text}; mode {view.mode}", view.why]
        if view.countdown is not None:
            lines.append(view.countdown.text)
        if view.plan is not None:
            lines.extend(view.plan.text.splitlines())
        stale = [i for i in self._inputs(self._daemon.now()) if i.stale]
        for item in stale:
            age = f", {_seconds(item.age_seconds)} old" if item.age_seconds is not None else ""
            lines.append(f"input {item.name} is stale{age}")
        return "\n".join(lines)

    # -- commands ---------------------------------------------------------------------------

    async def command(self, command: HandCommand) -> CommandOutcome:
        return await self._daemon.commands.run(command)

    async def changes(self, since: int | None = None) -> int:
        return await self._daemon.changes(since)


def _blank(name: str, low: int, high: int) -> ChargerView:
    return ChargerView(name, "manual", False, "offline", "Not read yet", None, False, None,
                       None, None, None, None, None, None, None, low, high, "not read yet",
                       "the engine is starting", None, None, None)


def _state_text(status: ChargerStatus | None) -> str:
    if status is None:
        return "Not read yet"
    text = STATE_TEXT.get(status.state, status.state.value)
    if status.state in (ChargerState.ERROR, ChargerState.OFFLINE) and status.error:
        text += f": {status.error}"
    return text


def _plain(value: Value) -> float | str | bool | None:
    if isinstance(value, bool | str) or value is None:
        return value
    return float(value)


def _display(value: Value, dimension: object) -> str:
    from evse_rules.language.units import Dimension

    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float) and isinstance(dimension, Dimension):
        return format_quantity(float(value), dimension)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _short(kind: str, value: float | None) -> str:
    if kind == "set_current" and value is not None:
        return f"set_current {value:g} A"
    if kind == "set_voltage" and value is not None:
        return f"set_voltage {value:g} V"
    return kind


def _seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _line(entry: Entry) -> JournalLine:
    """A journal entry for the dashboard: the text of `history`, the source apart."""
    if entry.type == "event":
        return JournalLine(entry.at, entry.kind, entry.charger, entry.detail or "",
                           entry.source)
    kind = entry.type if entry.type != "command" or entry.ok else "failed"
    source = entry.rule or (entry.detail if entry.detail and
                            entry.detail.startswith("by hand") else None)
    return JournalLine(entry.at, kind, entry.charger, describe(entry), source)


def _finite(value: float) -> float | None:
    """A room without a limit (inf) is shown as none: JSON has no infinity."""
    return value if value != float("inf") else None
