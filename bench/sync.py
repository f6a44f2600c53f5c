"""Sync pull cost with a city-sized database, and the app shell's offline load in Chromium.

    python -m bench sync [--smoke] [--db sqlite|postgres|both] [--residents N] [--[no-]browser]

Seeds N residents (default 1,000,000; 3 per household, 500 households and 20 buildings per
grid) with a change-log row for every record, plus 100 open tasks and 100 open matters in the
measured grid when those features are installed. Measures, through the real HTTP endpoint:

- a cold pull of one grid (all pages): server time and gzip bytes, against the bare SQL +
  ``json.dumps`` of the same rows (and its gzip size) in the same run;
- a warm pull with nothing new: the service call against the bare SQL for "changes after my
  cursor in my grid", and the HTTP request against ``GET /healthz`` (the per-request floor:
  connection, session);
- the app shell's offline load in Chromium with the CPU throttled 4× (CDP
  ``Emulation.setCPUThrottlingRate``): reload → today's screen rendered from IndexedDB,
  against the same load unthrottled.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
import threading
import time
from typing import Any

from bench.common import backends, bench_app, parser, report, timeit

HOUSEHOLDS_PER_BUILDING = 25
BUILDINGS_PER_GRID = 20
RESIDENTS_PER_HOUSEHOLD = 3
GRIDS_PER_COMMUNITY = 10
PASSWORD = "bench-pass-1"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def chunks(rows: list, size: int = 2000):
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def seed(residents: int) -> dict[str, Any]:
    """Bulk-insert the city; returns the measured grid and its worker."""
    from gridapp.accounts.service import NewUser, create_user
    from gridapp.changes import Change, ChangeCounter
    from gridapp.db import db, is_postgres, utcnow
    from gridapp.org.models import Community, Grid, Street
    from gridapp.registry.models import Building, CareTag, Household, Resident, ResidentTag
    from gridapp.registry.names import name_keys

    per_grid = HOUSEHOLDS_PER_BUILDING * BUILDINGS_PER_GRID * RESIDENTS_PER_HOUSEHOLD
    n_grids = max(2, residents // per_grid)
    street = Street.create(name="基准街道", code="bench")
    now = utcnow()
    grids = []
    for c in range(0, n_grids, GRIDS_PER_COMMUNITY):
        comm = Community.create(street=street, name=f"社区{c}", code=f"c{c}")
        for g in range(c, min(c + GRIDS_PER_COMMUNITY, n_grids)):
            grids.append(Grid.create(community=comm, name=f"第{g}网格", code=f"g{g}", sort=g))
    target = grids[len(grids) // 2]
    worker = create_user(
        NewUser(
            username="bench_worker",
            password=PASSWORD,
            display_name="基准网格员",
            role="grid_worker",
            grid_ids=(target.id,),
        )
    )
    tag_ids = [t.id for t in CareTag.select(CareTag.id)]
    seq = 0
    bid = hid = rid = 0
    with db.atomic():
        for grid in grids:
            buildings, households, people, tags, changes = [], [], [], [], []
            for _b in range(BUILDINGS_PER_GRID):
                bid += 1
                buildings.append({"id": bid, "grid": grid.id, "name": f"{bid % 40 + 1}号楼"})
                changes.append(("building", bid, grid.id))
                for h in range(HOUSEHOLDS_PER_BUILDING):
                    hid += 1
                    due = now.replace(day=1) if hid % 7 == 0 else None
                    households.append(
                        {
                            "id": hid,
                            "grid": grid.id,
                            "building": bid,
                            "unit": str(h % 4 + 1),
                            "room": f"{h // 4 + 1}0{h % 4 + 1}",
                            "address": f"幸福路{bid}号",
                            "phone": f"138{hid:08d}"[:11],
                            "next_visit_due": due,
                        }
                    )
                    changes.append(("household", hid, grid.id))
                    for r in range(RESIDENTS_PER_HOUSEHOLD):
                        rid += 1
                        name = (
                            SURNAMES[rid % len(SURNAMES)]
                            + GIVEN[rid % len(GIVEN)]
                            + GIVEN[(rid // 7) % len(GIVEN)]
                        )
                        pinyin, initials = name_keys(name)
                        phone = f"139{rid:08d}"[:11]
                        people.append(
                            {
                                "id": rid,
                                "grid": grid.id,
                                "household": hid,
                                "name": name,
                                "name_pinyin": pinyin,
                                "name_initials": initials,
                                "gender": "MF"[rid % 2],
                                "birth_year": 1930 + rid % 90,
                                "phone": phone,
                                "phone_tail": phone[-4:],
                                "relation": "户主" if r == 0 else "家属",
                            }
                        )
                        changes.append(("resident", rid, grid.id))
                        if rid % 10 == 0 and tag_ids:
                            tags.append({"resident": rid, "tag": tag_ids[rid % len(tag_ids)]})
            for model, rows in (
                (Building, buildings),
                (Household, households),
                (Resident, people),
                (ResidentTag, tags),
            ):
                for part in chunks(rows):
                    model.insert_many(part).execute()
            change_rows = []
            for entity, eid, gid in changes:
                seq += 1
                change_rows.append(
                    {"seq": seq, "entity": entity, "entity_id": str(eid), "grid_id": gid, "at": now}
                )
            for part in chunks(change_rows):
                Change.insert_many(part).execute()
        ChangeCounter.delete().execute()
        ChangeCounter.insert(id=1, value=seq).execute()
        if is_postgres():
            for table in ("building", "household", "resident"):
                db.execute_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
    open_items = seed_open_items(worker, target)
    db.execute_sql("ANALYZE")
    return {"grid": target, "worker": worker, "grids": n_grids, "open_items": open_items}


def seed_open_items(worker, grid) -> int:
    """100 open tasks for the worker and 100 open matters in the grid, through the verbs."""
    try:
        from gridapp.matters.service import report_matter
        from gridapp.tasks.service import assign_task
    except ImportError:
        return 0
    from gridapp.accounts.service import NewUser, create_user

    boss = create_user(
        NewUser(
            username="bench_boss",
            password=PASSWORD,
            display_name="基准主任",
            role="supervisor",
            community_id=grid.community_id,
        )
    )
    for i in range(100):
        assign_task(boss, title=f"入户宣传防诈骗 {i}", target="worker", worker_id=worker.id)
        report_matter(worker, source="worker", grid_id=grid.id, text=f"楼道灯坏了 {i}")
    return 200


def cold_pull(client) -> tuple[int, int, str, str]:
    """Follow every page; returns (rows, gzip bytes, cursor, epoch)."""
    rows = size = 0
    cursor = None
    while True:
        q = {"limit": 2000}
        if cursor:
            q["cursor"] = cursor
        resp = client.get("/api/v1/sync", query_string=q, headers={"Accept-Encoding": "gzip"})
        assert resp.status_code == 200, resp.status_code
        raw = resp.get_data()
        size += len(raw)
        body = json.loads(gzip.decompress(raw) if resp.headers.get("Content-Encoding") else raw)
        rows += len(body["rows"])
        cursor, epoch = body["cursor"], body["epoch"]
        if not body["more"]:
            return rows, size, cursor, epoch


def bare_dump(grid_id: int, worker_id: int) -> bytes:
    """The same rows with plain SQL and json.dumps: the floor for a cold pull."""
    from gridapp.db import db

    out = {}
    queries = {
        "building": "SELECT id, grid_id, name, address, version FROM building "
        "WHERE grid_id = %s AND deleted = %s ORDER BY id",
        "household": "SELECT id, grid_id, building_id, unit, room, address, phone, notes, "
        "last_visit_at, next_visit_due, visit_interval_days, version FROM household "
        "WHERE grid_id = %s AND deleted = %s ORDER BY id",
        "resident": "SELECT id, grid_id, household_id, name, name_pinyin, name_initials, gender, "
        "birth_year, phone, phone_tail, id_number, relation, notes, version FROM resident "
        "WHERE grid_id = %s AND deleted = %s ORDER BY id",
    }
    param = "?" if "sqlite" in type(db.obj).__name__.lower() else "%s"
    for name, sql in queries.items():
        out[name] = db.execute_sql(sql.replace("%s", param), (grid_id, False)).fetchall()
    tables = {t for t in db.get_tables()}
    if "task" in tables:
        out["task"] = db.execute_sql(
            f"SELECT * FROM task WHERE assignee_id = {param}", (worker_id,)
        ).fetchall()
    if "matter" in tables:
        out["matter"] = db.execute_sql(
            f"SELECT * FROM matter WHERE grid_id = {param}", (grid_id,)
        ).fetchall()
    return json.dumps(out, default=str, ensure_ascii=False).encode()


def bare_warm(grid_id: int, worker_id: int, cursor: int) -> bytes:
    from gridapp.db import db

    param = "?" if "sqlite" in type(db.obj).__name__.lower() else "%s"
    rows = db.execute_sql(
        f"SELECT seq, entity, entity_id FROM change WHERE seq > {param} AND "
        f"(grid_id = {param} OR user_id = {param}) ORDER BY seq LIMIT 1000",
        (cursor, grid_id, worker_id),
    ).fetchall()
    return json.dumps(rows).encode()


def login(app):
    client = app.test_client()
    token = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
    resp = client.post(
        "/api/v1/auth/login",
        json={"username": "bench_worker", "password": PASSWORD},
        headers={"X-CSRFToken": token},
    )
    assert resp.status_code == 200, resp.get_json()
    return client


def browser_load(app, smoke: bool) -> tuple[float, float] | None:
    """Median ms of an offline reload of the app (to today's screen) and of the offline page."""
    if not os.path.exists("/usr/bin/chromium"):
        return None
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    tmp = tempfile.mkdtemp(prefix="gridapp-bench-")
    try:
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                tmp,
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu"],
                headless=True,
                viewport={"width": 360, "height": 740},
            )
            page = ctx.new_page()
            page.goto(base + "/login?next=/app")
            page.fill("#username", "bench_worker")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_url("**/app**")
            page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30000)
            page.wait_for_function("window.gridapp && window.gridapp.ready", timeout=30000)
            page.evaluate("window.gridapp.ready")
            ctx.set_offline(True)
            cdp = ctx.new_cdp_session(page)

            def load() -> float:
                page.goto(base + "/offline")  # leave, then open the app from the home screen
                t0 = time.perf_counter()
                page.goto(base + "/app#/today")
                page.wait_for_selector("#due-visits, .card h2", timeout=60000)
                return time.perf_counter() - t0

            def median(fn, repeat: int) -> float:
                fn()
                return sorted(fn() for _ in range(repeat))[repeat // 2]

            repeat = 1 if smoke else 5
            base_s = median(load, repeat)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
            app_s = median(load, repeat)
            ctx.close()
            return app_s, base_s
    finally:
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def run(backend: str, residents: int, smoke: bool, browser: bool) -> None:
    from gridapp.scope import scope_for
    from gridapp.sync import service

    t0 = time.perf_counter()
    with bench_app(backend) as app:
        city = seed(residents)
        seeded = time.perf_counter() - t0
        grid, worker = city["grid"], city["worker"]
        client = login(app)
        rows, gz, cursor, epoch = cold_pull(client)
        repeat = 1 if smoke else 3
        cold_s = timeit(lambda: cold_pull(client), repeat)
        dump = bare_dump(grid.id, worker.id)
        bare_s = timeit(lambda: gzip.compress(bare_dump(grid.id, worker.id), 5), repeat)
        warm_q = {"cursor": cursor, "epoch": epoch}
        warm = client.get("/api/v1/sync", query_string=warm_q).get_json()
        assert warm["rows"] == [] and not warm["more"], warm
        n = 5 if smoke else 50
        warm_s = timeit(lambda: client.get("/api/v1/sync", query_string=warm_q), n)
        floor_s = timeit(lambda: client.get("/healthz"), n)
        bare_warm_s = timeit(lambda: bare_warm(grid.id, worker.id, int(cursor.split(".")[0])), n)
        scope = scope_for(worker)
        service_s = timeit(lambda: service.pull(worker, scope, cursor, 1000, epoch), n)
        print(
            f"\n[{backend}] {residents:,} residents in {city['grids']} grids "
            f"(seeded in {seeded:.0f}s); one grid: {rows} rows incl. {city['open_items']} open "
            f"items; cold pull gzip {gz / 1024:.0f} KiB vs bare dump gzip "
            f"{len(gzip.compress(dump, 5)) / 1024:.0f} KiB (raw {len(dump) / 1024:.0f} KiB)"
        )
        measures = [
            ("cold pull of one grid (all pages, HTTP)", cold_s, bare_s),
            ("warm pull, nothing new (service call)", service_s, bare_warm_s),
            ("warm pull, nothing new (HTTP; vs GET /healthz)", warm_s, floor_s),
        ]
        if browser:
            loaded = browser_load(app, smoke)
            if loaded:
                measures.append(("app offline load to today's screen, CPU 4x (vs 1x)", *loaded))
        report(measures, f"sync pull [{backend}] (baseline: bare SQL + JSON dump, same rows)")


def main(argv: list[str]) -> int:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--residents", type=int, default=None)
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--browser", action="store_true", help="also run Chromium with --smoke")
    args = p.parse_args(argv)
    residents = args.residents or (3000 if args.smoke else 1_000_000)
    # Chromium takes ~8 s to start and fill its cache: the smoke run (kept under ~10 s) skips it.
    browser = args.browser or not (args.no_browser or args.smoke)
    for backend in backends(args.db):
        run(backend, residents, args.smoke, browser)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
