"""A demo community with realistic synthetic residents (Faker zh_CN), seeded deterministically.

高新区 (street) → 东城水岸社区 (16 grids, one worker each) and 天峰社区 (6 grids), several
departments, supervisors, handlers and an admin; about 300 households per grid. Seeding twice is
harmless: an existing demo is left alone and its logins are returned.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from faker import Faker

from gridapp.accounts.service import hash_password
from gridapp.db import db, utcnow
from gridapp.org.models import Community, Department, Grid, Street, User, UserGrid
from gridapp.registry.models import Building, CareTag, Household, Resident, ResidentTag
from gridapp.registry.names import name_keys

DEMO_PASSWORD = "demo1234"
STREET = ("高新区", "gaoxin")
COMMUNITIES = [("东城水岸社区", "dcsa", 16), ("天峰社区", "tianfeng", 6)]
DEPARTMENTS = [
    ("水务公司", "water"),
    ("供电公司", "power"),
    ("燃气公司", "gas"),
    ("城市管理局", "urban"),
    ("高新派出所", "police"),
    ("市场监管所", "market"),
    ("物业服务中心", "property"),
]
DEFAULT_INTERVAL = 180
REGISTERED_DAYS = 400  # the roster was entered a year or so before the demo's "now"
NEW_SHARE = 0.01  # households registered in the last weeks, not visited yet


@dataclass(frozen=True)
class Login:
    username: str
    role: str
    who: str


def _demo_logins() -> list[Login]:
    out = [
        Login("admin", "admin", "系统管理员"),
        Login("gaoxin_sup", "supervisor", "高新区街道 (street-wide)"),
        Login("dcsa_sup", "supervisor", "东城水岸社区 网格长"),
        Login("tianfeng_sup", "supervisor", "天峰社区 网格长"),
    ]
    out += [Login(f"dcsa_w{i:02d}", "grid_worker", f"东城水岸社区 第{i}网格") for i in range(1, 17)]
    out += [Login(f"tianfeng_w{i:02d}", "grid_worker", f"天峰社区 第{i}网格") for i in range(1, 7)]
    out += [Login(f"dept_{code}", "department", name) for name, code in DEPARTMENTS]
    return out


def _birth_from_id(id_number: str) -> tuple[int, str]:
    year = int(id_number[6:10])
    gender = "M" if int(id_number[16]) % 2 else "F"
    return year, gender


def seed_demo(
    seed: int = 20261125,
    households_per_grid: int = 300,
    history: bool = True,
    matters_per_grid: tuple[int, int] = (4, 7),
) -> list[Login]:
    """Seed the demo unless present; return the logins (all with ``DEMO_PASSWORD``).
    ``history``: also a few months of visits, matters, tasks and announcements up to now
    (``demo_history``)."""
    if Street.select().where(Street.code == STREET[1]).exists():
        return _demo_logins()
    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    now = utcnow()
    this_year = now.year
    tags = {t.code: t for t in CareTag.select()}
    pw = hash_password(DEMO_PASSWORD)  # one hash for all demo users: seeding stays fast

    with db.atomic():
        street = Street.create(name=STREET[0], code=STREET[1])
        User.create(username="admin", password_hash=pw, display_name="系统管理员", role="admin")
        User.create(
            username="gaoxin_sup",
            password_hash=pw,
            display_name="高新区街道 王主任",
            role="supervisor",
            street=street,
        )
        for name, code in DEPARTMENTS:
            dept = Department.create(name=name, code=code, street=street)
            User.create(
                username=f"dept_{code}",
                password_hash=pw,
                display_name=f"{name} 经办人",
                role="department",
                department=dept,
                phone=fake.phone_number(),
            )
        for cname, ccode, ngrids in COMMUNITIES:
            community = Community.create(street=street, name=cname, code=ccode)
            User.create(
                username=f"{ccode}_sup",
                password_hash=pw,
                display_name=f"{cname} {fake.name()}",
                role="supervisor",
                community=community,
                phone=fake.phone_number(),
            )
            for gi in range(1, ngrids + 1):
                grid = Grid.create(
                    community=community, name=f"第{gi}网格", code=f"{ccode}-{gi:02d}", sort=gi
                )
                worker = User.create(
                    username=f"{ccode}_w{gi:02d}",
                    password_hash=pw,
                    display_name=fake.name(),
                    role="grid_worker",
                    community=community,
                    phone=fake.phone_number(),
                )
                UserGrid.create(user=worker, grid=grid)
                _seed_grid(rng, fake, grid, cname, gi, households_per_grid, tags, now, this_year)
    from gridapp.open311.demo import seed_open311

    with db.atomic():
        seed_open311()
    if history:
        from gridapp.demo_history import seed_history

        seed_history(seed, now, matters_per_grid)
    from gridapp.news.demo import seed_news

    seed_news(now)
    return _demo_logins()


def _seed_grid(rng, fake, grid, cname, gi, n_households, tags, now, this_year) -> None:
    """Bulk inserts per grid: row-by-row ``create`` spent 20 of 30 seconds building SQL."""
    rooms_per_building = 100
    n_buildings = max(1, -(-n_households // rooms_per_building))
    buildings = []
    for b in range(n_buildings):
        number = (gi - 1) * n_buildings + b + 1
        buildings.append(
            Building.create(grid=grid, name=f"{number}栋", address=f"{cname}{number}栋")
        )
    households, people = [], []
    for h in range(n_households):
        building = buildings[h // rooms_per_building]
        idx = h % rooms_per_building
        unit = idx // 50 + 1
        floor = (idx % 50) // 2 + 1
        room = f"{floor}{idx % 2 + 1:02d}"
        members = []
        interval = DEFAULT_INTERVAL
        for i, (rel, age, tag_codes) in enumerate(_household_members(rng, fake, this_year)):
            id_number = fake.ssn(min_age=age, max_age=age)
            birth_year, gender = _birth_from_id(id_number)
            name = fake.name_male() if gender == "M" else fake.name_female()
            pinyin, initials = name_keys(name)
            phone = fake.phone_number() if age >= 16 else ""
            tag_ids = [tags[c].id for c in tag_codes if c in tags]
            interval = min([interval] + [tags[c].interval_days for c in tag_codes if c in tags])
            members.append(
                (
                    {
                        "grid": grid.id,
                        "name": name,
                        "name_pinyin": pinyin,
                        "name_initials": initials,
                        "gender": gender,
                        "birth_year": birth_year,
                        "phone": phone,
                        "phone_tail": phone[-4:],
                        "id_number": id_number if rng.random() < 0.8 else "",
                        "relation": rel if i else "户主",
                        "version": 1,
                        "updated_at": now,
                        "created_at": now,
                        "deleted": False,
                        "notes": "",
                    },
                    tag_ids,
                )
            )
        # Registered long ago, except a few families who moved in during the last weeks (never
        # visited yet: due from the day they were registered). Visits come from the history.
        registered = now - dt.timedelta(days=REGISTERED_DAYS)
        if rng.random() < NEW_SHARE:
            registered = now - dt.timedelta(days=rng.uniform(1, 25), hours=rng.uniform(0, 8))
        for member, _tags in members:
            member["created_at"] = member["updated_at"] = registered
        households.append(
            {
                "grid": grid.id,
                "building": building.id,
                "unit": f"{unit}单元",
                "room": room,
                "address": f"{building.address}{unit}单元{room}室",
                "phone": fake.phone_number(),
                "last_visit_at": None,
                "visit_interval_days": interval,
                "next_visit_due": registered,
                "version": 1,
                "updated_at": registered,
                "created_at": registered,
                "deleted": False,
                "notes": "",
            }
        )
        people.append(members)
    for batch in range(0, len(households), 500):
        Household.insert_many(households[batch : batch + 500]).execute()
    hh_ids = [
        i
        for (i,) in Household.select(Household.id)
        .where(Household.grid == grid.id)
        .order_by(Household.id)
        .tuples()
    ]
    rows, row_tags = [], []
    for hh_id, members in zip(hh_ids, people, strict=True):
        for row, tag_ids in members:
            row["household"] = hh_id
            rows.append(row)
            row_tags.append(tag_ids)
    for batch in range(0, len(rows), 500):
        Resident.insert_many(rows[batch : batch + 500]).execute()
    res_ids = [
        i
        for (i,) in Resident.select(Resident.id)
        .where(Resident.grid == grid.id)
        .order_by(Resident.id)
        .tuples()
    ]
    links = [
        {"resident": rid, "tag": t}
        for rid, tag_ids in zip(res_ids, row_tags, strict=True)
        for t in tag_ids
    ]
    for batch in range(0, len(links), 500):
        ResidentTag.insert_many(links[batch : batch + 500]).execute()


def _household_members(
    rng: random.Random, fake: Faker, this_year: int
) -> list[tuple[str, int, list[str]]]:
    """(relation, age, care tags) for one household, with plausible shares of each care group."""
    r = rng.random()
    if r < 0.06:  # an elderly person living alone
        age = rng.randint(68, 94)
        tags = ["elderly_alone"] + (["advanced_age"] if age >= 80 else [])
        return [("户主", age, tags)]
    head_age = rng.randint(26, 85)
    members: list[tuple[str, int, list[str]]] = [("户主", head_age, [])]
    if rng.random() < 0.75:
        members.append(("配偶", max(20, head_age + rng.randint(-5, 5)), []))
    if head_age < 60:
        for _ in range(rng.choice([0, 1, 1, 2])):
            members.append(("子女", rng.randint(1, max(1, head_age - 22)), []))
    elif rng.random() < 0.3:
        members.append(("子女", rng.randint(25, head_age - 20), []))
    out = []
    for rel, age, _tags in members:
        t: list[str] = []
        if age >= 80:
            t.append("advanced_age")
        if rng.random() < 0.02:
            t.append("disabled")
        if rng.random() < 0.015:
            t.append("low_income")
        if age >= 25 and rng.random() < 0.02:
            t.append("veteran")
        if age < 16 and rng.random() < 0.05:
            t.append("left_behind_child")
        if rng.random() < 0.005:
            t.append("key_concern")
        out.append((rel, age, t))
    return out
