"""The demo's visit history: each household visited as its care tags ask, through ``log_visit``.

A household's visits run backwards from its latest one at roughly its care interval, so today
only the households whose latest visit is a little past their interval are due (about one in
twenty), not all of them at once. Households registered in the last weeks were never visited:
they are due from the day they were registered, as the registry's rule says.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections import defaultdict

from gridapp.changes import record_changes
from gridapp.db import db, insert_rows, is_postgres
from gridapp.matters.deadlines import to_utc
from gridapp.org.models import Grid, User, UserGrid
from gridapp.registry.models import Household, Resident
from gridapp.registry.rules import next_visit_due
from gridapp.visits.models import Visit
from gridapp.visits.service import log_visit

# How far back the visit log goes for households visited more often than twice a year.
HISTORY_DAYS = 120
# Share of an interval by which the latest visit may be late (→ about 4 % due now).
LATE = 0.04
NEW_HOUSEHOLD_DAYS = 30
# Visits of the last days are logged one by one through ``log_visit``.
VERB_DAYS = 3

NOTES = {
    "home": [
        "身体状况良好，血压正常。",
        "老人独自在家，精神不错，叮嘱按时服药。",
        "家中燃气灶使用正常，提醒定期检查软管。",
        "反映楼道灯不亮，已记录。",
        "了解家庭近况，无特殊需求。",
        "宣传防诈骗知识，发放宣传册。",
        "帮忙更换了水龙头垫片。",
        "询问医保缴费事宜，已解答。",
    ],
    "phone": ["电话问候，身体无恙。", "电话确认近期无外出。", "电话提醒社区义诊时间。"],
    "wechat": ["微信回访，家属表示一切正常。", "微信发送防汛提示。"],
    "street": ["小区门口偶遇，聊了家常。", "楼下碰到，说家里一切都好。"],
}
SERVICES = {
    "home": ["blood_pressure", "policy", "errand", "repair", "health_advice"],
    "phone": ["policy", "psych_support"],
    "wechat": ["policy"],
    "street": ["policy", "mediation"],
}


def work_time(
    rng: random.Random, now: dt.datetime, days_ago: float, hours: tuple[float, float] = (8.5, 17.5)
) -> dt.datetime:
    """A moment within ``hours`` (default working hours, 08:30–17:30 Asia/Shanghai) on the day
    ``days_ago`` before ``now``, never later than now."""
    local_now = now + dt.timedelta(hours=8)  # Shanghai has no DST: +8 h all year
    day = (local_now - dt.timedelta(days=days_ago)).date()
    minute = rng.randint(int(hours[0] * 60), int(hours[1] * 60))
    t = to_utc(dt.datetime.combine(day, dt.time(minute // 60, minute % 60)))
    while t > now - dt.timedelta(minutes=5):
        t -= dt.timedelta(days=1)
    return t


def visit_days(rng: random.Random, interval: int) -> list[float]:
    """Days ago of a household's visits, latest first."""
    latest = rng.uniform(0, interval * (1 + LATE))
    days = [latest]
    while True:
        nxt = days[-1] + interval * rng.uniform(0.75, 1.0)
        if nxt > max(HISTORY_DAYS, interval * (1 + LATE)):
            return days
        days.append(nxt)


