"""A stand-in engine with a realistic day: the dashboard without a charger.

`DemoFace` keeps one charger, two inputs and three user variables in memory and applies hand
commands to them the way the engine would (a hand ON, OFF or current switches to manual, the
current is clamped to [min_amps, max_amps]). It serves the screenshots, the browser tests and
anyone trying the page:  python -m evse_rules.api.demo [PORT]
"""

from __future__ import annotations

import asyncio
import math
import sys
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from evse_rules.live.views import (
    ChargerView,
    CommandOutcome,
    CommandRefused,
    Countdown,
    EngineView,
    HandCommand,
    InputView,
    JournalLine,
    PlanSlotView,
    PlanView,
    RulesView,
    Series,
    VariableView,
)

_WORDS = {
    "not_connected": "Not connected", "connected": "Connected, not charging",
    "charging": "Charging", "sleeping": "Sleeping (not charging)",
}


RULES = "/etc/evse-rules/solar.evr"


def pv_watts(at: datetime) -> float:
    """A clear summer day: a bell from 06:00 to 21:00 local, 5.2 kW at its peak."""
    hour = at.hour + at.minute / 60
    if not 6 <= hour <= 21:
        return 0.0
    return round(5200 * math.sin(math.pi * (hour - 6) / 15) ** 2, 1)


