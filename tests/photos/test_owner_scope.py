"""A photo can never join another grid's record: naming a visit, matter or task outside the
uploader's scope is a 404 (API) or a rejected op (sync), and the record's photo_ids stay as
they were — including for photo rows that named it before this rule."""

from __future__ import annotations

import uuid

import pytest

from tests.photos.test_photos import jpeg_with_gps, upload
from tests.sync.test_push import op, push


@pytest.fixture
def records(reg, org, login_as):
    """A visit, a matter and a task of org.grid (reg.worker's), as the API made them."""
    worker = login_as(reg.worker)
    visit_id = str(uuid.uuid4())
    resp = worker.post(
        "/api/v1/visits",
        json={"id": visit_id, "household_id": reg.household["id"],
              "visited_at": "2026-11-20T09:30:00+08:00", "mode": "home"},
    )  # fmt: skip
    assert resp.status_code in (200, 201), resp.get_json()
    matter = worker.post(
        "/api/v1/matters", json={"grid_id": org.grid.id, "text": "楼道灯坏了", "title": "灯"}
    )
    assert matter.status_code == 201, matter.get_json()
    matter = matter.get_json()["matter"]
    task = login_as(reg.supervisor).post(
        "/api/v1/tasks", json={"title": "入户宣传", "target": "worker", "worker_id": reg.worker.id}
    )
    assert task.status_code == 201, task.get_json()
    return {
        "visit": (visit_id, f"/api/v1/visits/{visit_id}"),
        "matter": (str(matter["id"]), f"/api/v1/matters/{matter['id']}"),
        "task": (str(task.get_json()["task_ids"][0]), f"/api/v1/tasks/{task.get_json()['task_ids'][0]}"),
    }  # fmt: skip


@pytest.mark.parametrize("owner_type", ["visit", "matter", "task"])
def test_naming_another_grids_record_is_404(reg, login_as, records, owner_type):
    from gridapp.photos.models import Photo

    owner_id, url = records[owner_type]
    stranger = login_as(reg.other_worker)
    pid, resp = upload(stranger, jpeg_with_gps(), owner_type=owner_type, owner_id=owner_id)
    assert resp.status_code == 404, resp.get_json()
    assert Photo.get_or_none(Photo.id == pid) is None
    # and a repeated upload of an existing photo cannot re-point it either
    pid, ok = upload(stranger, jpeg_with_gps())
    assert ok.status_code == 201
    _, again = upload(
        stranger, jpeg_with_gps(), photo_id=pid, owner_type=owner_type, owner_id=owner_id
    )
    assert again.status_code == 404
    assert login_as(reg.worker).get(url).get_json()["photo_ids"] == []


def test_unknown_owner_type_is_422(reg, login_as):
    _, resp = upload(login_as(reg.worker), jpeg_with_gps(), owner_type="household", owner_id="1")
    assert resp.status_code == 422 and resp.get_json()["field"] == "owner_type"


def test_a_row_that_named_the_visit_before_the_rule_is_not_listed(reg, login_as, records):
    from gridapp.photos.models import Photo

    visit_id, url = records["visit"]
    Photo.create(
        id=str(uuid.uuid4()), uploader=reg.other_worker.id, grid_id=None, owner_type="visit",
        owner_id=visit_id, content_type="image/jpeg", width=1, height=1, size=1,
        storage_key="x", thumb_key="y",
    )  # fmt: skip
    assert login_as(reg.worker).get(url).get_json()["photo_ids"] == []
    rows = login_as(reg.worker).get("/api/v1/sync").get_json()["rows"]
    visits = [r for r in rows if r["entity"] == "visit"]
    assert len(visits) == 1, rows[:3]
    assert visits[0]["data"]["photo_ids"] == [], visits


def test_sync_ops_cannot_attach_to_another_grids_record(reg, org, login_as, records):
    stranger = login_as(reg.other_worker)
    pid, resp = upload(stranger, jpeg_with_gps())
    assert resp.status_code == 201
    visit_id, visit_url = records["visit"]
    task_id, task_url = records["task"]
    results = push(
        stranger,
        op("visit.create", {"id": visit_id, "household_id": reg.household["id"],
                            "visited_at": "2026-11-20T09:30:00+08:00", "mode": "home",
                            "photo_ids": [pid]}),
        op("task.transition", {"id": int(task_id), "action": "accept", "photo_ids": [pid]}, 1),
        op("matter.report", {"client_id": "m-s", "grid_id": org.grid.id, "title": "x",
                             "description": "别的网格", "photo_ids": [pid]}),
    )  # fmt: skip
    assert [r["status"] for r in results] == ["rejected"] * 3, results
    owner = login_as(reg.worker)
    assert owner.get(visit_url).get_json()["photo_ids"] == []
    assert owner.get(task_url).get_json()["photo_ids"] == []
    for m in owner.get("/api/v1/matters").get_json():
        assert pid not in owner.get(f"/api/v1/matters/{m['id']}").get_json()["photo_ids"]
