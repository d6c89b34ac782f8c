"""What `share` costs per tick: rules/two_chargers.evr against the same rules written with
hand-made lets (the form the file had before `share`: the carport's part as the surplus
less the garage's measured power, started only while the garage charges).

    .venv/bin/python benchmarks/bench_share.py [--ticks 100000] [--repeat 3]

Prints the best time per tick of each over `--repeat` runs of `--ticks` ticks, both
chargers idle with a vehicle in auto mode on a 2.5 kW surplus (the shares computed in
full at every tick).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

from evse_rules.language import load_program_text
from evse_rules.language.program import Value

ROOT = Path(__file__).resolve().parent.parent

HAND_MADE = """charger garage, carport
input pv: W
input house: W
let surplus = smooth(pv - house, rise 20 s, fall 10 min)
let garage_share = surplus / garage.voltage
let carport_share = (surplus - garage.power) / carport.voltage
if garage.mode is auto:
    if garage_share >= 6.5 A for 3 min then start garage
    set amps of garage to garage_share
    if garage_share < 6 A for 5 min then stop garage
if carport.mode is auto:
    if garage.charging and carport_share >= 6.5 A for 3 min then start carport
    set carport.amps to carport_share
    if carport_share < 6 A for 5 min then stop carport
"""


def per_tick(source: str, ticks: int, repeat: int) -> float:
    """The best seconds per tick of `source` over `repeat` runs."""
    program = load_program_text(source, "bench.evr")
    values: dict[str, Value] = {"pv": 3000.0, "house": 500.0}
    for charger in ("garage", "carport"):
        values.update({f"{charger}.voltage": 240.0, f"{charger}.phases": 1.0,
                       f"{charger}.min_amps": 6.0, f"{charger}.max_amps": 32.0,
                       f"{charger}.charging": False, f"{charger}.vehicle": True,
                       f"{charger}.mode": "auto", f"{charger}.power": 0.0})
    row = [values.get(external.name) for external in program.externals]
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    first = now.timestamp()
    best = float("inf")
    for _ in range(repeat):
        program.reset()
        start = time.perf_counter()
        for i in range(ticks):
            program.tick_at(now, first + 60.0 * i, row)
        best = min(best, (time.perf_counter() - start) / ticks)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shared = per_tick((ROOT / "rules" / "two_chargers.evr").read_text(), args.ticks,
                      args.repeat)
    hand = per_tick(HAND_MADE, args.ticks, args.repeat)
    print(f"two_chargers.evr with share: {shared * 1e6:.2f} us per tick")
    print(f"hand-made lets (no priority): {hand * 1e6:.2f} us per tick")
    print(f"share costs {(shared - hand) * 1e6:+.2f} us per tick ({shared / hand:.2f}x)")


if __name__ == "__main__":
    main()
