"""An mqtt PV input published at 2 Hz drives rules/solar_surplus.evr against the emulated
OpenEVSE exactly as the http input does: the same claims, at the same ticks.

Both runs use the same virtual day (the daemon's clock moves only when it sleeps, as
`FakeTime` does): between two ticks the meter gives the PV power of that moment, the
MQTT meter as two messages a second of virtual time, the HTTP meter as the value its next
GET reads."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evse_rules.config import load_config
from evse_rules.engine.journal import Journal
from evse_rules.inputs.mqtt import MqttInput
from evse_rules.live import Daemon
from evse_rules.mqtt.link import Message
from evse_rules.testing.emulator import OpenEvseEmulator
from evse_rules.testing.meter import pv_meter
from tests.mosquitto import Mosquitto, Recorder
from tests.openevse_fixtures import claims_posted

REPO = Path(__file__).resolve().parent.parent
START = datetime(2026, 6, 21, 10, 0, tzinfo=UTC)
TICK = 10.0
MINUTES = 36


def pv_at(at: datetime) -> float:
    """W: dark, bright sun, a thin cloud, a passing dip, then dusk."""
    minute = (at - START).total_seconds() / 60
    if minute < 2:
        return 0.0
    if minute < 9:
        return 5200.0
    if minute < 12:
        return 2600.0 + 40 * (minute - 9)
    if minute < 12.5:
        return 900.0
    if minute < 14:
        return 3400.0
    return 0.0


class VirtualSite:
    """A clock that moves when the daemon sleeps; `feed` gives the meter what it reads."""

    def __init__(self, feed: Callable[[datetime, datetime], Awaitable[None]]) -> None:
        self.now = START
        self.feed = feed
        self.daemon: Daemon | None = None

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float, stop: asyncio.Event) -> bool:
        if stop.is_set():
            return True
        target = self.now + timedelta(seconds=max(0.0, seconds))
        await self.feed(self.now, target)
        self.now = target
        await asyncio.sleep(0)
        return stop.is_set()


def _config(folder: Path, emu: OpenEvseEmulator, pv: str, mqtt: str = "") -> Path:
    folder.mkdir()
    shutil.copy(REPO / "rules" / "solar_surplus.evr", folder / "solar_surplus.evr")
    path = folder / "evse-rules.toml"
    path.write_text(f"""
tick = "{TICK:g} s"
rules = ["solar_surplus.evr"]
[http]
enabled = false
{mqtt}
[chargers.garage]
url = "{emu.url}"
mode = "auto"
timeout = "5 s"
[inputs.house]
kind = "constant"
value = "300 W"
[inputs.pv]
{pv}
unit = "W"
stale_after = "1 min"
""")
    return path


async def _run(path: Path, site: VirtualSite) -> list[tuple[str, str, str | None]]:
    config = load_config(path)
    ticks = int(MINUTES * 60 / TICK)
    daemon = Daemon(config, clock=site.clock, sleep=site.sleep, max_ticks=ticks)
    site.daemon = daemon
    await asyncio.wait_for(daemon.run(), timeout=240)
    with Journal(config.journal_path) as journal:
        return [(e.at.isoformat(), e.kind, e.value)
                for e in journal.entries() if e.type == "command"]


async def test_an_mqtt_pv_input_at_2_hz_gives_the_same_claims_as_the_http_input(
    tmp_path: Path,
) -> None:
    # HTTP: the meter's next GET reads the power of the tick's time.
    with OpenEvseEmulator("v5.1.2", default_state=False) as emu, pv_meter() as meter:
        async def http_feed(now: datetime, target: datetime) -> None:
            meter.power = pv_at(target)

        http_commands = await _run(_config(tmp_path / "http", emu, (
            f'kind = "http"\nurl = "{meter.url}"\npath = "site.pv_power"')),
            VirtualSite(http_feed))
        http_claims = [(c["state"], c["charge_current"]) for c in claims_posted(emu.requests)]

    # MQTT: two messages a virtual second; each tick waits until the input has them all.
    with OpenEvseEmulator("v5.1.2", default_state=False) as emu, \
            Mosquitto(tmp_path / "broker") as broker:
        mqtt = f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\ndiscovery = false'
        async with Recorder(broker.port, "test/none") as publisher:
            barrier: dict[str, Any] = {"seen": 0, "event": asyncio.Event(), "hooked": False}
            site: VirtualSite

            def passed(message: Message) -> None:
                barrier["seen"] = int(message.payload)
                barrier["event"].set()

            async def mqtt_feed(now: datetime, target: datetime) -> None:
                steps = max(1, round((target - now).total_seconds() * 2))
                for step in range(1, steps + 1):
                    at = now + (target - now) * step / steps
                    await publisher.publish("meter/pv", f"{pv_at(at):g}", retain=True)
                daemon = site.daemon
                sources = daemon.sources if daemon is not None else None
                pv = sources.inputs["pv"] if sources is not None else None
                if not isinstance(pv, MqttInput) or not pv.link.connected.is_set():
                    return          # not connected yet: it finds the retained value
                if not barrier["hooked"]:
                    barrier["hooked"] = True
                    pv.link.subscribe("test/barrier", passed)
                    await asyncio.sleep(0.1)
                number = barrier["seen"] + 1
                barrier["event"].clear()
                await publisher.publish("test/barrier", str(number))
                while barrier["seen"] < number:
                    await asyncio.wait_for(barrier["event"].wait(), 5)
                    barrier["event"].clear()

            site = VirtualSite(mqtt_feed)
            mqtt_commands = await _run(_config(tmp_path / "mqtt", emu, (
                'kind = "mqtt"\ntopic = "meter/pv"'), mqtt), site)
        mqtt_claims = [(c["state"], c["charge_current"]) for c in claims_posted(emu.requests)]

    assert any(state == "active" for state, _ in http_claims)
    assert any(kind == "stop" for _, kind, _ in http_commands)
    assert len({amps for _, amps in http_claims}) >= 3      # it followed the sun
    assert mqtt_claims == http_claims
    assert mqtt_commands == http_commands
