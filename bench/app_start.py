"""The worker app's first start on a slow phone: time to the first usable Today screen and to a
finished first sync, in Chromium at 360 px.

    python -m bench app_start [--smoke] [--db sqlite|postgres|both] [--residents N] [--repeat N]

Seeds a city with bench.sync's seeder (the measured grid: 20 buildings, 500 households, 1,500
residents, 100 open tasks and 100 open matters), logs the worker in on a fresh phone profile
(no service worker, empty IndexedDB) and opens ``/app#/today``:

- *first usable Today*: from navigation to the Today screen showing its counts (the app draws it
  after the first pulled page);
- *first sync finished*: to the end of the first sync (every page pulled, ``gridapp.ready``);
- *reopen to Today*: a second open of the installed app (service worker and IndexedDB warm).

Each is measured on a phone throttled with CDP (``Emulation.setCPUThrottlingRate`` 4× and
``Network.emulateNetworkConditions`` at DevTools' "Slow 3G": 2 s round trip, 400 kbit/s each
way) against the same steps unthrottled, in the same browser process (ratios = throttled /
unthrottled). The service worker's own fetches (precaching the shell) are not throttled by CDP:
only the page's requests are. ``--smoke`` uses CPU throttling only, once, to stay quick.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import backends, bench_app, parser, report

SLOW_3G = {
    "offline": False,
    "latency": 2000,  # ms, DevTools' Slow 3G (400 ms × 5)
    "downloadThroughput": 500 * 1000 / 8 * 0.8,  # bytes/s
    "uploadThroughput": 500 * 1000 / 8 * 0.8,
}


def start_once(pw, base: str, password: str, *, cpu: float, network: dict | None) -> dict:
    """One first start on a fresh phone profile; seconds for each milestone."""
    tmp = tempfile.mkdtemp(prefix="gridapp-bench-")
    try:
        ctx = pw.chromium.launch_persistent_context(
            tmp,
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu"],
            headless=True,
            viewport={"width": 360, "height": 740},
            has_touch=True,
            locale="zh-CN",
        )
        page = ctx.new_page()
        page.goto(base + "/login?next=/offline")
        page.fill("#username", "bench_worker")
        page.fill("#password", password)
        page.click("#login-submit")
        page.wait_for_url("**/offline")
        cdp = ctx.new_cdp_session(page)
        if cpu != 1:
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu})
        if network:
            cdp.send("Network.enable")
            cdp.send("Network.emulateNetworkConditions", network)
        t0 = time.perf_counter()
        page.goto(base + "/app#/today", timeout=300_000)
        page.wait_for_selector("#today-counts", timeout=300_000)
        usable = time.perf_counter() - t0
        page.wait_for_function("window.gridapp && window.gridapp.ready", timeout=300_000)
        page.evaluate("window.gridapp.ready")
        synced = time.perf_counter() - t0
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=300_000)
        page.goto(base + "/offline")
        t1 = time.perf_counter()
        page.goto(base + "/app#/today", timeout=300_000)
        page.wait_for_selector("#today-counts", timeout=300_000)
        reopen = time.perf_counter() - t1
        tasks = page.locator("#task-list li").count()
        ctx.close()
        assert tasks > 0, "the Today screen listed no task"
        return {"usable": usable, "synced": synced, "reopen": reopen}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def median_run(pw, base, password, repeat: int, **kw) -> dict:
    runs = [start_once(pw, base, password, **kw) for _ in range(repeat)]
    return {k: sorted(r[k] for r in runs)[len(runs) // 2] for k in runs[0]}


def run(backend: str, residents: int, repeat: int, smoke: bool) -> None:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from bench.sync import PASSWORD, seed

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request buries figures
    with bench_app(backend) as app:
        city = seed(residents)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            with sync_playwright() as pw:
                slow = {"cpu": 4, "network": None if smoke else SLOW_3G}
                fast = median_run(pw, base, PASSWORD, repeat, cpu=1, network=None)
                throttled = median_run(pw, base, PASSWORD, repeat, **slow)
        finally:
            server.shutdown()
        label = "CPU 4x" if smoke else "CPU 4x + slow 3G"
        print(
            f"\n[{backend}] the measured grid (1 of {city['grids']}): 500 households, "
            f"{city['open_items']} open tasks and matters; median of {repeat}"
        )
        report(
            [
                (f"first usable Today screen, {label}", throttled["usable"], fast["usable"]),
                (f"first sync finished, {label}", throttled["synced"], fast["synced"]),
                (f"reopen to Today (warm), {label}", throttled["reopen"], fast["reopen"]),
            ],
            f"app start [{backend}] (baseline: the same steps unthrottled, same browser)",
        )


def in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def main(argv: list[str]) -> int:
    if in_event_loop():
        # Playwright's sync API cannot start inside a running loop (the test suite's own
        # Playwright): measure in a fresh process and print what it printed.
        child = subprocess.run(
            [sys.executable, "-m", "bench", "app_start", *argv],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            timeout=900,
        )
        print(child.stdout, end="")
        print(child.stderr[-2000:] if child.returncode else "", end="", file=sys.stderr)
        return child.returncode
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--residents", type=int, default=None)
    p.add_argument("--repeat", type=int, default=None)
    args = p.parse_args(argv)
    if not os.path.exists("/usr/bin/chromium"):
        print("app_start: no /usr/bin/chromium here; nothing measured (0.00x)")
        return 0
    residents = args.residents or 3000
    repeat = args.repeat or (1 if args.smoke else 3)
    for backend in backends(args.db):
        run(backend, residents, repeat, args.smoke)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
