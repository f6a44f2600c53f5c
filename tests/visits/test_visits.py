"""The visit log: idempotent upload by client UUID, scoping, validation, photos attached."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest


def _visit(reg, **extra):
    body = {
        "id": str(uuid.uuid4()),
        "household_id": reg.household["id"],
        "visited_at": "2026-11-20T09:30:00+08:00",
        "mode": "home",
        "lat": 37.87,
        "lon": 112.55,
        "accuracy": 12.5,
        "notes": "血压偏高，已提醒复查",
        "resident_ids": [reg.zhangsan["id"]],
        "services": ["blood_pressure", "policy"],
    }
    body.update(extra)
    return body


def test_same_visit_ten_times_stores_one(reg, login_as):
    from gridapp.changes import Change
    from gridapp.registry.models import Household
    from gridapp.visits.models import Visit

    c = login_as(reg.worker)
    body = _visit(reg)
    answers = [c.post("/api/v1/visits", json=body) for _ in range(10)]
    assert {a.status_code for a in answers} == {200}
    assert all(a.get_json() == answers[0].get_json() for a in answers)
    assert Visit.select().count() == 1
    assert Change.select().where(Change.entity == "visit").count() == 1
    v = answers[0].get_json()
    assert v["visited_at"].startswith("2026-11-20T01:30:00")  # stored as UTC
    assert v["services"] == ["blood_pressure", "policy"] and v["worker_id"] == reg.worker.id
    h = Household.get_by_id(reg.household["id"])
    assert h.last_visit_at.isoformat() == "2026-11-20T01:30:00"
    assert (h.next_visit_due - h.last_visit_at).days == 7  # 张三 lives alone


def test_log_visit_verb_returns_created_flag(reg):
    from gridapp.visits.service import log_visit

    vid = str(uuid.uuid4())
    data = {"household_id": reg.household["id"], "mode": "电话"}
    visit, created = log_visit(reg.worker, vid, data)
    again, created_again = log_visit(reg.worker, vid, data)
    assert (created, created_again) == (True, False)
    assert again.id == visit.id == vid and again.mode == "phone"


def test_a_replay_is_answered_with_the_stored_visit_even_if_it_would_not_validate_now(reg):
    """The insert is the replay check (after the household's lock); a visit stored before its
    household was removed, or before the rules changed, is still answered as it is."""
    from gridapp.errors import Conflict, NotFound
    from gridapp.registry.models import Household
    from gridapp.visits.service import log_visit

    vid = str(uuid.uuid4())
    data = {"household_id": reg.household["id"], "mode": "home"}
    visit, created = log_visit(reg.worker, vid, data)
    Household.update(deleted=True).where(Household.id == reg.household["id"]).execute()
    again, created_again = log_visit(reg.worker, vid, data)
    assert (created, created_again) == (True, False) and again.id == visit.id
    with pytest.raises(NotFound):  # a new visit to it is refused
        log_visit(reg.worker, str(uuid.uuid4()), data)
    Household.update(deleted=False).where(Household.id == reg.household["id"]).execute()
    with pytest.raises(Conflict):  # the same id for another household
        log_visit(reg.worker, vid, {**data, "household_id": reg.household_b["id"]})


def test_older_visit_arriving_late_keeps_latest(reg, login_as):
    from gridapp.registry.models import Household

    c = login_as(reg.worker)
    c.post("/api/v1/visits", json=_visit(reg, visited_at="2026-11-20T09:00:00Z"))
    c.post("/api/v1/visits", json=_visit(reg, visited_at="2026-11-01T09:00:00Z"))
    assert Household.get_by_id(reg.household["id"]).last_visit_at.day == 20


def test_visit_scoping_and_validation(reg, login_as):
    c = login_as(reg.worker)
    other = c.post(
        "/api/v1/visits", json=_visit(reg, household_id=reg.other_household["id"], resident_ids=[])
    )
    assert other.status_code == 404
    theirs = login_as(reg.other_worker)
    vid = str(uuid.uuid4())
    body = {"id": vid, "household_id": reg.other_household["id"]}
    assert theirs.post("/api/v1/visits", json=body).status_code == 200
    assert c.get(f"/api/v1/visits/{vid}").status_code == 404
    assert c.post("/api/v1/visits", json=body).status_code == 404  # replay by an outsider
    assert c.get(f"/api/v1/visits?grid_id={reg.other_household['grid_id']}").status_code == 404
    assert c.get(f"/api/v1/visits?household_id={reg.other_household['id']}").status_code == 404
    assert c.get("/api/v1/visits").get_json() == []
    bad = c.post("/api/v1/visits", json=_visit(reg, resident_ids=[reg.lisi["id"]]))
    assert bad.status_code == 422 and bad.get_json()["field"] == "resident_ids.0"
    bad = c.post("/api/v1/visits", json=_visit(reg, services=["teleport"]))
    assert bad.status_code == 422 and bad.get_json()["field"] == "services.0"
    bad = c.post("/api/v1/visits", json=_visit(reg, mode="飞鸽"))
    assert bad.status_code == 422 and bad.get_json()["field"] == "mode"
    reused = _visit(reg)
    assert c.post("/api/v1/visits", json=reused).status_code == 200
    reused["household_id"] = reg.household_b["id"]
    clash = c.post("/api/v1/visits", json=reused)
    assert (
        clash.status_code == 409
        and clash.get_json()["current"]["household_id"] == reg.household["id"]
    )


def test_service_catalogue_admin(reg, login_as):
    w, admin = login_as(reg.worker), login_as(reg.admin)
    names = [s["name"] for s in w.get("/api/v1/service-items").get_json()]
    assert names[:4] == ["血压测量", "政策宣传", "代办", "小修小补"]
    assert w.post("/api/v1/service-items", json={"code": "x", "name": "X"}).status_code == 403
    made = admin.post("/api/v1/service-items", json={"code": "haircut", "name": "义务理发"})
    assert made.status_code == 201
    sid = made.get_json()["id"]
    assert admin.patch(f"/api/v1/service-items/{sid}", json={"is_active": False}).status_code == 200
    assert "义务理发" not in [s["name"] for s in w.get("/api/v1/service-items").get_json()]
    dup = admin.post("/api/v1/service-items", json={"code": "bp2", "name": "血压测量"})
    assert dup.status_code == 422 and dup.get_json()["field"] == "name"


def test_a_tag_refresh_racing_a_visit_keeps_the_visits_due_date(app, reg):
    """PostgreSQL, two connections: a visit holds its household locked and uncommitted while a
    tag change refreshes that household's schedule. The refresh must wait and read the visit's
    last_visit_at; reading before it (as it once did) wrote a due date from the older value."""
    import threading

    from gridapp.db import db, is_postgres
    from gridapp.registry.care import refresh_schedules
    from gridapp.registry.models import Household, ResidentTag
    from gridapp.visits.service import log_visit

    if not is_postgres():
        pytest.skip("SQLite has one writer at a time: no interleaving to test")
    hid = reg.household_b["id"]  # no care tags yet: the default interval
    db.close()
    visited, release, done = threading.Event(), threading.Event(), {}

    def visit():
        with app.app_context():
            db.connect(reuse_if_open=True)
            try:
                with db.atomic():
                    log_visit(reg.worker, str(uuid.uuid4()), {"household_id": hid, "mode": "home"})
                    visited.set()
                    assert release.wait(10)
            finally:
                db.close()

    def refresh():
        with app.app_context():
            db.connect(reuse_if_open=True)
            try:
                with db.atomic():  # a tag change: 李四 now lives alone, a shorter interval
                    ResidentTag.create(resident=reg.lisi["id"], tag=reg.tags["elderly_alone"].id)
                    refresh_schedules([hid], changed=[hid])
                done["refresh"] = True
            finally:
                db.close()

    v = threading.Thread(target=visit)
    v.start()
    assert visited.wait(10)
    r = threading.Thread(target=refresh)
    r.start()
    r.join(1.0)
    assert "refresh" not in done  # it waits for the visit's lock
    release.set()
    v.join(10)
    r.join(10)
    assert done.get("refresh")
    db.connect(reuse_if_open=True)
    h = Household.get_by_id(hid)
    assert h.last_visit_at is not None
    assert h.visit_interval_days == reg.tags["elderly_alone"].interval_days
    assert h.next_visit_due == h.last_visit_at + dt.timedelta(days=h.visit_interval_days)
