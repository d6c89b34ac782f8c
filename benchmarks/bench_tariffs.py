"""What the tariff functions cost per tick, over days of one-minute ticks and hourly prices.

    python benchmarks/bench_tariffs.py [--days 30] [--repeat 3]

Three programs tick through the engine over the same days: one that reads `price` only,
one that asks `cheapest(price, 4 h, 07:00)`, one that asks `offpeak(price)`. Prices are
seeded random hours. Printed: microseconds per tick of each, and a cross-check: cheapest
holds exactly 4 h in each full period (240 ticks a day), whatever the prices.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evse_rules.engine import ChargerSettings, Engine
from evse_rules.language import load_program_text
from evse_rules.language.program import Environment, Kind, ValueType
from evse_rules.prices import PriceSeries, PriceSlot

START = datetime(2026, 1, 1, 7, 0, tzinfo=UTC)
ENV = Environment(inputs={"price": ValueType(Kind.NUMBER)}, prices=frozenset({"price"}))
PROGRAMS = {
    "price only": "let x = price < 0.1\n",
    "cheapest": "let x = cheapest(price, 4 h, 07:00)\n",
    "offpeak": "let x = offpeak(price)\n",
}


def series(days: int, seed: int = 7) -> PriceSeries:
    rng = random.Random(seed)
    hour = timedelta(hours=1)
    return PriceSeries(tuple(PriceSlot(START + i * hour, START + (i + 1) * hour,
                                       round(rng.uniform(0.05, 0.40), 4),
                                       "offpeak" if (7 + i) % 24 < 6 else "peak")
                             for i in range(days * 24)))


def run(text: str, prices: PriceSeries, days: int) -> tuple[float, int]:
    """Seconds per tick, and the ticks where `x` was true."""
    engine = Engine(load_program_text(text, env=ENV), [ChargerSettings("evse")])
    engine.store.set_prices("price", prices, START)
    minute = timedelta(minutes=1)
    ticks = days * 1440
    now = START
    true = 0
    began = time.perf_counter()
    for k in range(ticks):
        result = engine.step(now, START.timestamp() + 60.0 * k)
        if result.lets["x"] is True:
            true += 1
        now += minute
    return (time.perf_counter() - began) / ticks, true


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    prices = series(args.days)
    print(f"{args.days} days of 1-minute ticks, {len(prices.slots)} hourly prices")
    counts: dict[str, int] = {}
    for name, text in PROGRAMS.items():
        best = min(run(text, prices, args.days)[0] for _ in range(args.repeat))
        counts[name] = run(text, prices, args.days)[1]
        print(f"  {name:<12} {best * 1e6:7.2f} us per tick (best of {args.repeat})")
    expected = args.days * 240
    print(f"cheapest held {counts['cheapest']} ticks, {expected} expected (4 h a day): "
          f"{'yes' if counts['cheapest'] == expected else 'NO'}")
    print(f"offpeak held {counts['offpeak']} ticks, {args.days * 360} expected (6 h a day): "
          f"{'yes' if counts['offpeak'] == args.days * 360 else 'NO'}")
    return 0 if counts["cheapest"] == expected and counts["offpeak"] == args.days * 360 else 1


if __name__ == "__main__":
    raise SystemExit(main())
