"""A small but lively community for screenshots and browser tests: households with visits and
services, matters in every state, tasks done on time or late. Rows are written directly (this
is read-side data); the flows under test go through the pages and the API."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid

from gridapp.db import utcnow


def seed_activity(org, worker, *, grids=None, matters_per_grid=14, households_per_grid=24):
    from gridapp.matters.models import Matter  # noqa: I001  (sorted as after the merge)
    from gridapp.org.models import Grid
    from gridapp.registry.models import Building, Household
    from gridapp.tasks.models import Task
    from gridapp.visits.models import ServiceItem, Visit

    rng = random.Random(7)
    now = utcnow()
    day = dt.timedelta(days=1)
    services = [c for (c,) in ServiceItem.select(ServiceItem.code).tuples()] or []
    grids = grids or [org.grid, org.grid2]
    extra = Grid.select().where(
        Grid.community == org.community, Grid.id.not_in([g.id for g in grids])
    )
    grids = list(grids) + list(extra)
    texts = [
        ("楼道堆放杂物，存在消防隐患", "社事"),
        ("路灯不亮，晚上出行不便", "社事"),
        ("自来水水压低，高层无水", "专事"),
        ("小区门口占道经营", "专事"),
        ("独居老人申请居家养老服务", "个事"),
        ("低保年审材料咨询", "个事"),
        ("老旧小区加装电梯意见不一", "难事"),
        ("燃气管道老化有异味", "专事"),
    ]
    states_ = [
        ("reported", None),
        ("triaged", None),
        ("dispatched", "x"),
        ("in_progress", "x"),
        ("resolved", "x"),
        ("closed", "x"),
        ("closed", "x"),
        ("closed", "x"),
        ("returned", None),
        ("escalated", None),
    ]
    n = Matter.select().count()
    for gi, g in enumerate(grids):
        b = Building.create(grid=g, name=f"{gi + 1}号楼")
        for i in range(households_per_grid):
            last = now - rng.randint(1, 260) * day
            interval = rng.choice([7, 30, 180, 180])
            h = Household.create(
                grid=g,
                building=b,
                unit=str(1 + i % 3),
                room=f"{100 + i}",
                last_visit_at=last,
                visit_interval_days=interval,
                next_visit_due=last + interval * day,
            )
            for _v in range(rng.randint(0, 2)):
                Visit.create(
                    id=str(uuid.uuid4()),
                    worker=worker,
                    household=h,
                    grid=g,
                    visited_at=now - rng.randint(0, 28) * day,
                    services=json.dumps(
                        rng.sample(services, k=min(len(services), rng.randint(0, 2)))
                    ),
                )
        for _m in range(matters_per_grid):
            n += 1
            text, category = rng.choice(texts)
            state, cat = rng.choice(states_)
            created = now - rng.randint(1, 40) * day
            deadline = created + rng.randint(3, 20) * day if cat else None
            Matter.create(
                code=f"S{n:07d}",
                source=rng.choice(["worker", "resident"]),
                grid=g,
                community=g.community_id,
                title=text[:12],
                text=text,
                state=state,
                category=category if cat or state == "triaged" else None,
                created_at=created,
                deadline_at=deadline,
                warn_at=None if deadline and deadline < now + 2 * day else deadline,
                closed_at=created + rng.randint(1, 12) * day if state == "closed" else None,
                rating=rng.choice(["满意", "满意", "基本满意", "不满意", None])
                if state == "closed"
                else None,
            )
        for t in range(5):
            due = now + rng.randint(-6, 6) * day
            done = t % 2 == 0
            Task.create(
                title=rng.choice(["入户宣传防诈骗", "燃气安全排查", "独居老人走访"]),
                assignee=worker,
                grid=g,
                state="verified" if done else "in_progress",
                due_at=due,
                done_at=due + rng.choice([-2, -1, 1]) * day if done else None,
            )
