"""The street dashboard at street size: 10 communities × 16 grids, 100,000 matters, 1,000,000
visits (``--smoke``: a tiny street).

``python -m bench dashboard [--matters N] [--visits N] [--db ...] [--smoke]``

Times the whole dashboard page (HTTP through the test client, as a street supervisor: every
aggregate, the SVG charts, the template) against the bare aggregate SQL it needs, run as plain
SQL strings in the same run; and the community dashboard likewise. The ratio says what the
app adds on top of the database's own work.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid

from bench.common import backends, bench_app, parser, report, timeit

CATEGORIES = ("个事", "社事", "专事", "难事")
STATES = ("reported", "triaged", "dispatched", "in_progress", "resolved", "verified", "closed")
RATINGS = ("满意", "满意", "满意", "基本满意", "不满意")


def _bulk(model, rows: list[dict]) -> None:
    """Fast inserts: COPY on PostgreSQL, executemany on SQLite."""
    from gridapp.db import db, is_postgres

    if not rows:
        return
    fields = [f for f in model._meta.sorted_fields if f.name in rows[0]]
    cols = [f.column_name for f in fields]
    table = model._meta.table_name
    with db.atomic():
        if is_postgres():
            with (
                db.cursor() as cur,
                cur.copy(f'COPY "{table}" ({", ".join(cols)}) FROM STDIN') as copy,
            ):
                for r in rows:
                    copy.write_row([r[f.name] for f in fields])
        else:
            data = [
                [str(v) if isinstance(v, dt.datetime) else v for v in (r[f.name] for f in fields)]
                for r in rows
            ]
            marks = ", ".join("?" for _ in cols)
            db.cursor().executemany(
                f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({marks})', data
            )


def build_street(communities: int, grids_per: int, n_matters: int, n_visits: int, seed: int = 11):
    from gridapp.accounts.service import NewUser, create_user  # noqa: I001  (sorted as after the merge)
    from gridapp.db import db, utcnow
    from gridapp.matters.models import Matter
    from gridapp.org.models import Community, Grid, Street, User, UserGrid
    from gridapp.registry.models import Building, Household
    from gridapp.tasks.models import Task
    from gridapp.visits.models import ServiceItem, Visit

    rng = random.Random(seed)
    now = utcnow()
    day = dt.timedelta(days=1)
    t0 = time.perf_counter()
    street = Street.create(name="高新区", code="bench")
    grids: list[Grid] = []
    for c in range(communities):
        com = Community.create(street=street, name=f"社区{c + 1:02d}", code=f"bc{c}")
        for g in range(grids_per):
            grids.append(
                Grid.create(community=com, name=f"第{g + 1}网格", code=f"bc{c}g{g}", sort=g)
            )
    grid_ids = [g.id for g in grids]
    community_of = {g.id: g.community_id for g in grids}
    workers = {}
    for g in grids:
        u = User.create(
            username=f"w{g.id}", password_hash="x", display_name=f"网格员{g.id}", role="grid_worker",
            last_sync_at=now - dt.timedelta(hours=rng.randint(0, 96)),
        )  # fmt: skip
        UserGrid.create(user=u, grid=g)
        workers[g.id] = u.id
    sup = create_user(
        NewUser(username="street_sup", password="bench-pass-1", display_name="街道", role="supervisor", street_id=street.id)
    )  # fmt: skip
    create_user(
        NewUser(username="com_sup", password="bench-pass-1", display_name="社区", role="supervisor", community_id=grids[0].community_id)
    )  # fmt: skip
    # households: 200 per grid (coverage), one building each
    per_grid_households = 200 if n_visits >= 100_000 else 10
    houses: dict[int, list[int]] = {}
    for g in grid_ids:
        b = Building.create(grid=g, name="1栋")
        rows = []
        for h in range(per_grid_households):
            last = now - rng.uniform(0, 300) * day
            interval = rng.choice((7, 30, 180, 180, 180))
            rows.append(
                {"version": 1, "updated_at": now, "grid": g, "building": b.id, "unit": "1",
                 "room": str(101 + h), "address": "", "phone": "", "notes": "",
                 "last_visit_at": last, "visit_interval_days": interval,
                 "next_visit_due": last + interval * day, "deleted": False, "created_at": now}
            )  # fmt: skip
        _bulk(Household, rows)
        houses[g] = [
            h for (h,) in Household.select(Household.id).where(Household.grid == g).tuples()
        ]
    codes = [c for (c,) in ServiceItem.select(ServiceItem.code).tuples()] or ["bp"]
    batch: list[dict] = []
    for _i in range(n_visits):
        g = rng.choice(grid_ids)
        batch.append(
            {"id": str(uuid.UUID(int=rng.getrandbits(128))), "worker": workers[g],
             "household": rng.choice(houses[g]), "grid": g,
             "visited_at": now - rng.uniform(0, 365) * day, "mode": "home",
             "notes": "", "resident_ids": "[]",
             "services": json.dumps(rng.sample(codes, k=rng.choice((0, 1, 1, 2)))), "created_at": now}
        )  # fmt: skip
        if len(batch) >= 50_000:
            _bulk(Visit, batch)
            batch.clear()
    _bulk(Visit, batch)
    batch.clear()
    for i in range(n_matters):
        g = rng.choice(grid_ids)
        state = rng.choice(STATES)
        cat = None if state == "reported" else rng.choice(CATEGORIES)
        created = now - rng.uniform(0, 365) * day
        deadline = (
            created + rng.randint(3, 21) * day if state not in ("reported", "triaged") else None
        )
        batch.append(
            {"version": 1, "updated_at": now, "code": f"B{i:09d}", "source": "worker",
             "contact_phone": "", "grid": g, "community": community_of[g], "title": "事项",
             "text": "事项描述", "photo_ids": "[]", "state": state, "category": cat,
             "urgent": False, "level": 0, "result": "",
             "rating": rng.choice(RATINGS) if state == "closed" and rng.random() < 0.7 else None,
             "deadline_start": created if deadline else None, "deadline_at": deadline,
             "warn_at": deadline - 2 * day if deadline and state in ("dispatched", "in_progress") else None,
             "created_at": created,
             "closed_at": created + rng.uniform(1, 20) * day if state == "closed" else None}
        )  # fmt: skip
        if len(batch) >= 20_000:
            _bulk(Matter, batch)
            batch.clear()
    _bulk(Matter, batch)
    tasks = []
    for _i in range(max(50, n_matters // 10)):
        g = rng.choice(grid_ids)
        due = now + rng.uniform(-30, 30) * day
        done = rng.random() < 0.6
        tasks.append(
            {"version": 1, "updated_at": now, "title": "走访", "description": "", "priority": 0,
             "due_at": due, "state": "verified" if done else "assigned", "assignee": workers[g],
             "grid": g, "result_note": "", "photo_ids": "[]", "return_reason": "",
             "created_at": now - 40 * day, "done_at": due + rng.uniform(-3, 1) * day if done else None}
        )  # fmt: skip
    _bulk(Task, tasks)
    db.execute_sql("ANALYZE")  # fresh statistics, as a live database would have
    print(
        f"  built {len(grid_ids)} grids, {n_matters:,} matters, {n_visits:,} visits, "
        f"{len(tasks):,} tasks in {time.perf_counter() - t0:.1f}s"
    )
    return {
        "street": street,
        "grids": grid_ids,
        "community_grids": [g.id for g in grids if g.community_id == grids[0].community_id],
        "sup": sup,
    }


def bare_sql(grid_ids: list[int], now: dt.datetime, since: dt.datetime) -> None:
    """The dashboard's aggregates as plain SQL strings (the baseline)."""
    from gridapp.db import db, is_postgres

    pg = is_postgres()
    p = "%s" if pg else "?"
    ids = ", ".join(str(int(g)) for g in grid_ids)
    days = (
        "AVG(EXTRACT(EPOCH FROM closed_at - created_at) / 86400.0)"
        if pg
        else "AVG(julianday(closed_at) - julianday(created_at))"
    )
    queries = [
        (f"SELECT category, state, COUNT(*) FROM matter WHERE grid_id IN ({ids}) GROUP BY category, state", []),
        (
            f"SELECT category, SUM(CASE WHEN state NOT IN ('resolved','verified','closed') AND deadline_at < {p} THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN state IN ('dispatched','in_progress') AND deadline_at >= {p} AND (warn_at IS NULL OR warn_at <= {p}) THEN 1 ELSE 0 END) "
            f"FROM matter WHERE grid_id IN ({ids}) AND state <> 'closed' GROUP BY category",
            [now, now, now],
        ),
        (f"SELECT category, COUNT(*), {days} FROM matter WHERE grid_id IN ({ids}) AND state = 'closed' AND closed_at IS NOT NULL GROUP BY category", []),
        (f"SELECT rating, COUNT(*) FROM matter WHERE grid_id IN ({ids}) AND rating IS NOT NULL GROUP BY rating", []),
        (f"SELECT community_id, COUNT(*) FROM matter WHERE grid_id IN ({ids}) AND state <> 'closed' GROUP BY community_id", []),
        (
            f"SELECT COUNT(*), SUM(CASE WHEN state IN ('done','verified') THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN state IN ('done','verified') AND (due_at IS NULL OR done_at <= due_at) THEN 1 ELSE 0 END) "
            f"FROM task WHERE grid_id IN ({ids})",
            [],
        ),
        (
            f"SELECT grid_id, COUNT(*), SUM(CASE WHEN last_visit_at IS NOT NULL AND next_visit_due > {p} THEN 1 ELSE 0 END) "
            f"FROM household WHERE deleted = {'false' if pg else '0'} AND grid_id IN ({ids}) GROUP BY grid_id",
            [now],
        ),
        (
            (
                f"SELECT s.code, COUNT(*) FROM visit v CROSS JOIN LATERAL jsonb_array_elements_text(v.services::jsonb) AS s(code) "
                f"WHERE v.visited_at >= {p} AND v.grid_id IN ({ids}) AND v.services <> '[]' GROUP BY s.code"
            )
            if pg
            else (
                f"SELECT s.value, COUNT(*) FROM visit v, json_each(v.services) s "
                f"WHERE v.visited_at >= {p} AND v.grid_id IN ({ids}) AND v.services <> '[]' GROUP BY s.value"
            ),
            [since],
        ),
        (f"SELECT grid_id, COUNT(*) FROM visit WHERE grid_id IN ({ids}) AND visited_at >= {p} GROUP BY grid_id", [since]),
    ]  # fmt: skip
    for sql, params in queries:
        db.execute_sql(sql, params).fetchall()


