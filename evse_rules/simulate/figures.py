"""The figures of a replay (DESIGN.md section 7): per charger and in all, JSON and table."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from evse_rules.engine import ChargerSettings, CommandKind
from evse_rules.language.program import Value

if TYPE_CHECKING:
    from evse_rules.simulate.cost import CostMeter

_KWH = 3_600_000.0
COMMAND_KINDS = tuple(kind.value for kind in CommandKind)
# A person's actions in a replay (--at, --events), counted by kind in the JSON's `hand`.
HAND_KINDS = ("start", "stop", "amps", "mode", "variable")
# The table names this many events one by one; the JSON and the trace have them all.
EVENTS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class ReplayEvent:
    """Something that happened in a replay besides commands: a rule's log line (`log`), a
    mode or variable set by a rule (`mode`, `variable`), a person's action (`hand`), what
    the site limit did (`site`)."""

    at: datetime
    kind: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"time": self.at.isoformat(), "kind": self.kind, "text": self.text}


def show(value: Value) -> str:
    """A value as the outputs show it: true/false, numbers without trailing zeros."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return "unknown" if value is None else str(value)


@dataclass(slots=True)
class ChargerFigures:
    """What one charger did over a replay; energies in J."""

    ev: float = 0.0
    from_solar: float = 0.0
    charges: int = 0
    durations: list[float] = field(default_factory=list)   # s, one per charge
    commands: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMMAND_KINDS, 0))

    def to_json(self) -> dict[str, Any]:
        return {
            "ev_kwh": _kwh(self.ev),
            "ev_from_solar_kwh": _kwh(self.from_solar),
            "ev_from_grid_kwh": _kwh(self.ev - self.from_solar),
            "charges": self.charges,
            "charge_time_s": _durations(self.durations),
            "commands": dict(self.commands),
        }


@dataclass(slots=True)
class SimulationResult:
    """The figures of a whole replay (DESIGN.md section 7, `--json`)."""

    ticks: int
    start: datetime
    end: datetime
    solar: float                               # J
    surplus: float                             # J, the sun's energy beyond the house's use
    chargers: dict[str, ChargerFigures]
    rules: dict[str, int]                      # "file:line" -> ticks it fired
    settings: tuple[ChargerSettings, ...] = ()
    tick: float = 60.0                         # s
    events: list[ReplayEvent] = field(default_factory=list)
    hand: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HAND_KINDS, 0))
    # Per charger that never charged: the starts the rules asked for, by what became of
    # them (a guard's name, or "sent").
    tried: dict[str, dict[str, int]] = field(default_factory=dict)
    # The cost of the charging at the replay's prices (simulate/cost.py); None without.
    cost: CostMeter | None = None

    def warnings(self) -> list[str]:
        """What makes the figures surprising: a charger that never charged although the
        rules asked it to start, and why."""
        said = []
        for name, counts in self.tried.items():
            total = sum(counts.values())
            parts = [f"{'sent' if why == 'sent' else 'held back by ' + why} {n} time"
                     f"{'s' if n != 1 else ''}" for why, n in
                     sorted(counts.items(), key=lambda item: -item[1])]
            said.append(f"warning: charger {name} never charged although the rules asked "
                        f"it to start {total} time{'s' if total != 1 else ''}: "
                        f"{', '.join(parts)}")
        changed = {event.text.split(":", 1)[0].removeprefix("by hand: ")
                   for event in self.events if event.kind in ("mode", "hand")}
        for settings in self.settings:
            figures = self.chargers.get(settings.name)
            if (settings.initial_mode == "manual" and figures is not None
                    and not figures.charges and not any(figures.commands.values())
                    and settings.name not in changed):
                # The config's default mode is manual: rules that test `mode is auto` never
                # act, and the replay's zero is no verdict on them.
                said.append(f"warning: charger {settings.name} stayed in manual mode (the "
                            f"config's mode) and was sent nothing: rules that test `mode is "
                            f"auto` never acted (set mode = \"auto\" on [chargers."
                            f"{settings.name}], or --at 00:00 mode=auto)")
        return said

    def overflowed(self) -> list[str]:
        """The energies too large to count (a sum that reached infinity): shown as null in
        JSON, 'overflow' in the table, and named in a warning."""
        named = [("solar energy", self.solar), ("surplus", self.surplus)]
        for name, figures in self.chargers.items():
            named += [(f"EV energy of {name}", figures.ev),
                      (f"solar energy of {name}", figures.from_solar)]
        return [what for what, joules in named if not math.isfinite(joules)]

    @property
    def ev(self) -> float:
        return sum(c.ev for c in self.chargers.values())

    @property
    def from_solar(self) -> float:
        return sum(c.from_solar for c in self.chargers.values())

    @property
    def charges(self) -> int:
        return sum(c.charges for c in self.chargers.values())

    def to_json(self) -> dict[str, Any]:
        commands = dict.fromkeys(COMMAND_KINDS, 0)
        durations: list[float] = []
        for figures in self.chargers.values():
            durations.extend(figures.durations)
            for kind, count in figures.commands.items():
                commands[kind] += count
        return {
            "ticks": self.ticks,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "solar_kwh": _kwh(self.solar),
            "ev_kwh": _kwh(self.ev),
            "ev_from_solar_kwh": _kwh(self.from_solar),
            "ev_from_grid_kwh": _kwh(self.ev - self.from_solar),
            "charges": self.charges,
            "charge_time_s": _durations(durations),
            "commands": commands,
            "rules": dict(self.rules),
            "chargers": {name: c.to_json() for name, c in self.chargers.items()},
            "hand": dict(self.hand),
            "logs": sum(1 for event in self.events if event.kind == "log"),
            "events": [event.to_json() for event in self.events],
            "warnings": self.warnings(),
            **({"cost": self.cost.to_json()} if self.cost is not None else {}),
        }


