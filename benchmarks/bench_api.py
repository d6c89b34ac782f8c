"""The API and the dashboard's push under load: 20 emulated chargers on a 1 s tick.

`evse-rules run`'s daemon, its API (uvicorn) and 20 OpenEVSE emulators on loopback, in one
process; a client thread measures, with wall-clock times:

- `GET /api/v1/state` latency (p50, p99), against `GET /favicon.svg` from the same server
  (a static file: the cost of the server itself), as a ratio;
- a hand command (`POST .../amps`), from the request until the API answers: the engine has
  sent the claim and the emulator has answered by then, so this bounds the time from a
  press to the charger receiving it; against a direct POST of the same claim to an
  emulator (the charger's own cost), as a ratio;
- the push delay: from a tick's scheduled time until its state arrives on
  `/api/v1/stream` (the tick reads 20 chargers first).

    .venv/bin/python benchmarks/bench_api.py [--chargers 20] [--seconds 10] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import httpx

from evse_rules.cli.live import services
from evse_rules.config import parse_config
from evse_rules.live import Daemon
from evse_rules.testing.emulator import OpenEvseEmulator

RULES = """\
var boost: boolean = false
if c0.mode is auto and boost then start c0
"""


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def timed(call: object, count: int) -> list[float]:
    assert callable(call)
    times = []
    for _ in range(count):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return times


def client_side(url: str, emulator: str, chargers: int, requests: int, seconds: float,
                results: dict[str, object]) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        client.get("/api/v1/state").raise_for_status()
        results["state"] = timed(lambda: client.get("/api/v1/state").raise_for_status(),
                                 requests)
        results["static"] = timed(lambda: client.get("/favicon.svg").raise_for_status(),
                                  requests)
        amps = iter(range(10**9))

        def press() -> None:
            name = f"c{next(amps) % chargers}"
            value = 6 + next(amps) % 10
            client.post(f"/api/v1/chargers/{name}/amps", json={"amps": value}
                        ).raise_for_status()

        results["command"] = timed(press, max(20, requests // 5))
    with httpx.Client(base_url=emulator, timeout=10) as direct:
        body = {"state": "active", "charge_current": 10, "auto_release": False}
        results["direct"] = timed(
            lambda: direct.post("/claims/1163264001", json=body).raise_for_status(),
            max(20, requests // 5))
    delays: list[float] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=None) as stream, \
            stream.stream("GET", "/api/v1/stream") as reply:
        event = None
        for line in reply.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "state":
                state = json.loads(line[5:])
                if state.get("last_tick"):
                    tick = datetime.fromisoformat(state["last_tick"]).timestamp()
                    delays.append(time.time() - tick)
            if time.monotonic() > deadline:
                break
    results["push"] = delays[1:]       # the first is the state at connect, not a push


async def run(chargers: int, seconds: float, requests: int) -> dict[str, object]:
    results: dict[str, object] = {}
    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        emulators = [stack.enter_context(OpenEvseEmulator("v5.1.2")) for _ in range(chargers)]
        (Path(folder) / "bench.evr").write_text(RULES)
        tables = "\n".join(f"""
[chargers.c{i}]
url = "{e.url}"
mode = "manual"
timeout = "500 ms"
min_on = "0 s"
min_off = "0 s"
""" for i, e in enumerate(emulators))
        config = parse_config(f"""
tick = "1 s"
rules = ["bench.evr"]
[http]
listen = "127.0.0.1:0"
{tables}
""", "<bench>", Path(folder))
        daemon = Daemon(config)
        faces = services(config, daemon)
        runner = asyncio.create_task(daemon.run(faces))
        while daemon.ticks < 2:
            await asyncio.sleep(0.05)
        url = faces[0].url   # type: ignore[attr-defined]
        thread = threading.Thread(target=client_side, args=(
            url, emulators[0].url, chargers, requests, seconds, results))
        thread.start()
        while thread.is_alive():
            await asyncio.sleep(0.05)
        results["ticks"] = daemon.ticks
        daemon.stop()
        await runner
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--chargers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to watch pushes")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    results = asyncio.run(run(args.chargers, args.seconds, args.requests))

    def line(label: str, key: str, baseline: str | None = None) -> None:
        samples = results[key]
        assert isinstance(samples, list) and samples, f"no samples for {key}"
        p50, p99 = percentiles(samples)
        text = f"{label:<44} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   ({len(samples)} samples)"
        if baseline is not None:
            base = results[baseline]
            assert isinstance(base, list)
            text += f"   ratio to baseline p50 {p50 / percentiles(base)[0]:.1f}x"
        print(text)

    print(f"{args.chargers} emulated chargers, tick 1 s, {results['ticks']} ticks")
    line("baseline: GET /favicon.svg (static)", "static")
    line("GET /api/v1/state", "state", "static")
    line("baseline: POST a claim to an emulator", "direct")
    line("hand command -> charger (POST .../amps)", "command", "direct")
    line("push delay after a tick (/api/v1/stream)", "push")


if __name__ == "__main__":
    main()
