"""Registry API: scoping, masking + audited reveal, stale edits, search, care schedules."""

from __future__ import annotations

import datetime as dt

import pytest

from gridapp.db import db


def test_other_grid_is_404_on_every_endpoint(reg, login_as):
    c = login_as(reg.worker)
    hid, rid, bid = reg.other_household["id"], reg.wangwu["id"], reg.other_building["id"]
    grid = reg.other_building["grid_id"]
    cases = [
        ("get", f"/api/v1/households/{hid}", None),
        ("patch", f"/api/v1/households/{hid}", {"version": 1, "notes": "x"}),
        ("post", f"/api/v1/households/{hid}/reveal", {}),
        ("get", f"/api/v1/residents/{rid}", None),
        ("patch", f"/api/v1/residents/{rid}", {"version": 1, "notes": "x"}),
        ("post", f"/api/v1/residents/{rid}/reveal", {}),
        ("post", f"/api/v1/residents/{rid}/delete", {"version": 1}),
        ("get", f"/api/v1/residents?grid_id={grid}", None),
        ("get", f"/api/v1/households?grid_id={grid}", None),
        ("get", f"/api/v1/buildings?grid_id={grid}", None),
        ("get", f"/api/v1/due-visits?grid_id={grid}", None),
        ("get", f"/api/v1/roster/export?grid_id={grid}", None),
        ("post", "/api/v1/households", {"building_id": bid, "room": "1"}),
        ("post", "/api/v1/residents", {"household_id": hid, "name": "赵六"}),
        ("post", "/api/v1/buildings", {"grid_id": grid, "name": "X"}),
    ]
    for method, url, body in cases:
        resp = getattr(c, method)(url, json=body) if body is not None else getattr(c, method)(url)
        assert resp.status_code == 404, (method, url, resp.get_json())
    # and the lists without a grid filter never include the other grid's rows
    names = {r["name"] for r in c.get("/api/v1/residents").get_json()}
    assert names == {"张三", "李四"}
    assert all(h["grid_id"] != grid for h in c.get("/api/v1/households").get_json())