def seed_visits(rng: random.Random, now: dt.datetime, grid_ids: list[int] | None = None) -> int:
    """Log every demo household's visits; returns how many.

    The last ``VERB_DAYS`` go through ``log_visit`` one by one, as the app uploads them. Older
    ones (about nine in ten) go in with ``import_visits``: ``log_visit`` costs ~7 ms a visit
    here (a dozen queries built by peewee), which made 20,000 visits take over two minutes."""
    grids = Grid.select().order_by(Grid.id)
    if grid_ids is not None:
        grids = grids.where(Grid.id.in_(grid_ids))
    old: list[tuple] = []
    recent: list[tuple[User, str, dict]] = []
    for grid in grids:
        worker = (
            User.select()
            .join(UserGrid)
            .where(UserGrid.grid == grid.id, User.role == "grid_worker")
            .order_by(User.id)
            .first()
        )
        if worker is None:
            continue
        members: dict[int, list[int]] = defaultdict(list)
        for rid, hid in (
            Resident.select(Resident.id, Resident.household)
            .where(Resident.grid == grid.id)
            .order_by(Resident.id)
            .tuples()
        ):
            members[hid].append(rid)
        households = (
            Household.select(Household.id, Household.visit_interval_days, Household.created_at)
            .where(Household.grid == grid.id)
            .order_by(Household.id)
        )
        for hh in households:
            if hh.created_at > now - dt.timedelta(days=NEW_HOUSEHOLD_DAYS):
                continue  # newly registered: not visited yet, due since registration
            for days_ago in visit_days(rng, hh.visit_interval_days):
                mode = rng.choices(["home", "phone", "wechat", "street"], [70, 15, 8, 7])[0]
                people = members[hh.id]
                met = rng.sample(people, k=min(len(people), rng.randint(1, 2)))
                n_services = min(len(SERVICES[mode]), rng.choice([0, 1, 1, 2]))
                visit = {
                    "household_id": hh.id,
                    "visited_at": work_time(rng, now, days_ago),
                    "mode": mode,
                    "notes": rng.choice(NOTES[mode]),
                    "resident_ids": met if mode in ("home", "street") else met[:1],
                    "services": rng.sample(SERVICES[mode], k=n_services),
                }
                vid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                if days_ago < VERB_DAYS:
                    recent.append((worker, vid, visit))
                else:
                    old.append((vid, worker.id, grid.id, visit))
    import_visits(old)
    for worker, vid, visit in sorted(recent, key=lambda r: r[2]["visited_at"]):
        log_visit(worker, vid, visit)
    return len(old) + len(recent)


def import_visits(visits: list[tuple[int | str, int, int, dict]]) -> None:
    """Write past visits in bulk with exactly what ``log_visit`` writes for each (the visit row,
    a change-log row for the grid's devices, the household's last visit and next due date), minus
    its per-visit checks: the demo made these values itself. ``visits``: (uuid, worker id, grid
    id, the dict ``log_visit`` takes)."""
    if not visits:
        return
    cols = ["id", "worker_id", "household_id", "grid_id", "visited_at", "mode", "notes"]
    cols += ["resident_ids", "services", "created_at"]
    rows = [
        (
            vid,
            wid,
            v["household_id"],
            gid,
            v["visited_at"],
            v["mode"],
            v["notes"],
            json.dumps(v["resident_ids"]),
            json.dumps(v["services"], ensure_ascii=False),
            v["visited_at"],
        )
        for vid, wid, gid, v in visits
    ]
    insert_rows(Visit, cols, rows)
    record_changes([{"entity": "visit", "entity_id": r[0], "grid_id": r[3]} for r in rows])
    latest: dict[int, dt.datetime] = {}
    for r in rows:
        if r[2] not in latest or r[4] > latest[r[2]]:
            latest[r[2]] = r[4]
    # The registry's own rule (``next_visit_due``) on the interval the household already has;
    # one executemany instead of ``refresh_schedules``' statement per household (6 s here).
    updates, changes = [], []
    for hid, gid, interval, created, last in (
        Household.select(
            Household.id,
            Household.grid,
            Household.visit_interval_days,
            Household.created_at,
            Household.last_visit_at,
        )
        .where(Household.id.in_(list(latest)))
        .tuples()
    ):
        at = max(latest[hid], last) if last else latest[hid]
        updates.append((at, next_visit_due(at, created, interval), hid))
        changes.append({"entity": "household", "entity_id": hid, "grid_id": gid})
    table = Household._meta.table_name
    mark = "%s" if is_postgres() else "?"
    db.cursor().executemany(
        f'UPDATE "{table}" SET last_visit_at = {mark}, next_visit_due = {mark} WHERE id = {mark}',
        updates,
    )
    record_changes(changes)