def _kwh(joules: float) -> float | None:
    """kWh, rounded so that the JSON is the same on every platform and easy to read; None
    (null in JSON, never Infinity, which is no JSON) when the sum overflowed."""
    if not math.isfinite(joules):
        return None
    return round(joules / _KWH, 3) + 0.0


def _energy(kwh: float | None) -> str:
    return f"{kwh:9.2f} kWh" if kwh is not None else " overflow (too large to count)"


def _share(part: float | None, whole: float | None) -> str | None:
    return f"{part / whole:.0%}" if part is not None and whole else None


def _durations(durations: list[float]) -> dict[str, float]:
    if not durations:
        return {"min": 0, "max": 0, "total": 0}
    return {"min": round(min(durations)), "max": round(max(durations)),
            "total": round(sum(durations))}


def _duration(seconds: float) -> str:
    if seconds and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _hours(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def render_table(result: SimulationResult, title: str) -> str:
    """The readable summary printed without --json."""
    summary = result.to_json()
    ticks = f"{result.ticks} tick{'s' if result.ticks != 1 else ''}"
    lines = [title, f"  {summary['start']} to {summary['end']}, {ticks} of "
                    f"{_duration(result.tick)}"]
    for s in result.settings:
        # What the replay assumed, so that a quiet replay explains itself (a manual mode).
        phases = "1 phase" if s.phases == 1 else f"{s.phases} phases"
        lines.append(f"  charger {s.name}: mode {s.initial_mode} at the start, "
                     f"{s.min_amps}..{s.max_amps} A, {phases}, "
                     f"min on {_duration(s.min_on)}, min off {_duration(s.min_off)}")
    lines.append("")

    surplus = _kwh(result.surplus)

    def block(figures: dict[str, Any], with_solar: bool) -> None:
        ev = figures["ev_kwh"]
        from_solar = figures["ev_from_solar_kwh"]
        shares = [f"{share} of the EV's" for share in [_share(from_solar, ev)] if share]
        if with_solar:
            lines.append(f"  solar energy      {_energy(summary['solar_kwh'])}")
            lines.append(f"    beyond house    {_energy(surplus)}  (max(pv - house, 0))")
            if ev:
                shares += [f"{share} of the surplus"
                           for share in [_share(from_solar, surplus)] if share]
        lines.append(f"  EV energy         {_energy(ev)}")
        share = f"  ({', '.join(shares)})" if shares else ""
        lines.append(f"    from solar      {_energy(from_solar)}{share}")
        lines.append(f"    from grid       {_energy(figures['ev_from_grid_kwh'])}")
        times = figures["charge_time_s"]
        detail = ""
        if figures["charges"]:
            detail = (f"  (shortest {_hours(times['min'])}, longest {_hours(times['max'])}, "
                      f"total {_hours(times['total'])})")
        lines.append(f"  charges           {figures['charges']:9d}{detail}")
        counts = ", ".join(f"{kind} {n}" for kind, n in figures["commands"].items())
        lines.append(f"  commands          {counts}")

    block(summary, True)
    if len(result.chargers) > 1:
        for name, figures in summary["chargers"].items():
            lines += ["", f"  charger {name}"]
            block(figures, False)
    if result.rules:
        width = max(len(ref) for ref in result.rules)
        lines += ["", f"  {'rule':<{width}}  fired"]
        lines += [f"  {ref:<{width}}  {count:5d}" for ref, count in result.rules.items()]
    if result.events:
        # Log lines, mode and variable changes, a person's actions: what happened.
        lines += ["", f"  events ({len(result.events)})"]
        lines += [f"  {event.at.isoformat()}  {event.kind:<8}  {event.text}"
                  for event in result.events[:EVENTS_SHOWN]]
        if len(result.events) > EVENTS_SHOWN:
            lines.append(f"  ... {len(result.events) - EVENTS_SHOWN} more (--json or "
                         "--trace has them all)")
    if result.cost is not None:
        lines += result.cost.table()
    if any(result.hand.values()):
        counts = ", ".join(f"{kind} {n}" for kind, n in result.hand.items() if n)
        lines.append(f"  by hand           {counts}")
    return "\n".join(lines)
