"""Matters and tasks at size: 100,000 open matters and 50,000 open tasks (``--smoke``: tiny).

Measures, each as a ratio to the bare SQL that fetches (or, for the job, updates) the same rows
in the same run:
- a supervisor's triage queue (first 100, through the service and the API's output model);
- a worker's merged list (open tasks + households due for a care visit);
- one pass of the deadline job when 1 % of the open matters are due (half warned, half
  escalated), against a bare SELECT + UPDATE of those rows.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from bench.common import backends, bench_app, parser, report, timeit

BATCH = 1000


def _bulk(model, rows):
    from gridapp.db import db

    with db.atomic():
        for i in range(0, len(rows), BATCH):
            model.insert_many(rows[i : i + BATCH]).execute()


def seed(n_matters: int, n_tasks: int, n_households: int, n_grids: int) -> dict:
    from gridapp.db import utcnow
    from gridapp.matters.models import Matter, MatterPart
    from gridapp.org.models import Community, Department, Grid, Street, User, UserGrid
    from gridapp.registry.models import Building, Household
    from gridapp.tasks.models import Task

    rnd = random.Random(7)
    now = utcnow()
    street = Street.create(name="街道", code="st")
    communities = [
        Community.create(street=street, name=f"社区{i}", code=f"c{i}") for i in range(10)
    ]
    grids = [
        Grid.create(community=communities[i % 10], name=f"网格{i}", code=f"g{i}")
        for i in range(n_grids)
    ]
    deps = [Department.create(name=f"部门{i}", code=f"d{i}", street=street) for i in range(5)]
    workers = []
    for g in grids:
        w = User.create(
            username=f"w{g.id}", password_hash="x", display_name="w", role="grid_worker"
        )
        UserGrid.create(user=w, grid=g)
        workers.append(w)
    sups = [
        User.create(
            username=f"s{c.id}", password_hash="x", display_name="s", role="supervisor", community=c
        )
        for c in communities
    ]
    for d in deps:
        User.create(
            username=f"h{d.id}",
            password_hash="x",
            display_name="h",
            role="department",
            department=d,
        )
    buildings = [Building.create(grid=g, name="1栋", updated_at=now) for g in grids]
    _bulk(
        Household,
        [
            {
                "grid": grids[i % n_grids].id,
                "building": buildings[i % n_grids].id,
                "room": str(i),
                "next_visit_due": now + dt.timedelta(days=rnd.randint(-20, 180)),
                "updated_at": now,
                "created_at": now,
            }
            for i in range(n_households)
        ],
    )
    triage_states = ["reported", "returned", "escalated", "reopened"]
    n_due = max(2, n_matters // 100)
    rows = []
    for i in range(n_matters):
        g = grids[i % n_grids]
        created = now - dt.timedelta(minutes=rnd.randint(1, 60 * 24 * 30))
        row = {
            "code": f"B{i:09d}",
            "source": "worker",
            "grid": g.id,
            "community": g.community_id,
            "title": f"事项{i}",
            "text": "楼道灯坏了需要维修" if i % 2 else "自来水管漏水",
            "created_at": created,
            "updated_at": created,
            "urgent": i % 50 == 0,
        }
        if i < n_due:  # the 1 % that the job will find due
            row.update(
                state="in_progress",
                category="专事",
                deadline_start=now - dt.timedelta(days=8),
                deadline_at=now - dt.timedelta(hours=1) if i % 2 else now + dt.timedelta(days=1),
            )
            if i % 2:
                row["escalate_at"] = row["deadline_at"]
            else:
                row["warn_at"] = now - dt.timedelta(minutes=5)
                row["escalate_at"] = row["deadline_at"]
        elif i % 5 == 0:
            row.update(state=triage_states[i % 4], category=None if i % 4 == 0 else "社事")
        else:
            deadline = now + dt.timedelta(days=rnd.randint(2, 15))
            row.update(
                state="in_progress" if i % 3 else "dispatched",
                category="专事",
                deadline_start=now - dt.timedelta(days=1),
                deadline_at=deadline,
                warn_at=deadline - dt.timedelta(days=1),
                escalate_at=deadline,
            )
        rows.append(row)
    _bulk(Matter, rows)
    ids = [mid for (mid,) in Matter.select(Matter.id).where(Matter.category == "专事").tuples()]
    _bulk(
        MatterPart,
        [
            {
                "matter": mid,
                "department": deps[mid % 5].id,
                "state": "in_progress",
                "lead": True,
                "created_at": now,
                "updated_at": now,
            }
            for mid in ids
        ],
    )
    _bulk(
        Task,
        [
            {
                "title": f"任务{i}",
                "assignee": workers[i % len(workers)].id,
                "grid": grids[i % n_grids].id,
                "state": ("assigned", "accepted", "in_progress")[i % 3],
                "priority": i % 3,
                "due_at": now + dt.timedelta(hours=rnd.randint(-48, 24 * 20)),
                "warn_at": now + dt.timedelta(days=30),
                "overdue_at": now + dt.timedelta(days=31),
                "created_at": now,
                "updated_at": now,
            }
            for i in range(n_tasks)
        ],
    )
    due_ids = [m for (m,) in Matter.select(Matter.id).where(Matter.code < f"B{n_due:09d}").tuples()]
    return {"sup": sups[0], "worker": workers[0], "now": now, "due_ids": due_ids}


def rearm(due_ids: list[int], now: dt.datetime) -> None:
    """Put the due 1 % back as they were before a pass (untimed)."""
    from gridapp.db import db
    from gridapp.matters.models import Matter

    with db.atomic():
        Matter.update(
            state="in_progress", category="专事", level=0, escalate_at=now - dt.timedelta(hours=1)
        ).where(Matter.id.in_(due_ids)).execute()
        Matter.update(warn_at=now - dt.timedelta(minutes=5)).where(
            Matter.id.in_(due_ids[::2])
        ).execute()


def run(backend: str, smoke: bool) -> list[tuple[str, float, float]]:
    from gridapp.db import db
    from gridapp.matters.jobs import check_matter_deadlines
    from gridapp.matters.schemas import MatterOut
    from gridapp.matters.service import triage_queue
    from gridapp.tasks.schemas import WorkItem
    from gridapp.tasks.service import my_work

    n_m, n_t, n_h, n_g = (1000, 500, 400, 20) if smoke else (100_000, 50_000, 40_000, 200)
    with bench_app(backend):
        t0 = time.perf_counter()
        ctx = seed(n_m, n_t, n_h, n_g)
        db.execute_sql("ANALYZE")  # what autovacuum / a maintained SQLite would have
        print(
            f"  [{backend}] seeded {n_m} matters, {n_t} tasks, {n_h} households in {time.perf_counter() - t0:.1f}s"
        )
        sup, worker, now = ctx["sup"], ctx["worker"], ctx["now"]
        grid_ids = [
            g
            for (g,) in db.execute_sql(
                f"SELECT id FROM grid WHERE community_id = {sup.community_id}"
            ).fetchall()
        ]
        glist = ",".join(str(g) for g in grid_ids)
        repeat = 3 if smoke else 7

        def ours_queue():
            return [MatterOut.of(m) for m in triage_queue(sup, limit=100)]

        def bare_queue():
            return db.execute_sql(
                f"SELECT * FROM matter WHERE grid_id IN ({glist}) AND state IN "
                "('escalated','reopened','reported','returned') "
                "ORDER BY urgent DESC, created_at, id LIMIT 100"
            ).fetchall()

        assert len(ours_queue()) == len(bare_queue())
        rows = [
            (
                f"triage queue (100 of {n_m} open)",
                timeit(ours_queue, repeat),
                timeit(bare_queue, repeat),
            )
        ]

        def ours_list():
            return [WorkItem(**i) for i in my_work(worker, now=now)]

        wgrid = worker.grid_links[0].grid_id
        horizon = now + dt.timedelta(days=3)
        p = "%s" if backend == "postgres" else "?"

        def bare_list():
            a = db.execute_sql(
                "SELECT id, title, due_at, priority, state, grid_id, household_id, version FROM task "
                f"WHERE assignee_id = {worker.id} AND state IN ('accepted','assigned','in_progress') "
                "ORDER BY due_at, id LIMIT 200"
            ).fetchall()
            b = db.execute_sql(
                f"SELECT id, address, unit, room, next_visit_due, grid_id FROM household WHERE grid_id = {wgrid} "
                f"AND next_visit_due <= {p} AND deleted = {p} ORDER BY next_visit_due LIMIT 200",
                (horizon, False),
            ).fetchall()
            return a, b

        a, b = bare_list()
        assert len(ours_list()) == min(200, len(a) + len(b))
        rows.append(
            (
                f"worker's merged list ({len(a) + len(b)} items)",
                timeit(ours_list, repeat),
                timeit(bare_list, repeat),
            )
        )

        due = ctx["due_ids"]
        ours_t, bare_t = [], []
        passes = 1 if not smoke else 2
        for _ in range(passes):
            rearm(due, now)
            t = time.perf_counter()
            out = check_matter_deadlines(now)
            ours_t.append(time.perf_counter() - t)
            assert out["escalated"] == len(due), out
            rearm(due, now)
            t = time.perf_counter()
            with db.atomic():
                warn = [
                    r[0]
                    for r in db.execute_sql(
                        f"SELECT id FROM matter WHERE warn_at <= {p}", (now,)
                    ).fetchall()
                ]
                esc = [
                    r[0]
                    for r in db.execute_sql(
                        f"SELECT id FROM matter WHERE escalate_at <= {p}", (now,)
                    ).fetchall()
                ]
                if esc:
                    db.execute_sql(
                        "UPDATE matter SET escalate_at = NULL, warn_at = NULL, state = 'escalated', "
                        "version = version + 1 WHERE id IN ({})".format(",".join(map(str, esc)))
                    )
                if warn:
                    db.execute_sql(
                        "UPDATE matter SET warn_at = NULL WHERE id IN ({})".format(
                            ",".join(map(str, warn))
                        )
                    )
            bare_t.append(time.perf_counter() - t)
        rows.append((f"deadline job, {len(due)} due of {n_m}", min(ours_t), min(bare_t)))
        empty = timeit(lambda: check_matter_deadlines(now), repeat)
        bare_empty = timeit(
            lambda: db.execute_sql(
                f"SELECT id FROM matter WHERE escalate_at <= {p} LIMIT 1", (now,)
            ).fetchall(),
            repeat,
        )
        rows.append(("deadline job, nothing due", empty, bare_empty))
    return rows


def main(argv: list[str]) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    for backend in backends(args.db):
        rows = run(backend, args.smoke)
        report(rows, f"matters and tasks on {backend}" + (" (smoke)" if args.smoke else ""))
    return 0
