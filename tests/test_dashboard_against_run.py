"""The dashboard against `evse-rules run` itself (a subprocess) and the emulated OpenEVSE:
each press on the page reaches the charger as a claim, and the page shows what followed.

(Named to run before tests/test_dashboard_browser.py: after that file's pages, whose
servers are gone, this file's first page load was seen to hang Debian's Chromium.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evse_rules.testing.emulator import OpenEvseEmulator
from evse_rules.testing.meter import PvMeter, pv_meter
from tests.openevse_fixtures import claims_posted

PASSWORD = "dash-live-pw-7"
RULES = """\
let surplus = pv - house
if mode is auto and pv > 1400W then set amps to surplus/voltage
if mode is auto and pv > 1400W then start
if mode is auto and pv < 1000W then stop
var house_limit: A = 16 A
if amps > house_limit then set amps to house_limit
var boost: boolean = false
"""


class Run:
    """`python -m evse_rules run` on a config, its dashboard's URL read from its log."""

    def __init__(self, config: Path) -> None:
        env = dict(os.environ, EVSE_DASH_PASSWORD=PASSWORD)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evse_rules", "run", "--config", str(config)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 30
        self.url = ""
        while not self.url:
            found = [m for line in self.lines
                     if (m := re.search(r"dashboard and API on (http://\S+)", line))]
            if found:
                self.url = found[0][1]
            elif self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("evse-rules run did not serve:\n" + "".join(self.lines))
            time.sleep(0.05)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[OpenEvseEmulator, PvMeter, Run]]:
    with OpenEvseEmulator("v5.1.2") as emu, pv_meter() as meter:
        (tmp_path / "solar.evr").write_text(RULES)
        config = tmp_path / "evse-rules.toml"
        config.write_text(f"""
tick = "1 s"
rules = ["solar.evr"]
[http]
listen = "127.0.0.1:0"
password_env = "EVSE_DASH_PASSWORD"
[chargers.garage]
url = "{emu.url}"
min_amps = 6
max_amps = 16
min_on = "0 s"
min_off = "0 s"
mode = "auto"
timeout = "500 ms"
[inputs.pv]
kind = "http"
url = "{meter.url}"
path = "site.meters.0.power"
unit = "W"
timeout = "300 ms"
[inputs.house]
kind = "constant"
value = "0 W"
""")
        run = Run(config)
        try:
            yield emu, meter, run
        finally:
            run.stop()
        assert PASSWORD not in "".join(run.lines)


def _claims_since(emu: OpenEvseEmulator, start: int) -> list[dict[str, Any]]:
    return claims_posted(emu.requests[start:])


def _wait_claim(emu: OpenEvseEmulator, start: int, **expected: Any) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for claim in _claims_since(emu, start):
            if all(claim.get(k) == v for k, v in expected.items()):
                return
        time.sleep(0.05)
    raise AssertionError(f"no claim with {expected}: {_claims_since(emu, start)}")


def test_presses_on_the_page_reach_the_charger(
        setup: tuple[OpenEvseEmulator, PvMeter, Run], browser: Any) -> None:
    from playwright.sync_api import expect

    emu, meter, run = setup
    context = browser.new_context(http_credentials={"username": "me",
                                                    "password": PASSWORD})
    page = context.new_page()
    page.goto(run.url + "/")
    tile = page.get_by_test_id("tile-garage")
    # PV 0 W in auto: the rules stopped it; the page says so in words.
    expect(tile.get_by_test_id("auto")).to_have_attribute("aria-pressed", "true")
    # Once the engine has read the charger (a press before that is refused: not read yet).
    expect(tile.get_by_test_id("state")).not_to_have_text(
        re.compile("^(Charging|Not read|Offline)"))
    expect(page.get_by_test_id("conn")).to_have_text("live")

    mark = len(emu.requests)
    tile.get_by_test_id("on").click()
    _wait_claim(emu, mark, state="active")
    expect(tile.get_by_test_id("manual")).to_have_attribute("aria-pressed", "true")
    expect(tile.get_by_test_id("msg-buttons")).not_to_have_class(re.compile("bad"))

    mark = len(emu.requests)
    tile.get_by_test_id("off").click()
    _wait_claim(emu, mark, state="disabled")
    expect(tile.get_by_test_id("state")).not_to_have_text(re.compile("^Charging"))

    mark = len(emu.requests)
    tile.get_by_test_id("amps-slider").fill("10")
    _wait_claim(emu, mark, charge_current=10)
    expect(tile.get_by_test_id("m-setpoint")).to_have_text("10 A")

    # A limit below the current: the rule that needs no mode lowers it in manual too.
    mark = len(emu.requests)
    tile.get_by_test_id("var-house_limit").fill("8")
    tile.get_by_test_id("set-house_limit").click()
    expect(tile.get_by_test_id("msg-var-house_limit")).not_to_have_class(re.compile("bad"))
    _wait_claim(emu, mark, charge_current=8)
    tile.get_by_test_id("var-boost").check()
    expect(tile.get_by_test_id("msg-var-boost")).not_to_have_class(re.compile("bad"))

    # Auto with the sun out: the rules take over and start it at the limit.
    meter.power = 3000.0
    mark = len(emu.requests)
    tile.get_by_test_id("auto").click()
    expect(tile.get_by_test_id("auto")).to_have_attribute("aria-pressed", "true")
    _wait_claim(emu, mark, state="active")
    tile.get_by_test_id("manual").click()
    expect(tile.get_by_test_id("manual")).to_have_attribute("aria-pressed", "true")
    # The presses are in the journal with their source.
    expect(tile.get_by_test_id("journal")).to_contain_text("dashboard")
    context.close()


def test_a_phone_shows_the_engines_tile_without_sideways_scrolling(
        setup: tuple[OpenEvseEmulator, PvMeter, Run], browser: Any) -> None:
    from playwright.sync_api import expect

    _, _, run = setup
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True,
        has_touch=True, http_credentials={"username": "me", "password": PASSWORD})
    page = context.new_page()
    page.goto(run.url + "/")
    tile = page.get_by_test_id("tile-garage")
    expect(tile.get_by_test_id("journal").locator("li").first).to_be_visible()
    expect(page.get_by_test_id("foot")).to_contain_text("solar.evr")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for testid in ["state", "why", "on", "off", "manual", "auto", "release", "amps-slider",
                   "var-house_limit", "set-house_limit", "var-boost", "chart", "journal"]:
        control = tile.get_by_test_id(testid)
        control.scroll_into_view_if_needed()
        assert control.is_visible(), testid
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (testid, box)
    context.close()
