"""benchmarks/bench_tariffs.py runs, and its cross-checks hold: over days of random hourly
prices, cheapest(price, 4 h, 07:00) holds exactly 4 h a day and offpeak 6 h a day."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_tariffs.py"


def test_the_tariff_benchmark_runs_and_its_cross_checks_hold() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--days", "5", "--repeat", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cheapest held 1200 ticks, 1200 expected (4 h a day): yes" in done.stdout
    assert "offpeak held 1800 ticks, 1800 expected (6 h a day): yes" in done.stdout
