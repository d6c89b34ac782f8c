"""What the site limit costs a tick: engine steps with and without `[site]`.

    .venv/bin/python benchmarks/bench_site.py [--chargers 2,10,20] [--steps 2000] [--repeat 3]

For each number of chargers, the same rules (every charger started at 32 A, a changing
house load that keeps the site lowering and raising currents) run through `Engine.step`
with every command committed and the simulated statuses following, once without a site
(the baseline, measured in the same run) and once with a 25 A x N supply. Printed: the
microseconds per step of each, and the ratio with / without (the site's cost per tick).
The best of --repeat runs counts (other work on the machine only ever adds time).
"""

from __future__ import annotations

import argparse
import math
import time
from datetime import UTC, datetime, timedelta

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine import ChargerSettings, CommandKind, Engine
from evse_rules.engine.site import SiteSettings
from evse_rules.language import load_program_text

T0 = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)


def _rules(names: list[str]) -> str:
    lines = [f"charger {', '.join(names)}", "input house: W"]
    lines += [f"start {n}, set amps of {n} to 32 A" for n in names]
    return "\n".join(lines) + "\n"


def _status(state: ChargerState, amps: float) -> ChargerStatus:
    charging = state is ChargerState.CHARGING
    return ChargerStatus(state=state, vehicle=True, current=amps if charging else 0.0,
                         amps=amps, voltage=230.0, power=amps * 230.0 if charging else 0.0,
                         session_energy=0.0, total_energy=0.0)


def run(chargers: int, steps: int, with_site: bool) -> float:
    """Seconds per step."""
    from evse_rules.language.program import Environment, Kind, ValueType
    from evse_rules.language.units import POWER

    names = [f"c{i}" for i in range(chargers)]
    env = Environment(inputs={"house": ValueType(Kind.NUMBER, POWER)}, chargers=tuple(names),
                      chargers_from_config=True)
    program = load_program_text(_rules(names), "bench.evr", env)
    settings = [ChargerSettings(n, priority=i % 3, min_on=0, min_off=0)
                for i, n in enumerate(names)]
    site = SiteSettings(input="house", includes_chargers=False, max_amps=25.0 * chargers
                        / 2) if with_site else None
    engine = Engine(program, settings, site=site)
    engine.store.declare_input("house", ValueType(Kind.NUMBER, POWER), None)
    state = {n: (ChargerState.DISABLED, 6.0) for n in names}
    started = time.perf_counter()
    for step in range(steps):
        now = T0 + timedelta(seconds=step)
        for name, (st, amps) in state.items():
            engine.store.set_charger(name, _status(st, amps), now)
        # A house load that swings between 0 and 10 kW over ten minutes.
        engine.store.set_input("house", 5000.0 + 5000.0 * math.sin(step / 100), now)
        result = engine.step(now)
        for command in result.commands:
            engine.commit(command, ok=True)
            st, amps = state[command.charger]
            if command.kind is CommandKind.START:
                st = ChargerState.CHARGING
            elif command.kind is CommandKind.STOP:
                st = ChargerState.DISABLED
            elif command.kind is CommandKind.SET_CURRENT and command.value is not None:
                amps = command.value
            state[command.charger] = (st, amps)
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", default="2,10,20")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'chargers':>8} {'no site us/step':>16} {'site us/step':>13} {'ratio':>6}")
    for n in (int(x) for x in args.chargers.split(",")):
        base = min(run(n, args.steps, False) for _ in range(args.repeat))
        site = min(run(n, args.steps, True) for _ in range(args.repeat))
        print(f"{n:>8} {base * 1e6:>16.1f} {site * 1e6:>13.1f} {site / base:>5.2f}x")


if __name__ == "__main__":
    main()
