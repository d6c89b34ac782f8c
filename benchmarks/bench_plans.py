"""What charge plans cost: the planner over a long price series, and a step with a plan.

    .venv/bin/python benchmarks/bench_plans.py [--steps 20000] [--repeat 3]

1. `plan_slots` for 20 kWh by a deadline 1 and 7 days ahead over 15-minute prices (96 and
   672 slots), and over hourly prices: milliseconds per schedule (a plan makes one at every
   slot boundary, at most one a tick).
2. `Engine.step` of one charger whose rules propose nothing, without a plan (the baseline,
   same run) and with a plan of 200 kWh by 7 days ahead (a schedule at every hourly
   boundary, a start and current proposed in its slots): microseconds per step, and the
   ratio. The best of --repeat runs counts (other work on the machine only adds time).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine import ChargerSettings, Engine
from evse_rules.engine.plans import plan_slots
from evse_rules.language import load_program_text
from evse_rules.prices import PriceSeries, PriceSlot

T0 = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)


def _prices(days: int, minutes: int) -> PriceSeries:
    count = days * 24 * 60 // minutes
    step = timedelta(minutes=minutes)
    return PriceSeries(tuple(PriceSlot(T0 + i * step, T0 + (i + 1) * step,
                                       0.1 + 0.05 * ((i * 7919) % 13) / 13)
                             for i in range(count)))


def _planner(repeat: int) -> None:
    for days, minutes in ((1, 15), (7, 15), (7, 60)):
        prices = _prices(days, minutes)
        runs = 50
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(runs):
                plan_slots(20_000, T0, T0 + timedelta(days=days), 7360.0, prices)
            best = min(best, (time.perf_counter() - start) / runs)
        print(f"plan_slots, {len(prices.slots):4d} slots of {minutes} min over {days} day(s): "
              f"{best * 1000:.2f} ms a schedule")


def _steps(steps: int, with_plan: bool) -> float:
    # Rules that propose nothing (pv is never set): what a plan adds is measured alone.
    program = load_program_text("input pv: W\nif pv > 1400 W then start\n")
    engine = Engine(program, [ChargerSettings("evse", plan_price="price", min_on=0,
                                               min_off=0)])
    engine.store.set_prices("price", _prices(8, 60))
    status = ChargerStatus(state=ChargerState.SLEEPING, vehicle=True, current=0.0,
                           amps=32.0, voltage=230.0, power=0.0, session_energy=0.0,
                           total_energy=0.0)
    engine.store.set_charger("evse", status, T0)
    if with_plan:
        engine.hand("evse", "plan", "200 kWh by 2026-01-22T17:00+00:00", "api", T0)
    start = time.perf_counter()
    for i in range(steps):
        now = T0 + timedelta(minutes=i)
        for command in engine.step(now).commands:
            engine.commit(command, ok=True)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    _planner(args.repeat)
    base = min(_steps(args.steps, False) for _ in range(args.repeat))
    plan = min(_steps(args.steps, True) for _ in range(args.repeat))
    print(f"Engine.step, one charger, {args.steps} steps of 1 min: without a plan "
          f"{base * 1e6:.1f} us, with a plan {plan * 1e6:.1f} us ({plan / base:.1f}x)")


if __name__ == "__main__":
    main()
