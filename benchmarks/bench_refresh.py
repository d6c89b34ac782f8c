"""One refresh round over 20 emulated chargers of which 3 never answer.

Polled concurrently (as the engine does), a round costs about one timeout, not three: a dead
charger stalls only itself. The sequential round is printed for comparison, and both as ratios
to one timeout measured in the same run (a lone refresh of a charger that never answers).

    .venv/bin/python benchmarks/bench_refresh.py [--timeout 1.0] [--chargers 20] [--dead 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from contextlib import ExitStack

from evse_rules.chargers import ChargerStatus, OpenEvseCharger
from evse_rules.testing.emulator import OpenEvseEmulator


async def timed_round(chargers: list[OpenEvseCharger], concurrent: bool) -> tuple[float, int]:
    began = time.perf_counter()
    if concurrent:
        statuses: list[ChargerStatus] = list(await asyncio.gather(*(c.refresh() for c in chargers)))
    else:
        statuses = [await c.refresh() for c in chargers]
    return time.perf_counter() - began, sum(1 for s in statuses if not s.online)


async def bench(total: int, dead: int, timeout: float) -> None:
    versions = ("4.0.1", "4.1.2", "4.1.6", "v5.1.2", "master_abc123")
    with ExitStack() as stack:
        emulators = [stack.enter_context(OpenEvseEmulator(versions[i % len(versions)]))
                     for i in range(total)]
        for emulator in emulators[:dead]:
            emulator.set_fault("timeout")  # accepts the connection, never answers
        chargers = [OpenEvseCharger(f"evse{i}", e.url, timeout=timeout)
                    for i, e in enumerate(emulators)]
        await timed_round(chargers[dead:], concurrent=True)  # warm up: /config read, sockets open

        one_timeout, _ = await timed_round(chargers[:1], concurrent=True)
        healthy, _ = await timed_round(chargers[dead:], concurrent=True)
        concurrent, offline_c = await timed_round(chargers, concurrent=True)
        sequential, offline_s = await timed_round(chargers, concurrent=False)
        for charger in chargers:
            await charger.close()

    print(f"refresh round over {total} emulated chargers, {dead} never answer, "
          f"timeout {timeout:g} s")
    print(f"  baseline: one timeout (lone dead charger)   {one_timeout:7.3f} s")
    print(f"  {total - dead} healthy chargers, concurrent          {healthy:7.3f} s")
    print(f"  all {total}, concurrent                       {concurrent:7.3f} s  "
          f"= {concurrent / one_timeout:4.2f} x one timeout  ({offline_c} offline)")
    print(f"  all {total}, sequential (for comparison)      {sequential:7.3f} s  "
          f"= {sequential / one_timeout:4.2f} x one timeout  ({offline_s} offline)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--chargers", type=int, default=20)
    parser.add_argument("--dead", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("evse_rules").setLevel(logging.ERROR)  # the dead chargers' offline lines
    asyncio.run(bench(args.chargers, args.dead, args.timeout))


if __name__ == "__main__":
    main()
