"""Writes docs/dashboard.png (desktop) and docs/dashboard-phone.png (390 px wide).

By default the dashboard is that of `evse-rules demo`: the real daemon on the emulated
OpenEVSE with the bundled clear day replayed fast (07:00 to noon in about a minute,
so that the chart has a morning of data). `--face` photographs the in-memory demo face
instead (evse_rules.api.demo: no daemon, instant). Debian's Chromium takes the pictures.

    .venv/bin/python tools/screenshot.py [--face] [--dark] [--out docs] [--seconds 60]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM, CHROMIUM_ARGS, Served  # noqa: E402


@contextmanager
def demo_daemon(seconds: float) -> Iterator[str]:
    """`evse-rules demo` from 07:00 at 300x; its URL once `seconds` of the day have run."""
    process = subprocess.Popen(
        [sys.executable, "-m", "evse_rules", "demo", "--listen", "127.0.0.1:0",
         "--start", "07:00", "--speed", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        url = None
        while url is None:
            found = [m[1] for line in lines
                     if (m := re.search(r"dashboard is at (http://\S+?)/? ", line))]
            if found:
                url = found[0]
            elif process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("screenshot: evse-rules demo did not start:\n" + "".join(lines))
            time.sleep(0.1)
        print(f"screenshot: {url}, letting the day run {seconds:g} s", flush=True)
        time.sleep(seconds)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def demo_face() -> Iterator[str]:
    from evse_rules.api import create_app
    from evse_rules.api.demo import DemoFace

    with Served(create_app(DemoFace(), password=None)) as served:
        yield served.url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--dark", action="store_true", help="the dark colour scheme")
    parser.add_argument("--face", action="store_true", help="the in-memory demo face")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="how long the demo runs before the pictures (default 60)")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"screenshot: {CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    scheme = "dark" if args.dark else "light"
    shots = [("dashboard.png", {"width": 1100, "height": 900}, 1),
             ("dashboard-phone.png", {"width": 390, "height": 844}, 2)]
    source = demo_face() if args.face else demo_daemon(args.seconds)
    with source as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for name, viewport, scale in shots:
            context = browser.new_context(viewport=viewport, device_scale_factor=scale,
                                          color_scheme=scheme, locale="en-GB")
            page = context.new_page()
            page.goto(url + "/")
            page.get_by_test_id("journal").locator("li").first.wait_for()
            page.locator('[data-testid="chart"] svg').wait_for()
            page.wait_for_timeout(500)
            path = args.out / name
            page.screenshot(path=str(path), full_page=True)
            print(f"wrote {path}")
            context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
