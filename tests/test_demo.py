"""`evse-rules demo`: the real engine and dashboard on an emulated charger and a replayed day."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

import httpx


def test_the_demo_serves_a_live_dashboard_and_stops_cleanly_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "evse_rules", "demo", "--listen", "127.0.0.1:0",
         "--speed", "600", "--start", "12:00"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("evse-rules demo: the dashboard is at http://127.0.0.1:"), line
        url = line.split(" is at ", 1)[1].split("/ ", 1)[0]
        state: dict[str, Any] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = httpx.get(f"{url}/api/v1/state", timeout=5).json()
            inputs = {i["name"]: i for i in state["inputs"]}
            if state["last_tick"] and inputs["pv"]["value"]:
                break
            time.sleep(0.1)
        inputs = {i["name"]: i for i in state["inputs"]}
        assert inputs["pv"]["value"] > 1000      # noon on the bundled clear day
        assert "T12:" in state["now"] and state["now"].endswith("-05:00")   # the day's zone
        [tile] = state["chargers"]
        assert tile["name"] == "garage" and tile["online"] and tile["mode"] == "auto"
        page = httpx.get(f"{url}/", timeout=5)
        assert page.status_code == 200 and "<html" in page.text.lower()
        # A press on the emulated charger, through the engine.
        answer = httpx.post(f"{url}/api/v1/chargers/garage/stop", timeout=5)
        assert answer.status_code == 200, answer.text
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
