"""Figures for the compiler's growth: parse + check + compile of N statements.

    .venv/bin/python benchmarks/bench_compile.py [--sizes 1000,2000,4000,8000,16000]
                                                 [--repeat 3]

For each size, a generated file of N statements shaped like the example rules (conditions,
actions, windows, `for`, trigger blocks, log texts) is parsed, checked and compiled into a
program; printed: the seconds it took, the peak memory traced meanwhile (tracemalloc, MB)
and the time per statement. The last line is the ratio of the time per statement at the
largest size to that at the smallest: a linear compiler gives about 1x (target <= 1.5x).
The time is the best of --repeat runs without tracemalloc (which slows allocation
several-fold; the best of several, since other work on the machine only ever adds time),
the peak is from one more run with it.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc

from evse_rules.language import check_texts
from evse_rules.language.parse import parse_text

HEADER = [
    "input pv: W",
    "input house: W",
    "input tariff: text",
    "var boost: boolean = false",
    "var target: kWh = 20 kWh",
    "let surplus = pv - house",
]
# Each template is one statement (a block: its trigger line and one statement).
TEMPLATES = [
    "if mode is auto and pv > {w} W then set amps to surplus / voltage",
    "if avg(pv, {m} min) < {kw} kW for {m} min then stop",
    "if state is charging and power > {w} W then log \"power {{power}} at {{time}}\"",
    "if between 22:00 and 06:00 and tariff is \"HC\" then start, set amps to {a} A else stop",
    "if session_energy >= target or not boost then stop",
    "if max(pv, {m} min) - min(house, {m} min) > {w} W then set boost to true",
    "if clamp(surplus / voltage, 6 A, {a} A) > {a} A then set amps to {a} A",
    "every {m} min:\n    if surplus > {w} W for {m} min then start",
    "at {h:02d}:{mm:02d} on mon, tue, wed:\n    start",
    "cron \"*/{m} * * * *\": log \"pv is {{pv}}\"",
]


def generated(statements: int, seed: int = 1) -> str:
    """A rule file of exactly `statements` statements, after a few declarations."""
    rng = random.Random(seed)
    out = list(HEADER)
    for _ in range(statements):
        out.append(rng.choice(TEMPLATES).format(
            w=rng.randint(500, 3000), a=rng.randint(6, 32), m=rng.randint(1, 30),
            kw=rng.randint(1, 5), h=rng.randint(0, 23), mm=rng.randint(0, 59)))
    return "\n".join(out) + "\n"


def build(text: str) -> int:
    program, errors = check_texts([("bench.evr", text)])
    assert program is not None, errors[:1]
    return len(program.rules)


def measure(statements: int, repeat: int) -> tuple[float, float]:
    """(seconds, peak MB) of parse + check + compile of `statements` statements."""
    text = generated(statements)
    seconds = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        count = build(text)
        seconds = min(seconds, time.perf_counter() - start)
        assert count == statements, (count, statements)
    gc.collect()
    tracemalloc.start()
    build(text)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,2000,4000,8000,16000",
                        help="statement counts, comma-separated (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per size; the best time counts (default: %(default)s)")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    parse_text("input pv: W\n")          # build the parser outside the measurement
    print("parse + check + compile of N statements:")
    per_statement: list[float] = []
    for size in sizes:
        seconds, peak = measure(size, args.repeat)
        per_statement.append(seconds / size)
        print(f"  {size:>6} statements: {seconds:7.2f} s  peak {peak:8.1f} MB  "
              f"{seconds / size * 1e6:7.1f} us per statement")
    ratio = per_statement[-1] / per_statement[0]
    print(f"time per statement at {sizes[-1]:,} vs {sizes[0]:,}: {ratio:.2f}x "
          "(linear: about 1x; target <= 1.5x)")


if __name__ == "__main__":
    main()
