"""MQTT under load, against a real Mosquitto started here (Debian's /usr/sbin/mosquitto).

1. Messages per second one engine takes: `--inputs` mqtt inputs (one topic each) on one
   link, while another process publishes to their topics as fast as it can (QoS 0). What
   the inputs parsed and kept, per second, against a bare aiomqtt subscriber on the same
   topics in the same run (the client library and the broker alone: the baseline).
2. Tick time with `--chargers` simulated chargers and `--inputs` inputs, the daemon on a
   fake clock (ticks back to back): 200 constant inputs (the baseline), 200 mqtt inputs
   (values retained on the broker), and 200 mqtt inputs with the MQTT service publishing
   the state (and the Home Assistant discovery) after each tick.

    .venv/bin/python benchmarks/bench_mqtt.py [--inputs 200] [--chargers 50] [--ticks 200]
        [--seconds 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt

from evse_rules.config import MqttConfig, parse_config
from evse_rules.inputs.mqtt import MqttInput
from evse_rules.live import Daemon
from evse_rules.live.face import DaemonFace
from evse_rules.live.schedule import FakeTime
from evse_rules.mqtt.link import Message, MqttLink
from evse_rules.mqtt.service import MqttService


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Broker:
    def __init__(self, folder: Path) -> None:
        binary = "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() \
            else shutil.which("mosquitto")
        if binary is None:
            raise SystemExit("mosquitto is not installed (Debian: apt install mosquitto)")
        self.port = free_port()
        config = folder / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false",
                 "allow_anonymous true", "max_queued_messages 100000"]
        if os.geteuid() == 0:
            lines.append("user root")
        config.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen([binary, "-c", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(500):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.01)
        raise SystemExit("mosquitto did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)


def flood(port: int, topics: int, seconds: float, sent: Any) -> None:
    """Publish to topics bench/0..N-1 as fast as possible (another process)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-flood")
    client.connect("127.0.0.1", port)
    end = time.monotonic() + seconds
    count = 0
    # No network thread: this process writes its own socket between rounds, so the count
    # is what reached the broker (a thread would starve behind the loop, its queue lost).
    while time.monotonic() < end:
        for index in range(topics):
            client.publish(f"bench/{index}", f"{count % 5000}.5")
        while client.want_write():
            client.loop_write()
        count += 1
    client.loop(timeout=0.1)
    sent.value = count * topics
    client.disconnect()


SENT: list[float] = []        # messages per second the publisher reached the broker with


async def flooded(port: int, inputs: int, seconds: float,
                  count: Callable[[], int]) -> tuple[float, float]:
    """Flood the inputs' topics from another process: what `count` took per second of wall
    time, and per second of this process's CPU time (its capacity, whatever else runs)."""
    await asyncio.sleep(0.3)
    before = count()
    cpu = time.process_time()
    sent = multiprocessing.Value("q", 0)
    process = multiprocessing.Process(target=flood, args=(port, inputs, seconds, sent))
    began = time.perf_counter()
    process.start()
    await asyncio.to_thread(process.join)
    await asyncio.sleep(0.5)             # what is still on its way
    SENT.append(sent.value / seconds)
    taken = count() - before
    return (taken / (time.perf_counter() - began),
            taken / max(1e-9, time.process_time() - cpu))


async def evse_rules_rate(port: int, inputs: int, seconds: float) -> tuple[float, float]:
    """Messages per second the mqtt inputs of one engine parse and keep."""
    link = MqttLink(MqttConfig(host="127.0.0.1", port=port), "bench-inputs")
    built = [MqttInput(f"in{i}", f"bench/{i}", link, stale_after=60.0) for i in range(inputs)]
    taken = 0

    def counted(message: Message) -> None:
        nonlocal taken
        taken += 1

    link.subscribe("bench/#", counted)         # counts what reached the inputs' parsers
    link.start()
    await asyncio.wait_for(link.connected.wait(), 10)
    rate = await flooded(port, inputs, seconds, lambda: taken)
    assert all(item.last is not None for item in built), "every input has a value"
    for item in built:
        await item.close()
    return rate


async def bare_rate(port: int, inputs: int, seconds: float) -> tuple[float, float]:
    """The baseline: a bare aiomqtt subscriber to the same topics, counting only."""
    received = 0

    async def subscriber() -> None:
        nonlocal received
        async with aiomqtt.Client("127.0.0.1", port, identifier="bench-bare") as client:
            await client.subscribe("bench/#")
            async for _ in client.messages:
                received += 1

    task = asyncio.create_task(subscriber())
    rate = await flooded(port, inputs, seconds, lambda: received)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return rate


