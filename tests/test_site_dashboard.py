"""The site limit on the dashboard and in the API: `evse-rules run` (a subprocess), two
emulated OpenEVSEs, a house meter over HTTP, the page in Debian's Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from evse_rules.testing.emulator import OpenEvseEmulator
from evse_rules.testing.meter import pv_meter
from tests.test_dashboard_against_run import PASSWORD, Run

RULES = """charger garage, carport
start garage, set amps of garage to 32 A
start carport, set amps of carport to 32 A
"""


def test_the_page_and_the_api_show_the_supply_and_who_it_paused(
        tmp_path: Path, browser: Any) -> None:
    from playwright.sync_api import expect

    with OpenEvseEmulator("v5.1.2") as garage, OpenEvseEmulator("v5.1.2") as carport, \
            pv_meter() as meter:
        meter.power = 3500.0                 # 15.2 A of house: 9.8 A left, one minimum fits
        (tmp_path / "full.evr").write_text(RULES)
        config = tmp_path / "evse-rules.toml"
        config.write_text(f"""
tick = "1 s"
rules = ["full.evr"]
[http]
listen = "127.0.0.1:0"
password_env = "EVSE_DASH_PASSWORD"
[site]
max_amps = 25
house = "house"
[chargers.garage]
url = "{garage.url}"
priority = 1
timeout = "500 ms"
[chargers.carport]
url = "{carport.url}"
timeout = "500 ms"
[inputs.house]
kind = "http"
url = "{meter.url}"
path = "site.meters.0.power"
unit = "W"
timeout = "300 ms"
""")
        run = Run(config)
        try:
            context = browser.new_context(http_credentials={"username": "me",
                                                            "password": PASSWORD})
            page = context.new_page()
            page.goto(run.url + "/")
            line = page.get_by_test_id("site")
            expect(line).to_have_text(
                "Supply 25 A · house 3.5 kW · 9.8 A left for the chargers · "
                "paused by the supply: carport", timeout=15000)
            expect(line).to_have_class(re.compile("tight"))
            # The rule files by name in the foot; where they are, in its tooltip.
            foot = page.get_by_test_id("foot")
            expect(foot).to_contain_text(re.compile(r"rules: full\.evr$"))
            expect(foot).to_have_attribute("title", str(tmp_path / "full.evr"))
            expect(line).to_have_attribute("title", re.compile(r"^site limit 25 A: house 3500 W"))
            # The house falls: the line follows at the next push, nothing paused any more
            # once the carport's minimum fits (it starts again after min_off).
            meter.power = 400.0
            expect(line).to_contain_text("house 400 W · 23.3 A left for the chargers",
                                         timeout=15000)
            # `evse-rules status` says it too, above the tiles.
            shown = subprocess.run(
                [sys.executable, "-m", "evse_rules", "status", "--config", str(config)],
                capture_output=True, text=True, timeout=30,
                env=dict(os.environ, EVSE_DASH_PASSWORD=PASSWORD))
            assert shown.returncode == 0, shown.stderr
            assert shown.stdout.startswith("supply: site limit 25 A: house 400 W (1.7 A)")
            state = httpx.get(run.url + "/api/v1/state", auth=("me", PASSWORD)).json()
            assert state["site"]["max_amps"] == 25
            assert state["site"]["house_w"] == 400
            assert state["site"]["fallback"] is False
            context.close()
        finally:
            run.stop()
