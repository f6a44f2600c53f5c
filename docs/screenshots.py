"""Retake the README screenshots from a running demo (``./dev demo``, or ``gridapp serve`` on a
seeded instance): the supervisor's dashboard at 1366 px and the worker app's Today screen at
360 px (a phone: touch, 2× pixels, Asia/Shanghai).

    .venv/bin/python docs/screenshots.py [--base http://127.0.0.1:5000] [--out docs]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]
PASSWORD = "demo1234"


def login(page, base: str, username: str, next_url: str) -> None:
    page.goto(f"{base}/login?next={next_url}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"**{next_url}**")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent))
    args = parser.parse_args()
    out = Path(args.out)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        desk = browser.new_context(
            locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1366, "height": 768}
        )
        page = desk.new_page()
        login(page, args.base, "dcsa_sup", "/console/")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(out / "screenshot-dashboard.png"), full_page=True)
        desk.close()
        browser.close()
        # The app needs its service worker: a persistent profile, as on a phone.
        profile = tempfile.mkdtemp(prefix="gridapp-shot-")
        try:
            phone = pw.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                args=ARGS,
                headless=True,
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
                viewport={"width": 360, "height": 740},
                device_scale_factor=1,
                is_mobile=True,
                has_touch=True,
                service_workers="allow",
            )
            page = phone.new_page()
            login(page, args.base, "dcsa_w01", "/app")
            page.goto(f"{args.base}/app#/today")
            page.wait_for_function(
                "() => navigator.serviceWorker.controller !== null", timeout=30000
            )
            page.wait_for_function("() => window.gridapp && window.gridapp.ready", timeout=30000)
            page.evaluate("window.gridapp.ready")
            page.evaluate("window.gridapp.syncNow()")
            page.wait_for_timeout(1000)
            page.screenshot(path=str(out / "screenshot-app-today.png"))
            phone.close()
        finally:
            shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