def site_config(folder: Path, chargers: int, inputs: int, kind: str, port: int,
                service: bool, tag: str) -> str:
    rules = folder / f"rules-{tag}.evr"
    rules.write_text("".join(
        f"if c{i}.mode is auto and known(in{i}) and in{i} > 1000 W then start c{i} "
        f"else stop c{i}\n" for i in range(chargers)))
    text = [f'tick = "1 s"\nrules = ["{rules}"]\njournal = "{folder}/j-{tag}.db"',
            f'state = "{folder}/s-{tag}.json"\n[http]\nenabled = false']
    if kind == "mqtt":
        text.append(f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\n'
                    f'base_topic = "bench-{service}"')
    for i in range(chargers):
        text.append(f'[chargers.c{i}]\ndriver = "simulated"\nmode = "auto"\n'
                    'min_on = "0 s"\nmin_off = "0 s"')
    for i in range(inputs):
        if kind == "mqtt":
            text.append(f'[inputs.in{i}]\nkind = "mqtt"\ntopic = "site/{i}"\nunit = "W"\n'
                        'stale_after = "1 h"')
        else:
            text.append(f'[inputs.in{i}]\nkind = "constant"\nvalue = "{1500 + i} W"')
    return "\n".join(text) + "\n"


async def tick_time(folder: Path, chargers: int, inputs: int, kind: str, port: int,
                    ticks: int, service: bool, tag: str) -> tuple[float, float]:
    """Seconds of wall time and of CPU time per tick, the daemon on a fake clock."""
    config = parse_config(site_config(folder, chargers, inputs, kind, port, service, tag),
                          "bench.toml", folder)
    fake = FakeTime(datetime(2026, 6, 21, 12, 0, tzinfo=UTC))
    marks: list[tuple[float, float]] = []

    async def sleep(seconds: float, stop: asyncio.Event) -> bool:
        marks.append((time.perf_counter(), time.process_time()))
        return await fake.sleep(seconds, stop)

    daemon = Daemon(config, clock=fake.clock, sleep=sleep, max_ticks=ticks + 2)
    faces = [MqttService(DaemonFace(daemon), config.mqtt)] if service and config.mqtt else []
    await daemon.run(faces)
    # From the end of the 2nd tick on: the first ticks connect and take the retained values.
    count = len(marks) - 3
    return ((marks[-1][0] - marks[2][0]) / count, (marks[-1][1] - marks[2][1]) / count)


# The fastest of the repeats is what the code costs; the slower ones measured the
# other programs sharing the machine.


async def retain_values(port: int, inputs: int) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-values") as client:
        for i in range(inputs):
            await client.publish(f"site/{i}", str(1500 + i), retain=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=200)
    parser.add_argument("--chargers", type=int, default=50)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        broker = Broker(folder)
        try:
            # Alternated and the best of each kept: the machine's other load comes and goes.
            taken = bare = (0.0, 0.0)
            for _ in range(args.repeat):
                taken = max(taken, await evse_rules_rate(broker.port, args.inputs,
                                                         args.seconds))
                bare = max(bare, await bare_rate(broker.port, args.inputs, args.seconds))
            print(f"publisher (QoS 0, as fast as it can): {max(SENT):,.0f} messages/s; "
                  "what the broker could not hand on in time is dropped")
            print(f"messages per second, {args.inputs} mqtt inputs on one link: "
                  f"{taken[0]:,.0f}; bare aiomqtt subscriber (baseline): {bare[0]:,.0f}; "
                  f"ratio {taken[0] / bare[0]:.2f}x")
            print(f"messages per CPU second (capacity), {args.inputs} mqtt inputs: "
                  f"{taken[1]:,.0f}; bare aiomqtt subscriber (baseline): {bare[1]:,.0f}; "
                  f"ratio {taken[1] / bare[1]:.2f}x")
            await retain_values(broker.port, args.inputs)
            runs = [("constant", False, f"{args.inputs} constant inputs (baseline)"),
                    ("mqtt", False, f"{args.inputs} mqtt inputs"),
                    ("mqtt", True, f"{args.inputs} mqtt inputs + state out and discovery")]
            best = [(float("inf"), float("inf"))] * len(runs)
            for repeat in range(args.repeat):       # alternated, the fastest of each kept
                # Each in turn goes first: the first run of a round pays for warming up.
                order = list(range(len(runs)))[repeat % 3:] + list(range(len(runs)))[:repeat % 3]
                for index in order:
                    kind, service, _ = runs[index]
                    seconds = await tick_time(folder, args.chargers, args.inputs, kind,
                                              broker.port, args.ticks, service,
                                              f"{index}-{repeat}")
                    best[index] = (min(best[index][0], seconds[0]),
                                   min(best[index][1], seconds[1]))
            for (_, _, label), (wall, cpu) in zip(runs, best, strict=True):
                print(f"tick time, {args.chargers} simulated chargers, {label}: "
                      f"{wall * 1000:.2f} ms ({wall / best[0][0]:.2f}x), CPU "
                      f"{cpu * 1000:.2f} ms ({cpu / best[0][1]:.2f}x)")
            load = os.getloadavg()[0]
            print(f"load average during the run: {load:.1f} on {os.cpu_count()} cores")
        finally:
            broker.stop()


if __name__ == "__main__":
    asyncio.run(main())