@dataclass
class DemoFace:
    """An in-memory `EngineFace`; `commands` records every hand command it was given."""

    now: datetime = field(default_factory=lambda: datetime(2026, 6, 21, 13, 20, tzinfo=UTC))
    charger: ChargerView = field(default_factory=lambda: ChargerView(
        name="garage", mode="auto", online=True, state="sleeping",
        state_text=_WORDS["sleeping"], vehicle=True, charging=False, enabled=False,
        current=0.0, amps=16.0, setpoint=16.0, voltage=236.0, power=0.0,
        session_energy=7350.0, temp=31.5, min_amps=6, max_amps=32, error=None,
        why="pv 4.1 kW > 1.4 kW (solar.evr:3): start is waiting for min_off",
        countdown=Countdown("start", 40.0, "starting in 40 s if the surplus holds"),
        block="solar", updated=None))
    inputs: list[InputView] = field(default_factory=lambda: [
        InputView("pv", 4100.0, "W", "4.1 kW", 12.0, False),
        InputView("house", 640.0, "W", "640 W", 200.0, True),
    ])
    variables: list[VariableView] = field(default_factory=lambda: [
        VariableView("target", "number", "kWh", 20.0, "20 kWh"),
        VariableView("boost", "boolean", None, False, "false"),
        VariableView("note", "text", None, "solar only", "solar only"),
    ])
    commands: list[HandCommand] = field(default_factory=list)
    lines: list[JournalLine] = field(default_factory=list)
    sequence: int = 0

    def __post_init__(self) -> None:
        self.charger = replace(self.charger, updated=self.now)
        if not self.lines:
            start = self.now - timedelta(hours=3)
            self.lines = [
                JournalLine(start, "command", "garage",
                            f"start sent <- {RULES}:4 if mode is auto and pv > 1400W then start",
                            f"{RULES}:4"),
                JournalLine(start + timedelta(minutes=1), "command", "garage",
                            f"set_current 13 A sent <- {RULES}:3 if mode is auto and pv > 1400W"
                            " then set amps to surplus/voltage", f"{RULES}:3"),
                JournalLine(self.now - timedelta(minutes=50), "hand", "garage", "amps 16 A",
                            "dashboard"),
                JournalLine(self.now - timedelta(minutes=5), "event", "garage",
                            "vehicle full: sleeping", "daemon"),
            ]

    # --- what the page reads ------------------------------------------------------------

    def view(self) -> EngineView:
        return EngineView(
            version="0.1.0", now=self.now, tick_seconds=60.0, last_tick=self.now,
            next_tick=self.now + timedelta(seconds=60),
            rules=RulesView(files=["solar.evr"], error=None), chargers=[self.charger],
            inputs=list(self.inputs), variables=list(self.variables))

    def journal(self, limit: int = 50, charger: str | None = None) -> list[JournalLine]:
        lines = [line for line in self.lines if charger in (None, line.charger)]
        # Newest first; lines of the same instant in reverse order of arrival too.
        order = sorted(range(len(lines)), key=lambda i: (lines[i].at, i), reverse=True)
        return [lines[i] for i in order[:limit]]

    def series(self, hours: float = 24.0) -> list[Series]:
        """Five-minute samples; the EV charged from the sun between 10:00 and 17:00."""
        step = timedelta(minutes=5)
        count = int(hours * 12)
        times = [self.now - step * (count - i) for i in range(count + 1)]
        pv: list[tuple[float, float | None]] = []
        house: list[tuple[float, float | None]] = []
        power: list[tuple[float, float | None]] = []
        amps: list[tuple[float, float | None]] = []
        for at in times:
            ms = at.timestamp() * 1000
            sun = pv_watts(at)
            home = 350 + 300 * math.sin(at.hour) ** 2
            charging = 10 <= at.hour < 17 and sun - home > 1400
            current = min(32.0, max(6.0, (sun - home) // 236)) if charging else 0.0
            pv.append((ms, sun))
            house.append((ms, round(home, 1)))
            power.append((ms, current * 236.0))
            amps.append((ms, current))
        return [Series("pv", "W", pv), Series("house", "W", house),
                Series("garage.power", "W", power), Series("garage.amps", "A", amps)]

    def why(self, charger: str) -> str:
        return f"{charger}: {self.charger.why}\nmode {self.charger.mode}, block solar"

    # --- what the page asks --------------------------------------------------------------

    async def command(self, command: HandCommand) -> CommandOutcome:
        self.commands.append(command)
        c = self.charger
        if command.action == "set":
            return self._set(command)
        if command.target != c.name:
            raise CommandRefused(f"no charger named {command.target!r} (chargers: garage)", 404)
        if command.action == "start":
            self.charger = replace(c, mode="manual", enabled=True, charging=bool(c.vehicle),
                                   state="charging" if c.vehicle else "connected",
                                   state_text=_WORDS["charging" if c.vehicle else "connected"],
                                   current=c.setpoint, power=(c.setpoint or 0) * (c.voltage or 0),
                                   countdown=None, why="hand ON from the " + command.source)
            message, sent = "start sent", ["start"]
        elif command.action == "stop":
            self.charger = replace(c, mode="manual", enabled=False, charging=False,
                                   state="sleeping", state_text=_WORDS["sleeping"], current=0.0,
                                   power=0.0, countdown=None,
                                   why="hand OFF from the " + command.source)
            message, sent = "stop sent", ["stop"]
        elif command.action == "amps":
            assert isinstance(command.value, float | int)
            amps = min(float(c.max_amps), max(float(c.min_amps), float(command.value)))
            self.charger = replace(c, mode="manual", setpoint=amps, amps=amps,
                                   current=amps if c.charging else 0.0)
            clamped = "" if amps == command.value else f" (clamped from {command.value:g} A)"
            message, sent = f"current {amps:g} A sent{clamped}", [f"set_current {amps:g} A"]
        elif command.action == "mode":
            mode: Literal["auto", "manual"] = "auto" if command.value == "auto" else "manual"
            self.charger = replace(c, mode=mode)
            message, sent = f"mode {command.value}", []
        elif command.action in ("plan", "cancel_plan"):
            message = self._plan(command)
            sent = []
        else:
            self.charger = replace(c, mode="auto")
            message, sent = "garage handed back to its own settings", ["release"]
        self._journal(command, message)
        return CommandOutcome(True, message, 200, sent)

    def _plan(self, command: HandCommand) -> str:
        """A demo plan: the energy asked, in the two hours before its time at 0.18/kWh."""
        c = self.charger
        if command.action == "cancel_plan":
            if c.plan is None:
                raise CommandRefused("garage has no plan to cancel", 409)
            self.charger = replace(c, plan=None)
            return "plan cancelled"
        energy_text, _, by = str(command.value).partition(" by ")
        try:
            energy = float(energy_text.lower().removesuffix("kwh").strip())
            hour, minute = (int(part) for part in by.split(":"))
        except ValueError:
            raise CommandRefused(f"a plan is an energy and a time, like '20 kWh by 07:00', "
                                 f"not {command.value!r}") from None
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        deadline = now.replace(hour=hour, minute=minute)
        if deadline <= now:
            deadline += timedelta(days=1)
        slot = PlanSlotView(deadline - timedelta(hours=2), deadline, 0.18, energy)
        self.charger = replace(c, mode="auto", plan=PlanView(
            energy, deadline, now, command.source, 0.0, [slot], energy,
            round(energy * 0.18, 4), True, f"waiting: next slot {slot.start:%H:%M}-"
            f"{slot.end:%H:%M}, 0.18/kWh", f"plan: {energy:g} kWh by {by}"))
        return f"plan {energy:g} kWh by {by}: slots {slot.start:%H:%M}-{slot.end:%H:%M}"

    def _set(self, command: HandCommand) -> CommandOutcome:
        for i, variable in enumerate(self.variables):
            if variable.name != command.target:
                continue
            value = command.value
            if variable.type == "boolean" and not isinstance(value, bool):
                raise CommandRefused(f"{variable.name} is a boolean: true or false, got {value!r}")
            if variable.type == "number":
                if isinstance(value, str):
                    number = value.strip().partition(" ")[0]
                    try:
                        value = float(number)
                    except ValueError:
                        raise CommandRefused(
                            f"{variable.name} is a number in {variable.unit}, got {value!r}"
                        ) from None
                if not isinstance(value, float | int) or isinstance(value, bool):
                    raise CommandRefused(f"{variable.name} is a number in {variable.unit}")
                display = f"{value:g} {variable.unit}"
            else:
                display = str(value).lower() if isinstance(value, bool) else str(value)
            self.variables[i] = replace(variable, value=value, display=display)
            self._journal(command, f"{variable.name} = {display}")
            return CommandOutcome(True, f"{variable.name} = {display}")
        names = ", ".join(v.name for v in self.variables)
        raise CommandRefused(f"no variable named {command.target!r} (variables: {names})", 404)

    def _journal(self, command: HandCommand, text: str) -> None:
        charger = None if command.action == "set" else command.target
        self.lines.append(JournalLine(self.now, "hand", charger, text, command.source))
        self.sequence += 1

    async def changes(self, since: int | None = None) -> int:
        """Polls `sequence`: tests bump it from another thread (see `tick`)."""
        if since is not None and self.sequence > since:
            return self.sequence
        seen = self.sequence
        while self.sequence == seen:
            await asyncio.sleep(0.02)
        return self.sequence

    def tick(self, seconds: float = 60.0) -> None:
        """The clock moves on: the countdown shortens (or the start happens), PV drifts."""
        self.now += timedelta(seconds=seconds)
        c = self.charger
        countdown = c.countdown
        if countdown is not None:
            left = countdown.seconds - seconds
            countdown = replace(countdown, seconds=left, text=f"starting in {left:g} s if the "
                                "surplus holds") if left > 0 else None
        self.charger = replace(c, countdown=countdown, updated=self.now)
        self.sequence += 1


def main(argv: list[str]) -> None:  # pragma: no cover - a manual preview
    import uvicorn

    from evse_rules.api.app import create_app

    port = int(argv[0]) if argv else 8080
    uvicorn.run(create_app(DemoFace(), password=None), host="127.0.0.1", port=port)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