def _client(app, username: str):
    client = app.test_client()
    token = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
    resp = client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": "bench-pass-1"},
        headers={"X-CSRFToken": token},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return client


def run(backend: str, communities: int, grids_per: int, n_matters: int, n_visits: int, repeat: int):
    from gridapp.db import utcnow

    with bench_app(backend) as app:
        print(f"\n[{backend}]")
        city = build_street(communities, grids_per, n_matters, n_visits)
        street_client = _client(app, "street_sup")
        com_client = _client(app, "com_sup")

        def page(client):
            resp = client.get("/console/?days=30")
            assert resp.status_code == 200, resp.status_code
            return resp

        now = utcnow()
        since = now - dt.timedelta(days=30)
        rows = [
            (
                "street dashboard (HTTP) vs bare SQL",
                timeit(lambda: page(street_client), repeat=repeat),
                timeit(lambda: bare_sql(city["grids"], now, since), repeat=repeat),
            ),
            (
                "community dashboard (HTTP) vs bare SQL",
                timeit(lambda: page(com_client), repeat=repeat),
                timeit(lambda: bare_sql(city["community_grids"], now, since), repeat=repeat),
            ),
        ]
        report(rows, f"dashboard on {backend}: {n_matters:,} matters, {n_visits:,} visits")


def main(argv: list[str]) -> int:
    p = parser("Street dashboard: server time as a ratio to the bare aggregate SQL")
    p.add_argument("--matters", type=int, default=100_000)
    p.add_argument("--visits", type=int, default=1_000_000)
    args = p.parse_args(argv)
    if args.smoke:
        sizes = (2, 2, 300, 2_000, 2)
    else:
        sizes = (10, 16, args.matters, args.visits, 5)
    for backend in backends(args.db):
        run(backend, *sizes)
    return 0
