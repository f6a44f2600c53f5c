"""Pull: cold snapshot paged in a stable order, warm changes with tombstones, scope epoch."""

from __future__ import annotations

import gzip
import json

from gridapp.changes import record_change
from gridapp.db import db
from gridapp.org.models import User, UserGrid
from gridapp.registry.models import Household
from gridapp.sync import service


def pull_all(client, cursor=None, epoch=None, limit=500):
    """Follow ``more`` to the end; returns (rows by key, tombstones, cursor, epoch, pages)."""
    rows, tombs, pages = {}, set(), 0
    while True:
        params = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if epoch:
            params["epoch"] = epoch
        resp = client.get("/api/v1/sync", query_string=params)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        body = resp.get_json()
        pages += 1
        assert not body["resync"]
        for r in body["rows"]:
            rows[(r["entity"], r["id"])] = r["data"]
            tombs.discard((r["entity"], r["id"]))
        for t in body["tombstones"]:
            rows.pop((t["entity"], t["id"]), None)
            tombs.add((t["entity"], t["id"]))
        cursor, epoch = body["cursor"], body["epoch"]
        if not body["more"]:
            return rows, tombs, cursor, epoch, pages


def test_cold_pull_is_scoped_masked_and_paged(org, reg, make_user, login_as):
    worker = make_user("grid_worker", grids=[org.grid])
    mine = reg.household(reg.building(org.grid))
    for i in range(7):
        reg.resident(mine, name=f"李{i}", phone=f"1380000{i:04d}")
    theirs = reg.household(reg.building(org.grid2))
    reg.resident(theirs, name="王五")
    client = login_as(worker)

    rows, _tombs, cursor, _epoch, pages = pull_all(client, limit=3)
    assert pages >= 4
    residents = [d for (e, _), d in rows.items() if e == "resident"]
    assert sorted(r["name"] for r in residents) == [f"李{i}" for i in range(7)]
    assert all(r["phone"].startswith("138****") for r in residents)
    assert ("household", str(theirs.id)) not in rows
    assert rows[("household", str(mine.id))]["phone"] == "138****1234"
    assert ("grid", str(org.grid.id)) in rows
    assert any(e == "care_tag" for e, _ in rows)
    assert not cursor.startswith("s") and service.parse_cursor(cursor).seq >= 1
    assert User.get_by_id(worker.id).last_sync_at is not None


def test_warm_pull_returns_changes_once_and_nothing_when_idle(org, reg, make_user, login_as):
    worker = make_user("grid_worker", grids=[org.grid])
    b = reg.building(org.grid)
    client = login_as(worker)
    _rows, _t, cursor, epoch, _p = pull_all(client)

    idle = client.get("/api/v1/sync", query_string={"cursor": cursor, "epoch": epoch}).get_json()
    assert idle["rows"] == [] and idle["tombstones"] == [] and idle["cursor"] == cursor

    h = reg.household(b)
    reg.household(reg.building(org.grid2))  # another grid: not mine
    with db.atomic():
        Household.update(notes="门口有狗").where(Household.id == h.id).execute()
        record_change("household", h.id, grid_id=h.grid_id)
    rows, tombs, cursor2, _e, _p = pull_all(client, cursor, epoch)
    assert list(rows) == [("household", str(h.id))]  # deduplicated: latest wins
    assert rows[("household", str(h.id))]["notes"] == "门口有狗"
    assert not tombs

    # A household that moves to another grid leaves my scope: a tombstone.
    with db.atomic():
        Household.update(grid=org.grid2.id).where(Household.id == h.id).execute()
        record_change("household", h.id, grid_id=org.grid.id)
        record_change("household", h.id, grid_id=org.grid2.id)
    rows, tombs, _c, _e, _p = pull_all(client, cursor2, epoch)
    assert rows == {} and tombs == {("household", str(h.id))}


def test_scope_change_asks_for_resync(org, reg, make_user, login_as):
    worker = make_user("grid_worker", grids=[org.grid])
    client = login_as(worker)
    _rows, _t, cursor, epoch, _p = pull_all(client)
    UserGrid.delete().where(UserGrid.user == worker.id).execute()
    UserGrid.create(user=worker.id, grid=org.grid2.id)
    body = client.get("/api/v1/sync", query_string={"cursor": cursor, "epoch": epoch}).get_json()
    assert body["resync"] is True and body["epoch"] != epoch and body["rows"] == []
    rows, _t, _c, _e, _p = pull_all(client)
    assert ("grid", str(org.grid2.id)) in rows and ("grid", str(org.grid.id)) not in rows


def test_pull_is_gzipped_when_asked(org, reg, make_user, login_as):
    worker = make_user("grid_worker", grids=[org.grid])
    h = reg.household(reg.building(org.grid))
    for i in range(30):
        reg.resident(h, name=f"赵{i}")
    client = login_as(worker)
    resp = client.get("/api/v1/sync", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(resp.get_data()))
    assert len([r for r in body["rows"] if r["entity"] == "resident"]) == 30


def test_pull_needs_login_and_a_sane_cursor(client, make_user, login_as):
    assert client.get("/api/v1/sync").status_code == 401
    c = login_as(make_user("grid_worker"))
    resp = c.get("/api/v1/sync", query_string={"cursor": "abc"})
    assert resp.status_code == 422 and resp.get_json()["field"] == "query.cursor"
    # Numbers past what a database column holds are malformed too, in every part of a cursor.
    for bad in ("99999999999999999999999", "5.99999999999999999999", "s1.5:99999999999999999999:",
                "99999999999999999999.5", "-1", "5.-3"):  # fmt: skip
        resp = c.get("/api/v1/sync", query_string={"cursor": bad})
        assert resp.status_code == 422 and resp.get_json()["field"] == "query.cursor", bad
