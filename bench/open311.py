"""Open311 GeoReport v2 at a community's size: 16 grids × 10 placed buildings, N public matters
(default 20,000) over the last 90 days with their timelines (``--smoke``: tiny).

``python -m bench open311 [--matters N] [--db ...] [--smoke]``

- GET ``requests.xml`` (the spec's page of at most 1,000, newest first) and ``requests.json``
  through the test client, against the bare SQL that reads the same 1,000 matters and their
  timelines in the same run: the ratio is what the endpoint adds (anonymising, names known to
  each record, XML).
- POST ``requests.json`` (key lookup, nearest building, the matter, its timeline and change
  rows, the answer) against calling ``matters.service.report_matter`` directly with the grid
  already known: the ratio is the price of the standard endpoint per request.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from bench.common import backends, bench_app, parser, report, timeit
from bench.dashboard import _bulk

ORIGIN = (30.57, 104.065)


def build(n_matters: int, grids: int = 16, buildings_per: int = 10, seed: int = 7) -> dict:
    from gridapp.db import utcnow
    from gridapp.matters.models import Matter, MatterEvent
    from gridapp.open311 import keys
    from gridapp.open311.models import Open311BuildingPoint, Open311Request
    from gridapp.org.models import Community, Grid, Street
    from gridapp.registry.models import Building

    rng = random.Random(seed)
    now = utcnow()
    street = Street.create(name="高新区", code="bench")
    com = Community.create(street=street, name="东城水岸社区", code="dcsa")
    Community.create(street=street, name="天峰社区", code="tianfeng")
    points = []
    grid_ids = []
    for g in range(grids):
        grid = Grid.create(community=com, name=f"第{g + 1}网格", code=f"dcsa-{g:02d}", sort=g)
        grid_ids.append(grid.id)
        for b in range(buildings_per):
            bld = Building.create(grid=grid, name=f"{g * buildings_per + b + 1}栋")
            lat = ORIGIN[0] + (g // 4) * 0.004 + (b // 5) * 0.0015
            lon = ORIGIN[1] + (g % 4) * 0.008 + (b % 5) * 0.0015
            points.append((bld.id, grid.id, lat, lon))
    _bulk(
        Open311BuildingPoint,
        [{"building": b, "lat": lat, "lon": lon, "source": "admin", "updated_at": now}
         for b, _g, lat, lon in points],
    )  # fmt: skip
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
    matters, events, requests = [], [], []
    states = ["reported", "triaged", "dispatched", "in_progress", "resolved", "closed"]
    for i in range(n_matters):
        b, g, lat, lon = rng.choice(points)
        created = now - dt.timedelta(minutes=rng.uniform(1, 89 * 24 * 60))
        state = rng.choice(states)
        code = "".join(rng.choice(alphabet) for _ in range(8))
        matters.append({
            "id": i + 1, "code": code, "source": rng.choice(["open311", "resident"]),
            "grid": g, "community": com.id, "title": "楼道灯坏了", "text":
            f"{b}栋楼道灯坏了，张师傅电话1381234{i % 10000:04d}，晚上很黑", "photo_ids": "[]",
            "state": state, "urgent": False, "level": 0, "contact_phone": "",
            "result": "已修好" if state in ("resolved", "closed") else "",
            "created_at": created, "updated_at": created, "version": 1,
            "category": None if state == "reported" else "社事",
        })  # fmt: skip
        events.append({
            "matter": i + 1, "at": created, "actor_role": "resident", "action": "report",
            "from_state": "", "to_state": "reported", "note": "", "photo_ids": "[]",
            "data": "{}",
        })  # fmt: skip
        if state != "reported":
            events.append({
                "matter": i + 1, "at": created + dt.timedelta(hours=1), "actor_role": "system",
                "action": "triage", "from_state": "reported", "to_state": state,
                "note": "内部备注", "photo_ids": "[]", "data": '{"category": "社事"}',
            })  # fmt: skip
        if matters[-1]["source"] == "open311":
            requests.append({
                "matter": i + 1, "service_code": "community", "building": b, "lat": lat,
                "lon": lon, "address_string": "", "media_url": "", "contact_name": "张三",
                "contact_email": "", "attributes": "{}", "created_at": created,
            })  # fmt: skip
    _bulk(Matter, matters)
    _bulk(MatterEvent, events)
    _bulk(Open311Request, requests)
    from gridapp.db import db, is_postgres

    if is_postgres():
        db.execute_sql("SELECT setval('matter_id_seq', (SELECT MAX(id) FROM matter))")
        db.execute_sql("ANALYZE")
    issued = keys.issue_key(None, name="bench", community_ids=[com.id])
    return {"key": issued.key, "points": points, "grid_ids": grid_ids}


def _bare_page(community_id: int) -> None:
    """The same page as plain SQL: the newest 1,000 public matters and their timelines."""
    from gridapp.db import db

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    p = "%s" if "Postgres" in type(db.obj).__name__ else "?"
    rows = db.execute_sql(
        f"SELECT m.*, r.* FROM matter m LEFT JOIN open311_request r ON r.matter_id = m.id "
        f"WHERE m.community_id = {p} AND m.source IN ('resident', 'open311') "
        f"AND m.created_at BETWEEN {p} AND {p} ORDER BY m.created_at DESC, m.id DESC LIMIT 1000",
        (community_id, now - dt.timedelta(days=90), now),
    ).fetchall()
    ids = [r[0] for r in rows] or [0]
    marks = ",".join([p] * len(ids))
    db.execute_sql(
        f"SELECT * FROM matter_event WHERE matter_id IN ({marks}) ORDER BY matter_id, at, id", ids
    ).fetchall()


def run(backend: str, n_matters: int, posts: int) -> None:
    from gridapp.matters import service as msvc
    from gridapp.org.models import Community

    overrides = {"OPEN311_ADDRESS_LIMIT": "1000000 per minute",
                 "OPEN311_KEY_LIMIT": "1000000 per minute"}  # fmt: skip
    with bench_app(backend, **overrides) as app:
        t0 = time.perf_counter()
        world = build(n_matters)
        print(f"\n[{backend}] built {n_matters} matters in {time.perf_counter() - t0:.1f}s")
        com = Community.get(Community.code == "dcsa")
        client = app.test_client()
        url = "/open311/v2/requests.{fmt}?jurisdiction_id=dcsa"
        for fmt in ("xml", "json"):
            resp = client.get(url.format(fmt=fmt))
            assert resp.status_code == 200, resp.data[:300]
        xml_t = timeit(lambda: client.get(url.format(fmt="xml")), repeat=5)
        json_t = timeit(lambda: client.get(url.format(fmt="json")), repeat=5)
        bare_t = timeit(lambda: _bare_page(com.id), repeat=5)
        rng = random.Random(3)

        def post_one() -> None:
            _b, _g, lat, lon = rng.choice(world["points"])
            resp = client.post(
                "/open311/v2/requests.json",
                data={"api_key": world["key"], "jurisdiction_id": "dcsa",
                      "service_code": "community", "lat": f"{lat + 0.0001:.6f}",
                      "long": f"{lon:.6f}", "description": "楼道灯坏了，晚上很黑",
                      "phone": "13812345678"},
            )  # fmt: skip
            assert resp.status_code == 200, resp.data[:300]

        def direct_one() -> None:
            msvc.report_matter(None, source="open311", grid_id=rng.choice(world["grid_ids"]),
                               text="楼道灯坏了，晚上很黑", contact_phone="13812345678")  # fmt: skip

        def many(fn):
            return lambda: [fn() for _ in range(posts)]

        post_t = timeit(many(post_one), repeat=3) / posts
        direct_t = timeit(many(direct_one), repeat=3) / posts
        report(
            [
                ("GET requests.xml (1,000 of the page)", xml_t, bare_t),
                ("GET requests.json (1,000 of the page)", json_t, bare_t),
                ("POST requests.json, per request", post_t, direct_t),
            ],
            f"Open311 [{backend}] {n_matters} matters; baselines: bare SQL page / report_matter",
        )


def main(argv: list[str]) -> int:
    p = parser("Open311: the endpoint's cost as ratios to bare SQL and the matters verb")
    p.add_argument("--matters", type=int, default=20_000)
    args = p.parse_args(argv)
    n, posts = (200, 3) if args.smoke else (args.matters, 50)
    for backend in backends(args.db):
        run(backend, n, posts)
    return 0
