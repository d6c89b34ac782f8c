"""The figures of a replay (DESIGN.md section 7): per charger and in all, JSON and table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evse_rules.engine import ChargerSettings, CommandKind

_KWH = 3_600_000.0
COMMAND_KINDS = tuple(kind.value for kind in CommandKind)


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
        }


def _kwh(joules: float) -> float:
    # Rounded so that the JSON is the same on every platform and easy to read.
    return round(joules / _KWH, 3) + 0.0


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
        share = f"{figures['ev_from_solar_kwh'] / ev:.0%} of the EV's" if ev else ""
        if with_solar:
            lines.append(f"  solar energy      {summary['solar_kwh']:9.2f} kWh")
            lines.append(f"    beyond house    {surplus:9.2f} kWh  (max(pv - house, 0))")
        lines.append(f"  EV energy         {ev:9.2f} kWh")
        if with_solar and surplus and ev:
            share += f", {figures['ev_from_solar_kwh'] / surplus:.0%} of the surplus"
        share = f"  ({share})" if share else ""
        lines.append(f"    from solar      {figures['ev_from_solar_kwh']:9.2f} kWh{share}")
        lines.append(f"    from grid       {figures['ev_from_grid_kwh']:9.2f} kWh")
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
    return "\n".join(lines)
