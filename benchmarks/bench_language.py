"""Figures for the rules language: parse+check throughput and evaluation cost.

    .venv/bin/python benchmarks/bench_language.py

Prints, measured in this run:
  1. parse + check speed on a generated 3,000-line file of typical rules (lines per second;
     the target is at least 10,000), and parse + check + compile for comparison;
  2. the speed of `evse-rules check` as a whole process (start-up included): the marginal
     lines per second, (t(3,000 lines) - t(3 lines)) / 2,997 with subprocess runs, best of 3
     (the target is at least 10,000);
  3. the cost of evaluating the design-card sentence
         if mode is auto and pv > 1400W then set amps to surplus/voltage
     one million times against varying state, as a ratio to hand-written Python functions
     doing the same (target: 3x or less), and the cost of a whole `Program.tick` for it.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evse_rules.language import DEFAULT_ENVIRONMENT, check_texts, load_program_text
from evse_rules.language.check import check
from evse_rules.language.parse import parse_text

SENTENCE = "if mode is auto and pv > 1400W then set amps to surplus/voltage"
EVALUATIONS = 1_000_000


def generated_rules(lines: int, seed: int = 1) -> str:
    """A rule file of `lines` lines shaped like the example files in rules/: groups of
    rules, about half of them under a comment line, with blank lines between groups (the
    examples are 40-60% comments and blank lines; this file is about 35%)."""
    rng = random.Random(seed)
    out = [
        "# generated for the benchmark",
        "input pv: W",
        "input house: W",
        "input tariff: text",
        "var boost: boolean = false",
        "var target: kWh = 20 kWh",
        "let surplus = pv - house",
    ]
    templates = [
        "if mode is auto and pv > {w}W then set amps to surplus/voltage",
        "let s{i} = clamp(surplus / voltage, 6 A, {a} A)",
        "if avg(pv, {m} min) < {kw} kW for {m} min then stop",
        "if state is charging and power > {w} W then log \"power {{power}} at {{time}}\"",
        "if between 22:00 and 06:00 and tariff is \"HC\" then start, set amps to {a} A else stop",
        "if session_energy >= target or not boost then stop",
        "if max(pv, {m} min) - min(house, {m} min) > {w} W then set boost to true",
        "every {m} min:\n    if surplus > {w} W for {m} min then start\n"
        "    if surplus < 0 W for {m} min then stop",
        "at {h:02d}:{mm:02d} on mon, tue, wed:\n    start",
        "cron \"*/{m} * * * *\": log \"pv is {{pv}}\"",
        "if mode is auto:\n    between 06:00 and 22:00:\n        set amps to surplus / voltage"
        "\n    between 22:00 and 06:00:\n        start, set amps to {a} A",
        "when pv > {w} W for {m} min:\n    log \"sunny since {{time}}\"",
        "if house > {kw}0 kW then stop now",
    ]
    comments = [
        "# start when the surplus has held for a while",
        "# the night tariff: full power",
        "# stop before the contactor flaps",
        "# keep an eye on the charger",
    ]
    i = 0
    while len(out) < lines:
        if rng.random() < 0.5:
            out.append(rng.choice(comments))
        group = rng.choice(templates).format(
            i=i, w=rng.randint(500, 3000), a=rng.randint(6, 32), m=rng.randint(1, 30),
            kw=rng.randint(1, 5), h=rng.randint(0, 23), mm=rng.randint(0, 59))
        out.extend(group.split("\n"))
        if rng.random() < 0.3:
            out.append("")
        i += 1
    return "\n".join(out) + "\n"


def composition(text: str) -> tuple[int, int, int]:
    """(rule lines, comment lines, blank lines)."""
    lines = text.splitlines()
    blank = sum(1 for line in lines if not line.strip())
    comments = sum(1 for line in lines if line.strip().startswith("#"))
    return len(lines) - blank - comments, comments, blank


def best_of(runs: int, function: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def parse_check_figures() -> None:
    text = generated_rules(3000)
    lines = text.count("\n")
    parse_text("input pv: W\n")          # build the parser outside the measurement

    def parse_and_check() -> None:
        tree, errors = parse_text(text, "bench.evr")
        assert not errors, errors[0]
        _, problems = check([tree], DEFAULT_ENVIRONMENT)
        assert not problems, problems[0]

    def parse_check_compile() -> None:
        program, errors = check_texts([("bench.evr", text)])
        assert program is not None, errors[:1]

    seconds = best_of(3, parse_and_check)
    full = best_of(3, parse_check_compile)
    code, comments, blank = composition(text)
    print(f"generated file: {lines} lines ({code} rule lines, {comments} comments, "
          f"{blank} blank)")
    print(f"parse + check:           {lines} lines in {seconds * 1000:.0f} ms = "
          f"{lines / seconds:,.0f} lines/s (target >= 10,000); "
          f"{code / seconds:,.0f} rule lines/s")
    print(f"parse + check + compile: {lines} lines in {full * 1000:.0f} ms = "
          f"{lines / full:,.0f} lines/s")


def hand_written(v: list[Any]) -> float | None:
    """The sentence by hand, with the same unknown-value care as the compiled rule."""
    mode, pv, surplus, voltage = v[0], v[1], v[2], v[3]
    if mode == "auto" and pv is not None and pv > 1400.0:
        if surplus is None or not voltage:
            return None
        return float(surplus / voltage)
    return None


def hand_written_naive(v: list[Any]) -> float | None:
    """The sentence by hand, trusting every value to be known and the voltage non-zero."""
    if v[0] == "auto" and v[1] > 1400.0:
        return float(v[2] / v[3])
    return None


def evaluation_figures() -> None:
    program = load_program_text("input pv: W\ninput surplus: W\n" + SENTENCE + "\n")
    names = [e.name for e in program.externals]
    assert names == ["pv", "surplus", "evse.mode", "evse.voltage"], names
    rng = random.Random(7)
    states: list[dict[str, Any]] = []
    for _ in range(1000):
        states.append({
            "mode": rng.choice(["auto", "auto", "manual"]),
            "pv": rng.choice([rng.uniform(0, 6000)] * 9 + [None]),
            "surplus": rng.uniform(-500, 5000),
            "voltage": rng.choice([230.0, 240.0, 0.0]),
        })
    # The compiled rule reads the program's value list (externals, built-ins, lets).
    rule = program.rule_function(0)
    slot_states = [program.slot_values([s["pv"], s["surplus"], s["mode"], s["voltage"]])
                   for s in states]
    hand_states = [[s["mode"], s["pv"], s["surplus"], s["voltage"]] for s in states]
    naive_states = [[s["mode"], s["pv"] or 0.0, s["surplus"], s["voltage"] or 230.0]
                    for s in states]
    # Same answers first.
    for slots, hand in zip(slot_states, hand_states, strict=True):
        outcome = rule(slots, 0.0)
        compiled = outcome[1][0] if outcome else None
        assert compiled == hand_written(hand), (compiled, hand_written(hand))
    rounds = EVALUATIONS // len(states)

    def run_compiled() -> None:
        for _ in range(rounds):
            for slots in slot_states:
                rule(slots, 0.0)

    def run_hand() -> None:
        for _ in range(rounds):
            for values in hand_states:
                hand_written(values)

    def run_naive() -> None:
        for _ in range(rounds):
            for values in naive_states:
                hand_written_naive(values)

    compiled = best_of(3, run_compiled)
    hand_time = best_of(3, run_hand)
    naive = best_of(3, run_naive)
    print(f"design-card sentence, {EVALUATIONS:,} evaluations against varying state:")
    print(f"  compiled rule:              {compiled:.3f} s ({compiled / EVALUATIONS * 1e9:.0f} ns"
          " each)")
    print(f"  hand-written (None-safe):   {hand_time:.3f} s   ratio {compiled / hand_time:.2f}x "
          "(target <= 3x)")
    print(f"  hand-written (naive):       {naive:.3f} s   ratio {compiled / naive:.2f}x")

    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    tick_values = [[s["pv"], s["surplus"], s["mode"], s["voltage"]] for s in states]
    ticks = 100_000

    def run_ticks() -> None:
        program.reset()
        for i in range(ticks // len(tick_values)):
            for values in tick_values:
                program.tick(now, values)
            del i

    tick_time = best_of(3, run_ticks)
    print(f"  whole Program.tick (triggers, proposals, reasons): "
          f"{tick_time / ticks * 1e6:.1f} us per tick ({ticks:,} ticks)")


def check_process_figures(runs: int = 3) -> None:
    """`evse-rules check FILE` as a user runs it, on 3,000 lines and on 3: the difference is
    what the lines cost, start-up (Python, imports, the grammar) left out."""
    big = generated_rules(3000)
    small = "input pv: W\nlet surplus = pv\nif mode is auto and pv > 1400W then start\n"
    with tempfile.TemporaryDirectory() as folder:
        timings = []
        for name, text in (("small.evr", small), ("big.evr", big)):
            path = Path(folder) / name
            path.write_text(text)
            command = [sys.executable, "-m", "evse_rules", "check", str(path)]

            def run(command: list[str] = command) -> None:
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                assert done.returncode == 0, done.stderr[:500]

            run()                       # warm the file cache and the grammar cache
            timings.append((text.count("\n"), best_of(runs, run)))
    (small_lines, small_time), (big_lines, big_time) = timings
    marginal = (big_lines - small_lines) / max(big_time - small_time, 1e-9)
    print(f"evse-rules check process: {small_lines} lines in {small_time * 1000:.0f} ms, "
          f"{big_lines} lines in {big_time * 1000:.0f} ms (best of {runs})")
    print(f"  marginal: {marginal:,.0f} lines/s (target >= 10,000)")


if __name__ == "__main__":
    parse_check_figures()
    check_process_figures()
    evaluation_figures()
