"""Memory of the live daemon over many ticks: the resident set must stay flat.

    .venv/bin/python benchmarks/bench_memory.py [--ticks 10000]

Runs the real daemon (`evse_rules.live.Daemon`) with the design-card rules against the
loopback OpenEVSE emulator and a PV meter served over HTTP on 127.0.0.1, on a fast clock
(a 1 s tick that does not wait: each tick still reads the charger and the meter over HTTP,
evaluates the rules, sends the commands and journals the tick in SQLite). The PV value
swings every 50 ticks, so commands are sent all along.

Prints the resident set size (RSS) at the start, at every tenth of the run and at the end,
the growth from the first tenth (after the warm-up: caches, SQLite pages) to the end, and
the ticks per second. Target: the growth stays within a few MB. Beside the RSS, the number
of memory blocks Python has allocated (`sys.getallocatedblocks`): flat means no Python
object accumulates; what moves the RSS then is SQLite's page cache and the allocator (the
emulator and the meter run in this process too, with a thread per connection).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from evse_rules.config import load_config
from evse_rules.live import Daemon, FakeTime
from evse_rules.testing.emulator import OpenEvseEmulator
from evse_rules.testing.meter import pv_meter

RULES = """\
let surplus = pv - house
if mode is auto and pv > 1400W then set amps to surplus/voltage
if mode is auto and pv > 1400W then start
if mode is auto and pv < 1000W then stop
"""


def rss_mb() -> float:
    """The resident set size now, in MB (Linux /proc; elsewhere the peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(ticks: int) -> None:
    with OpenEvseEmulator("v5.1.2") as emu, pv_meter() as meter, \
            tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "solar.evr").write_text(RULES)
        (base / "evse-rules.toml").write_text(f"""
tick = "1 s"
rules = ["solar.evr"]
[chargers.garage]
url = "{emu.url}"
min_on = "0 s"
min_off = "0 s"
mode = "auto"
[inputs.pv]
kind = "http"
url = "{meter.url}"
path = "site.pv_power"
unit = "W"
[inputs.house]
kind = "constant"
value = "300 W"
""")
        config = load_config(base / "evse-rules.toml")
        clock = FakeTime(datetime(2026, 6, 1, 6, 0, tzinfo=UTC))
        daemon = Daemon(config, clock=clock.clock, sleep=clock.sleep, max_ticks=ticks)
        marks: list[tuple[int, float, int]] = []
        step = max(1, ticks // 10)
        emu_requests = 0

        async def watch() -> None:
            nonlocal emu_requests
            seen = -1
            while True:
                count = daemon.ticks
                if count != seen:
                    # The emulator logs every exchange in this process: empty its log, so
                    # that only the daemon's memory is measured.
                    emu_requests += len(emu.exchanges)
                    emu.clear_requests()
                if count != seen and count % step == 0:
                    marks.append((count, rss_mb(), sys.getallocatedblocks()))
                seen = count
                # The sun swings every 50 ticks: start, set the current, stop.
                meter.power = 3000.0 if (count // 50) % 2 else 600.0
                if count >= ticks:
                    return
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch())
        started = time.perf_counter()
        await daemon.run()
        elapsed = time.perf_counter() - started
        await watcher
        emu_requests += len(emu.exchanges)
        journal_size = config.journal_path.stat().st_size / 1e6

    print(f"ticks: {daemon.ticks:,} in {elapsed:.1f} s ({daemon.ticks / elapsed:,.0f} ticks/s), "
          f"{emu_requests:,} requests to the emulator, journal {journal_size:.1f} MB")
    print(f"{'ticks':>8} {'RSS MB':>8} {'Python blocks':>14}")
    for count, rss, blocks in marks:
        print(f"{count:>8,} {rss:>8.1f} {blocks:>14,}")
    first = next((rss for count, rss, _ in marks if count >= step), marks[0][1])
    last = marks[-1][1]
    print(f"RSS at start: {marks[0][1]:.1f} MB; after {marks[-1][0]:,} ticks: {last:.1f} MB")
    print(f"growth after the warm-up (tick {step:,} to {marks[-1][0]:,}): {last - first:+.1f} MB "
          f"(target: within a few MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=10_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args.ticks))


if __name__ == "__main__":
    main()