def test_masked_everywhere_and_reveal_is_audited(reg, login_as):
    from gridapp.audit import AuditLog

    c = login_as(reg.worker)
    row = c.get(f"/api/v1/residents/{reg.zhangsan['id']}").get_json()
    assert row["phone"] == "138****5678"
    assert row["id_number"] == "1101**********002X"
    hh = c.get(f"/api/v1/households/{reg.household['id']}").get_json()
    assert hh["phone"] == "138****1234" and hh["residents"][0]["phone"] == "138****5678"
    listed = c.get("/api/v1/residents?q=zs").get_json()
    assert listed[0]["phone"] == "138****5678"
    assert AuditLog.select().where(AuditLog.action.startswith("reveal")).count() == 0

    resp = c.post(
        f"/api/v1/residents/{reg.zhangsan['id']}/reveal",
        json={"reason": "电话回访"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert resp.status_code == 200
    assert resp.get_json()["phone"] == "13812345678"
    assert resp.get_json()["id_number"] == "11010519491231002X"
    audit = AuditLog.get(AuditLog.action == "reveal.resident")
    assert (audit.actor_id, audit.target_id, audit.ip) == (
        reg.worker.id,
        str(reg.zhangsan["id"]),
        "10.1.2.3",
    )
    assert "电话回访" in audit.detail


def test_department_cannot_reveal(reg, make_user, login_as):
    c = login_as(make_user("department"))
    assert c.post(f"/api/v1/residents/{reg.zhangsan['id']}/reveal", json={}).status_code == 403


def test_stale_edit_is_409_with_current_row(reg, login_as):
    from gridapp.changes import Change

    a, b = login_as(reg.worker), login_as(reg.supervisor)
    rid = reg.zhangsan["id"]
    ok = a.patch(f"/api/v1/residents/{rid}", json={"version": 1, "notes": "腿脚不便"})
    assert ok.status_code == 200 and ok.get_json()["version"] == 2
    stale = b.patch(f"/api/v1/residents/{rid}", json={"version": 1, "notes": "覆盖"})
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["current"]["notes"] == "腿脚不便" and body["current"]["version"] == 2
    assert body["current"]["phone"] == "138****5678"  # the current row is masked too
    again = a.get(f"/api/v1/residents/{rid}").get_json()
    assert again["notes"] == "腿脚不便"
    assert (
        Change.select().where(Change.entity == "resident", Change.entity_id == str(rid)).count()
        == 2
    )
    # a masked phone sent back unchanged is not taken as a new number
    keep = a.patch(f"/api/v1/residents/{rid}", json={"version": 2, "phone": "138****5678"})
    assert keep.status_code == 200
    assert (
        a.post(f"/api/v1/residents/{rid}/reveal", json={"reason": "核对"}).get_json()["phone"]
        == "13812345678"
    )
    bad = a.patch(f"/api/v1/residents/{rid}", json={"version": 3, "phone": "12345"})
    assert bad.status_code == 422 and bad.get_json()["field"] == "phone"


def test_household_stale_edit_and_grid_move(reg, org, login_as):
    from gridapp.changes import Change

    c = login_as(reg.supervisor)
    hid = reg.household["id"]
    assert (
        c.patch(f"/api/v1/households/{hid}", json={"version": 5, "room": "999"}).status_code == 409
    )
    moved = c.patch(
        f"/api/v1/households/{hid}", json={"version": 1, "building_id": reg.building2["id"]}
    )
    assert moved.status_code == 200 and moved.get_json()["grid_id"] == org.grid2.id
    changes = list(
        Change.select()
        .where(Change.entity.in_(["household", "resident"]))
        .order_by(Change.seq.desc())
        .limit(4)
    )
    tombstones = {(ch.entity, ch.grid_id) for ch in changes if ch.deleted}
    assert ("household", org.grid.id) in tombstones and ("resident", org.grid.id) in tombstones
    fresh = {(ch.entity, ch.grid_id) for ch in changes if not ch.deleted}
    assert ("household", org.grid2.id) in fresh and ("resident", org.grid2.id) in fresh
    # the worker of the old grid no longer sees it
    assert login_as(reg.worker).get(f"/api/v1/households/{hid}").status_code == 404


@pytest.mark.parametrize(
    "q, expected",
    [
        ("张", {"张三"}),
        ("三", {"张三"}),
        ("zhangsan", {"张三"}),
        ("zhang", {"张三"}),
        ("zs", {"张三"}),
        ("ZS", {"张三"}),
        ("zhang san", {"张三"}),
        ("ls", {"李四"}),
        ("5678", {"张三"}),
        ("1111", {"李四"}),
        ("2222", set()),  # 王五 lives in another community
        ("101", {"张三"}),  # address / room
        ("%", {"张三", "李四"}),  # LIKE wildcards are not special
    ],
)
def test_search(reg, login_as, q, expected):
    from urllib.parse import quote

    c = login_as(reg.worker)
    rows = c.get(f"/api/v1/residents?q={quote(q)}").get_json()
    assert {r["name"] for r in rows} == expected


def test_due_visits_order_and_visit_updates_schedule(reg, org, login_as):
    from gridapp.registry.models import Household

    now = dt.datetime(2026, 6, 1, 8, 0)
    a, b = reg.household["id"], reg.household_b["id"]
    # 张三 (独居老人, 7 days) last seen 10 days ago → 3 days overdue; 李四 (180) 200 days → 20
    Household.update(
        last_visit_at=now - dt.timedelta(days=10), next_visit_due=now - dt.timedelta(days=3)
    ).where(Household.id == a).execute()
    Household.update(
        last_visit_at=now - dt.timedelta(days=200), next_visit_due=now - dt.timedelta(days=20)
    ).where(Household.id == b).execute()
    from gridapp.registry.care import due_visits

    rows = due_visits(reg.worker, now=now)
    assert [r["household_id"] for r in rows] == [b, a]
    assert [r["overdue_days"] for r in rows] == [20, 3]
    assert rows[1]["care_tags"] == ["独居老人"] and rows[1]["visit_interval_days"] == 7

    # a supervisor's community: the per-grid scans merge into one order
    from gridapp.registry.service import create_household

    h2 = create_household(reg.admin, {"building_id": reg.building2["id"], "room": "201"})["id"]
    Household.update(next_visit_due=now - dt.timedelta(days=5)).where(Household.id == h2).execute()
    merged = due_visits(reg.supervisor, now=now)
    assert [r["household_id"] for r in merged] == [b, h2, a]
    assert [r["household_id"] for r in due_visits(reg.supervisor, now=now, limit=2)] == [b, h2]
    assert due_visits(reg.other_worker, now=now) == [
        r for r in due_visits(reg.other_worker, now=now) if r["grid_id"] == org.other_grid.id
    ]

    c = login_as(reg.worker)
    api_rows = c.get("/api/v1/due-visits").get_json()
    assert [r["household_id"] for r in api_rows] == [b, a]
    resp = c.post(
        "/api/v1/visits",
        json={"id": "0b6f1b9e-2a57-4e53-9b7a-2a0d1f0c4e11", "household_id": b, "mode": "入户"},
    )
    assert resp.status_code == 200, resp.get_json()
    after = Household.get_by_id(b)
    assert after.last_visit_at is not None
    assert after.next_visit_due - after.last_visit_at == dt.timedelta(days=180)
    assert [r["household_id"] for r in c.get("/api/v1/due-visits").get_json()] == [a]


def test_tags_drive_interval_and_admin_edits(reg, login_as):
    from gridapp.registry.models import Household

    assert Household.get_by_id(reg.household["id"]).visit_interval_days == 7
    assert Household.get_by_id(reg.household_b["id"]).visit_interval_days == 180
    w = login_as(reg.worker)
    r = w.patch(
        f"/api/v1/residents/{reg.lisi['id']}",
        json={"version": 1, "tags": ["low_income", "veteran"]},
    )
    assert r.status_code == 200 and r.get_json()["tags"] == ["low_income", "veteran"]
    assert Household.get_by_id(reg.household_b["id"]).visit_interval_days == 30
    assert (
        w.patch(
            f"/api/v1/care-tags/{reg.tags['low_income'].id}", json={"interval_days": 14}
        ).status_code
        == 403
    )
    admin = login_as(reg.admin)
    resp = admin.patch(f"/api/v1/care-tags/{reg.tags['low_income'].id}", json={"interval_days": 14})
    assert resp.status_code == 200
    assert Household.get_by_id(reg.household_b["id"]).visit_interval_days == 14
    new = admin.post(
        "/api/v1/care-tags", json={"code": "pregnant", "name": "孕产妇", "interval_days": 30}
    )
    assert new.status_code == 201
    assert "孕产妇" in {t["name"] for t in w.get("/api/v1/care-tags").get_json()}


def test_grid_queries_use_an_index(reg, org):
    """EXPLAIN the grid-scoped queries: each must be an index search on grid_id, not a scan."""
    from gridapp.db import is_postgres
    from gridapp.registry.models import Household, Resident
    from gridapp.registry.service import search_condition

    queries = [
        Resident.select()
        .where(Resident.grid == org.grid.id, Resident.deleted == False)  # noqa: E712
        .order_by(Resident.name),
        Resident.select()
        .join(Household)
        .where(Resident.grid == org.grid.id, search_condition("zs")),
        Resident.select()
        .join(Household)
        .where(Resident.grid == org.grid.id, search_condition("张")),
        Household.select()
        .where(Household.grid == org.grid.id, Household.next_visit_due <= dt.datetime(2030, 1, 1))
        .order_by(Household.next_visit_due),
    ]
    for q in queries:
        sql, params = q.sql()
        if is_postgres():
            db.execute_sql(
                "SET enable_seqscan = off"
            )  # tiny tables: ask whether an index *can* serve
            plan = " ".join(r[0] for r in db.execute_sql("EXPLAIN " + sql, params).fetchall())
            db.execute_sql("SET enable_seqscan = on")
            assert "Index" in plan and "grid_id" in plan, plan
        else:
            plan = " ".join(
                str(r[-1]) for r in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            )
            first = plan.split("SEARCH")[1] if "SEARCH" in plan else ""
            assert (
                "grid_id" in first and "SCAN resident" not in plan and "SCAN household" not in plan
            ), plan
