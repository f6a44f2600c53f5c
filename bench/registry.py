"""Registry at city size: list a grid, search names, due visits, import a roster.

``python -m bench registry [--residents N] [--grids N] [--import-rows N] [--db ...] [--smoke]``

Builds a city (default 1,000,000 residents in 3,000 grids; one measured grid holds ~1,500 of
them) with bulk inserts (``executemany`` on SQLite, ``COPY`` on PostgreSQL), then times our
service verbs (and the HTTP API for the grid list) against bare SQL returning the same rows in
the same run, EXPLAINs every grid query (fails if one is not served by a ``grid_id`` index), and
imports a CSV roster (default 100,000 rows) reporting rows/s.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import re
import time

from bench.common import backends, bench_app, parser, report, timeit

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红建国志强文斌海燕小红春梅德明宝山凤英淑珍"
TARGET_GRID_RESIDENTS = 1500


def _names(rng: random.Random, n: int) -> list[str]:
    return [
        rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        for _ in range(n)
    ]


def _id_number(i: int) -> str:
    from gridapp.registry.rules import id_check_digit

    born = dt.date(1930, 1, 1) + dt.timedelta(days=(i // 900) % 30000)
    first = f"110105{born:%Y%m%d}{100 + i % 900:03d}"
    return first + id_check_digit(first)


# ---- building the city ------------------------------------------------------------------


def build_city(n_residents: int, n_grids: int, seed: int = 7) -> dict:
    from gridapp.db import db, is_postgres, utcnow
    from gridapp.org.models import Community, Grid, Street
    from gridapp.registry.models import CareTag
    from gridapp.registry.names import name_keys

    rng = random.Random(seed)
    now = utcnow()
    street = Street.create(name="城区", code="city")
    per_community = 10
    communities = [
        Community.create(street=street, name=f"社区{c}", code=f"c{c}")
        for c in range(-(-n_grids // per_community))
    ]
    Grid.insert_many(
        [
            {
                "community": communities[g // per_community].id,
                "name": f"第{g % per_community + 1}网格",
                "code": f"g{g}",
                "sort": g % per_community,
            }
            for g in range(n_grids)
        ]
    ).execute()
    grid_ids = [g for (g,) in Grid.select(Grid.id).order_by(Grid.id).tuples()]
    tags = [(t.id, t.interval_days) for t in CareTag.select()]
    # Residents per grid: the measured grid holds ~1,500, the rest share the remainder.
    rest = max(0, n_residents - TARGET_GRID_RESIDENTS)
    per_grid = [min(TARGET_GRID_RESIDENTS, n_residents)] + [
        rest // (n_grids - 1) + (1 if g < rest % (n_grids - 1) else 0) for g in range(n_grids - 1)
    ]
    buildings, households, residents, links = [], [], [], []
    b_id = h_id = r_id = 0
    t0 = time.perf_counter()

    def flush(final: bool = False) -> None:
        if len(residents) >= 50_000 or final:
            _bulk(db, is_postgres(), "building", buildings)
            _bulk(db, is_postgres(), "household", households)
            _bulk(db, is_postgres(), "resident", residents)
            _bulk(db, is_postgres(), "resident_tag", links)
            for rows in (buildings, households, residents, links):
                rows.clear()

    for gi, (grid_id, count) in enumerate(zip(grid_ids, per_grid, strict=True)):
        n_households = max(1, count * 2 // 5)
        n_buildings = max(1, n_households // 60)
        first_b = b_id + 1
        for b in range(n_buildings):
            b_id += 1
            buildings.append((b_id, 1, now, grid_id, f"{b + 1}栋", f"g{gi}路{b + 1}栋", False))
        first_h = h_id + 1
        for h in range(n_households):
            h_id += 1
            last = now - dt.timedelta(days=rng.uniform(0, 400))
            interval = 180
            households.append(
                [h_id, 1, now, grid_id, first_b + h % n_buildings, "1单元", f"{h + 101}",
                 f"g{gi}路{h % n_buildings + 1}栋{h + 101}室", "", "", last, interval,
                 last + dt.timedelta(days=interval), False, now]
            )  # fmt: skip
        names = _names(rng, count)
        for k, name in enumerate(names):
            r_id += 1
            hh = first_h + k % n_households
            pinyin, initials = name_keys(name)
            phone = f"13{r_id:09d}"
            residents.append(
                (r_id, 1, now, grid_id, hh, name, pinyin, initials, "MF"[k % 2], 1930 + k % 90,
                 phone, phone[-4:], "", "户主" if k < n_households else "家庭成员", "", False, now)
            )  # fmt: skip
            if rng.random() < 0.1:
                tag_id, interval = rng.choice(tags)
                links.append((r_id, tag_id))
                row = households[hh - (h_id - len(households) + 1)]
                if interval < row[11]:
                    row[11] = interval
                    row[12] = row[10] + dt.timedelta(days=interval)
        flush()
    flush(final=True)
    if is_postgres():
        for table in ("building", "household", "resident"):
            db.execute_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
        db.execute_sql("ANALYZE")
    else:
        db.execute_sql("ANALYZE")
    return {
        "grid_ids": grid_ids,
        "community_id": communities[0].id,
        "seconds": time.perf_counter() - t0,
        "residents": r_id,
        "households": h_id,
    }


COLUMNS = {
    "building": ("id", "version", "updated_at", "grid_id", "name", "address", "deleted"),
    "household": (
        "id", "version", "updated_at", "grid_id", "building_id", "unit", "room", "address",
        "phone", "notes", "last_visit_at", "visit_interval_days", "next_visit_due", "deleted",
        "created_at",
    ),
    "resident": (
        "id", "version", "updated_at", "grid_id", "household_id", "name", "name_pinyin",
        "name_initials", "gender", "birth_year", "phone", "phone_tail", "id_number", "relation",
        "notes", "deleted", "created_at",
    ),
    "resident_tag": ("resident_id", "tag_id"),
}  # fmt: skip


def _bulk(db, postgres: bool, table: str, rows: list) -> None:
    if not rows:
        return
    cols = COLUMNS[table]
    with db.atomic():
        if postgres:
            sql = f"COPY {table} ({', '.join(cols)}) FROM STDIN"
            with db.cursor() as cur, cur.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            # plain strings, as peewee stores them (sqlite3's datetime adapter is deprecated)
            rows = [[str(v) if isinstance(v, dt.datetime) else v for v in r] for r in rows]
            marks = ", ".join("?" for _ in cols)
            db.cursor().executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows
            )


# ---- measuring ----------------------------------------------------------------------------


def _explain(db, postgres: bool, sql: str, params, small: bool) -> str:
    if postgres:
        if small:  # a tiny table is cheaper to scan: ask whether an index *can* serve
            db.execute_sql("SET enable_seqscan = off")
        plan = " ".join(r[0] for r in db.execute_sql("EXPLAIN " + sql, params).fetchall())
        db.execute_sql("SET enable_seqscan = on")
        return plan
    return " | ".join(
        str(r[-1]) for r in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    )


def _uses_grid_index(plan: str, postgres: bool) -> bool:
    if postgres:
        return "Index" in plan and "grid_id" in plan and "Seq Scan" not in plan
    return "grid_id" in plan and "SCAN resident" not in plan and "SCAN household" not in plan


def _login(app, username: str):
    client = app.test_client()
    token = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
    resp = client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": "bench-pass-1"},
        headers={"X-CSRFToken": token},
    )
    assert resp.status_code == 200, resp.get_json()
    return client


def measure(app, backend: str, city: dict, repeat: int) -> tuple[list, bool]:
    from gridapp.accounts.service import NewUser, create_user
    from gridapp.db import db, is_postgres, utcnow
    from gridapp.registry.care import due_visits
    from gridapp.registry.service import list_residents
    from gridapp.scope import scope_for

    postgres = is_postgres()
    g0 = city["grid_ids"][0]
    worker = create_user(
        NewUser(username="bench_w", password="bench-pass-1", display_name="w",
                role="grid_worker", grid_ids=(g0,))
    )  # fmt: skip
    sup = create_user(
        NewUser(username="bench_s", password="bench-pass-1", display_name="s",
                role="supervisor", community_id=city["community_id"])
    )  # fmt: skip
    wscope, sscope = scope_for(worker), scope_for(sup)
    now = utcnow()
    ph = "%s" if postgres else "?"
    f = "false" if postgres else "0"
    sup_grids = sorted(sscope.grid_ids)
    name_row = db.execute_sql(
        f"SELECT name_initials FROM resident WHERE grid_id = {ph} LIMIT 1", (g0,)
    ).fetchone()
    initials = name_row[0][:2]
    queries = {
        "list": (
            f"SELECT * FROM resident WHERE grid_id = {ph} AND deleted = {f} "
            "ORDER BY grid_id, name, id LIMIT 2000",
            (g0,),
        ),
        "search": (
            f"SELECT resident.* FROM resident JOIN household ON household.id = "
            f"resident.household_id WHERE resident.grid_id = {ph} AND resident.deleted = {f} "
            f"AND (resident.name_pinyin LIKE {ph} OR resident.name_initials LIKE {ph}) "
            "ORDER BY resident.grid_id, resident.name, resident.id LIMIT 100",
            (g0, initials + "%", initials + "%"),
        ),
        "due_grid": (
            f"SELECT id, next_visit_due FROM household WHERE grid_id = {ph} "
            f"AND next_visit_due <= {ph} AND deleted = {f} ORDER BY next_visit_due, id LIMIT 200",
            (sup_grids[0], now),
        ),
        # Bare SQL for the same 200 rows: one ordered scan per grid, merged by the database.
        "due": (
            "SELECT * FROM ("
            + " UNION ALL ".join(
                f"SELECT * FROM (SELECT * FROM household WHERE grid_id = {ph} "
                f"AND next_visit_due <= {ph} AND deleted = {f} "
                f"ORDER BY next_visit_due, id LIMIT 200) AS g{i}"
                for i in range(len(sup_grids))
            )
            + ") AS u ORDER BY next_visit_due, id LIMIT 200",
            tuple(v for g in sup_grids for v in (g, now)),
        ),
    }
    ok = True
    for name, (sql, params) in queries.items():
        if name == "due":
            continue  # the union of per-grid scans; each is the "due_grid" plan
        plan = _explain(db, postgres, sql, params, city["residents"] < 100_000)
        uses = _uses_grid_index(plan, postgres)
        ok &= uses
        print(
            f"  [{backend}] {name}: {'index on grid_id' if uses else 'NO GRID INDEX'} — {plan[:160]}"
        )

    def bare(key):
        sql, params = queries[key]
        return lambda: db.execute_sql(sql, params).fetchall()

    ours_list = list_residents(worker, grid_id=g0, limit=2000, scope=wscope)
    assert len(ours_list) == len(bare("list")()), "list: different row counts"
    ours_search = list_residents(worker, grid_id=g0, q=initials, scope=wscope)
    assert len(ours_search) == len(bare("search")()), "search: different row counts"
    ours_due = due_visits(sup, now=now, scope=sscope)
    assert len(ours_due) == len(bare("due")()), "due: different row counts"
    client = _login(app, "bench_w")

    def api_list():
        resp = client.get(f"/api/v1/residents?grid_id={g0}&limit=2000")
        assert resp.status_code == 200

    rows = [
        (
            f"list grid ({len(ours_list)} residents), service",
            timeit(lambda: list_residents(worker, grid_id=g0, limit=2000, scope=wscope), repeat),
            timeit(bare("list"), repeat),
        ),
        (
            f"list grid ({len(ours_list)} residents), HTTP API",
            timeit(api_list, repeat),
            timeit(bare("list"), repeat),
        ),
        (
            f"search '{initials}' in grid ({len(ours_search)} hits)",
            timeit(lambda: list_residents(worker, grid_id=g0, q=initials, scope=wscope), repeat),
            timeit(bare("search"), repeat),
        ),
        (
            f"due visits, community of {len(sup_grids)} grids ({len(ours_due)})",
            timeit(lambda: due_visits(sup, now=now, scope=sscope), repeat),
            timeit(bare("due"), repeat),
        ),
    ]
    return rows, ok


def roster_csv(n: int, grid_codes: list[str], seed: int = 11) -> bytes:
    rng = random.Random(seed)
    out = io.StringIO()
    out.write("网格,楼栋,单元,房号,姓名,性别,身份证号,与户主关系,联系电话,关爱标签,备注\n")
    tag_names = ["独居老人", "高龄", "低保", "残疾", "退役军人"]
    for i, name in enumerate(_names(rng, n)):
        hh = i // 3  # three people a household, sixty households a building
        grid = grid_codes[hh // 60 % len(grid_codes)]  # a building lies in one grid
        tags = "、".join(rng.sample(tag_names, 2)) if i % 10 == 0 else ""
        out.write(
            f"{grid},导入{hh // 60}栋,1单元,{hh % 60 + 101},{name},,{_id_number(5_000_000 + i)},"
            f"{'户主' if i % 3 == 0 else '家庭成员'},15{i:09d},{tags},\n"
        )
    return out.getvalue().encode("utf-8")


def csv_to_xlsx(data: bytes) -> bytes:
    """The same roster as .xlsx, with a merged title row above the header."""
    import csv

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("人口信息")
    ws.append(["社区人口信息登记表"])
    for row in csv.reader(io.StringIO(data.decode("utf-8"))):
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def measure_xlsx_import(n: int, grid_codes: list[str]) -> float:
    from gridapp.org.models import User
    from gridapp.registry.roster import import_roster

    admin = User.get(User.username == "bench_admin")
    # other buildings and ID numbers than the CSV import, so every row is new again
    text = roster_csv(n, grid_codes, seed=12).decode("utf-8").replace("导入", "表格")
    text = text.replace(",110105", ",120105")
    data = csv_to_xlsx(_fix_check_digits(text).encode("utf-8"))
    t0 = time.perf_counter()
    result = import_roster(admin, "roster.xlsx", data)
    seconds = time.perf_counter() - t0
    assert result["residents_created"] == n, result
    return seconds


def _fix_check_digits(text: str) -> str:
    from gridapp.registry.rules import id_check_digit

    return re.sub(r",(\d{17})[\dX],", lambda m: f",{m.group(1)}{id_check_digit(m.group(1))},", text)


def measure_import(backend: str, n: int, grid_codes: list[str]) -> tuple[float, dict]:
    from gridapp.db import db
    from gridapp.org.models import User
    from gridapp.registry.roster import import_roster

    admin = User.create(username="bench_admin", password_hash="x", display_name="a", role="admin")
    data = roster_csv(n, grid_codes)
    t0 = time.perf_counter()
    result = import_roster(admin, "roster.csv", data)
    seconds = time.perf_counter() - t0
    assert result["residents_created"] == n, result
    # Baseline: the same number of resident rows through one bare executemany / COPY.
    db.execute_sql("CREATE TEMP TABLE bench_copy AS SELECT * FROM resident WHERE 1 = 0")
    sample = db.execute_sql("SELECT * FROM resident ORDER BY id DESC LIMIT 1").fetchone()
    cols = len(sample)
    t1 = time.perf_counter()
    with db.atomic():
        if backend == "postgres":
            with db.cursor() as cur, cur.copy("COPY bench_copy FROM STDIN") as copy:
                for i in range(n):
                    copy.write_row((i, *sample[1:]))
        else:
            db.cursor().executemany(
                f"INSERT INTO bench_copy VALUES ({', '.join('?' for _ in range(cols))})",
                ((i, *sample[1:]) for i in range(n)),
            )
    base = time.perf_counter() - t1
    return seconds, {"base": base, **result}


def main(argv: list[str]) -> int:
    p = parser("Registry at city size: grid list, name search, due visits, roster import")
    p.add_argument("--residents", type=int, default=1_000_000)
    p.add_argument("--grids", type=int, default=3000)
    p.add_argument("--import-rows", type=int, default=100_000)
    p.add_argument("--xlsx-rows", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args(argv)
    if args.smoke:
        args.residents, args.grids, args.import_rows, args.repeat = 2500, 12, 300, 2
    rc = 0
    for backend in backends(args.db):
        with bench_app(backend) as app:
            city = build_city(args.residents, args.grids)
            print(
                f"\n[{backend}] city: {city['residents']:,} residents, {city['households']:,} "
                f"households, {len(city['grid_ids']):,} grids — built in {city['seconds']:.1f}s"
            )
            rows, ok = measure(app, backend, city, args.repeat)
            report(rows, f"registry on {backend} (ours vs bare SQL of the same rows)")
            codes = [f"g{i}" for i in range(1, min(len(city["grid_ids"]), 21))]
            seconds, info = measure_import(backend, args.import_rows, codes)
            report(
                [(f"import {args.import_rows:,} CSV rows (vs bare insert)", seconds, info["base"])],
                f"roster import on {backend}",
            )
            print(
                f"  import: {args.import_rows / seconds:,.0f} rows/s "
                f"({info['households_created']:,} households, {info['buildings_created']} buildings)"
            )
            xlsx_rows = min(args.import_rows, args.xlsx_rows)
            xs = measure_xlsx_import(xlsx_rows, codes)
            print(f"  import .xlsx: {xlsx_rows / xs:,.0f} rows/s ({xlsx_rows:,} rows in {xs:.1f}s)")
            if not ok:
                print(f"  [{backend}] a grid query did not use a grid_id index")
                rc = 1
    return rc
