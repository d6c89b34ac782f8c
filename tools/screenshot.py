"""Writes docs/dashboard.png (desktop) and docs/dashboard-phone.png (390 px wide).

The page is served by uvicorn on a free loopback port in front of the demo face
(evse_rules.api.demo: a summer day, one charger waiting for the sun) and photographed by
Debian's Chromium through Playwright.

    .venv/bin/python tools/screenshot.py [--out docs] [--dark]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evse_rules.api import create_app  # noqa: E402
from evse_rules.api.demo import DemoFace  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS, Served  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--dark", action="store_true", help="the dark colour scheme")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"screenshot: {CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    scheme = "dark" if args.dark else "light"
    shots = [("dashboard.png", {"width": 1100, "height": 900}, 1),
             ("dashboard-phone.png", {"width": 390, "height": 844}, 2)]
    with Served(create_app(DemoFace(), password=None)) as served, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for name, viewport, scale in shots:
            context = browser.new_context(viewport=viewport, device_scale_factor=scale,
                                          color_scheme=scheme, locale="en-GB",
                                          timezone_id="UTC")
            page = context.new_page()
            page.goto(served.url + "/")
            page.get_by_test_id("journal").locator("li").first.wait_for()
            page.locator('[data-testid="chart"] svg').wait_for()
            path = args.out / name
            page.screenshot(path=str(path), full_page=True)
            print(f"wrote {path}")
            context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
