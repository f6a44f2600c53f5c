"""Tasks through the JSON API: assignment targets, campaigns, transitions, the merged list."""

from __future__ import annotations

import datetime as dt

import pytest

from gridapp.changes import Change
from gridapp.db import utcnow
from gridapp.notifications.models import Notification
from gridapp.tasks.jobs import check_task_deadlines
from gridapp.tasks.models import Task, TaskEvent


def assign(crew, **body):
    resp = crew.api["sup"].post("/api/v1/tasks", json={"title": "入户宣传防诈骗", **body})
    return resp


def move(api, tid, action, expect=200, version=None, **fields):
    if version is None:
        version = Task.get_by_id(tid).version
    resp = api.post(
        f"/api/v1/tasks/{tid}/transition", json={"action": action, "version": version, **fields}
    )
    assert resp.status_code == expect, (action, resp.get_json())
    return resp.get_json()


def test_one_worker_task_lifecycle(crew, org):
    due = (utcnow() + dt.timedelta(days=2)).isoformat() + "Z"
    resp = assign(crew, target="worker", worker_id=crew.w1.id, due_at=due, priority=1)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["count"] == 1 and body["campaign_id"] is None
    tid = body["task_ids"][0]
    assert (
        Notification.select()
        .where(Notification.recipient == crew.w1.id, Notification.type == "task.assigned")
        .exists()
    )
    assert Change.select().where(Change.entity == "task", Change.user_id == crew.w1.id).exists()
    move(crew.api["w1"], tid, "accept")
    move(crew.api["w1"], tid, "start")
    out = move(crew.api["w1"], tid, "done", expect=422)
    assert out["field"] == "note"
    out = move(crew.api["w1"], tid, "done", note="已走访 12 户")
    assert out["state"] == "done" and out["result_note"] == "已走访 12 户"
    move(crew.api["w1"], tid, "verify", expect=403)
    out = move(crew.api["sup"], tid, "verify")
    assert out["state"] == "verified"
    assert [
        e.action for e in TaskEvent.select().where(TaskEvent.task == tid).order_by(TaskEvent.id)
    ] == ["assign", "accept", "start", "done", "verify"]
    assert Task.get_by_id(tid).warn_at is None


def test_worker_returns_with_reason_and_supervisor_reassigns(crew):
    tid = assign(crew, target="worker", worker_id=crew.w1.id).get_json()["task_ids"][0]
    out = move(crew.api["w1"], tid, "return", expect=422)
    assert out["field"] == "reason"
    move(crew.api["w1"], tid, "return", reason="本周请假")
    assert (
        Notification.select()
        .where(Notification.recipient == crew.sup.id, Notification.type == "task.returned")
        .exists()
    )
    move(crew.api["sup"], tid, "reassign", assignee_id=crew.w12.id)
    t = Task.get_by_id(tid)
    assert t.assignee_id == crew.w12.id and t.state == "assigned"
    # the first worker's devices are told it left their list
    assert Change.select().where(Change.user_id == crew.w1.id, Change.deleted == True).exists()  # noqa: E712
    assert crew.api["w1"].get(f"/api/v1/tasks/{tid}").status_code == 404
    move(crew.api["w12"], tid, "accept")


def test_stale_version_is_409_with_current(crew):
    tid = assign(crew, target="worker", worker_id=crew.w1.id).get_json()["task_ids"][0]
    move(crew.api["w1"], tid, "accept", version=1)
    out = move(crew.api["w1"], tid, "start", version=1, expect=409)
    assert out["code"] == "stale" and out["current"]["state"] == "accepted"
    assert Task.get_by_id(tid).state == "accepted"


STATES_BY_PATH = {
    "assigned": [],
    "accepted": ["accept"],
    "in_progress": ["accept", "start"],
    "done": ["accept", "start", "done"],
    "verified": ["accept", "start", "done", "verify"],
    "returned": ["return"],
}
ALLOWED = {
    "assigned": {("w1", "accept"), ("w1", "return")},
    "accepted": {("w1", "start"), ("w1", "return")},
    "in_progress": {("w1", "done"), ("w1", "return")},
    "done": {("sup", "verify"), ("sup", "reject")},
    "verified": set(),
    "returned": {("sup", "reassign")},
}
ACTIONS = ("accept", "start", "return", "done", "verify", "reject", "reassign")


@pytest.mark.parametrize("state", sorted(STATES_BY_PATH))
@pytest.mark.parametrize("who", ["w1", "w2", "sup", "other_sup", "dept"])
def test_illegal_task_moves_are_refused(crew, state, who):
    tid = assign(crew, target="worker", worker_id=crew.w1.id).get_json()["task_ids"][0]
    for action in STATES_BY_PATH[state]:
        api = crew.api["sup"] if action == "verify" else crew.api["w1"]
        move(api, tid, action, note="n", reason="r")
    before = Task.get_by_id(tid)
    for action in ACTIONS:
        if (who, action) in ALLOWED[state]:
            continue
        resp = crew.api[who].post(
            f"/api/v1/tasks/{tid}/transition",
            json={
                "action": action,
                "version": before.version,
                "note": "n",
                "reason": "r",
                "assignee_id": crew.w1.id,
            },
        )
        assert resp.status_code in (403, 404, 409), (who, state, action, resp.get_json())
        if who in ("w2", "other_sup", "dept"):
            assert resp.status_code == 404  # outside their scope: not even visible
    after = Task.get_by_id(tid)
    assert (after.state, after.version) == (before.state, before.version)


def test_campaign_over_grids_and_community(crew, org):
    resp = assign(crew, target="grids", grid_ids=[org.grid.id, org.grid2.id])
    body = resp.get_json()
    # w1, w2 and w12 (two grids, one task)
    assert body["count"] == 3 and body["campaign_id"]
    tasks = list(Task.select().where(Task.campaign == body["campaign_id"]))
    assert sorted(t.assignee_id for t in tasks) == sorted([crew.w1.id, crew.w2.id, crew.w12.id])
    t1 = next(t for t in tasks if t.assignee_id == crew.w1.id)
    move(crew.api["w1"], t1.id, "accept")
    move(crew.api["w1"], t1.id, "start")
    move(crew.api["w1"], t1.id, "done", note="完成")
    prog = crew.api["sup"].get(f"/api/v1/campaigns/{body['campaign_id']}").get_json()
    assert prog["total"] == 3 and prog["complete"] == 1
    per_grid = {g["grid_id"]: (g["total"], g["complete"]) for g in prog["grids"]}
    assert per_grid == {org.grid.id: (2, 1), org.grid2.id: (1, 0)}
    assert crew.api["other_sup"].get(f"/api/v1/campaigns/{body['campaign_id']}").status_code == 404
    resp = assign(crew, target="community", community_id=org.community.id)
    assert resp.get_json()["count"] == 3
    resp = assign(crew, target="community", community_id=org.other_community.id)
    assert resp.status_code == 422 and resp.get_json()["field"] == "community_id"
    resp = assign(crew, target="grids", grid_ids=[org.grid.id, org.other_grid.id])
    assert resp.status_code == 422 and resp.get_json()["field"] == "grid_ids.1"
    resp = assign(crew, target="worker", worker_id=crew.other.id)
    assert resp.status_code == 422 and resp.get_json()["field"] == "worker_id"
    assert (
        crew.api["w1"].post("/api/v1/tasks", json={"title": "x", "target": "worker"}).status_code
        == 403
    )


def test_merged_list_with_care_visits_sorted_by_urgency(crew, org):
    from gridapp.registry.models import Building, Household

    now = utcnow()
    b = Building.create(grid=org.grid, name="1栋")
    overdue = Household.create(
        grid=org.grid, building=b, room="101", next_visit_due=now - dt.timedelta(days=2)
    )
    Household.create(
        grid=org.grid, building=b, room="102", next_visit_due=now + dt.timedelta(days=30)
    )
    Household.create(
        grid=org.other_grid, building=b, room="909", next_visit_due=now - dt.timedelta(days=9)
    )
    soon = assign(
        crew,
        target="worker",
        worker_id=crew.w1.id,
        due_at=(now + dt.timedelta(hours=5)).isoformat() + "Z",
    ).get_json()["task_ids"][0]
    later = assign(
        crew,
        target="worker",
        worker_id=crew.w1.id,
        due_at=(now + dt.timedelta(days=5)).isoformat() + "Z",
    ).get_json()["task_ids"][0]
    undated = assign(
        crew, target="worker", worker_id=crew.w1.id, household_id=overdue.id
    ).get_json()["task_ids"][0]
    items = crew.api["w1"].get("/api/v1/tasks/mine").get_json()
    assert [(i["kind"], i["id"]) for i in items] == [
        ("visit", overdue.id),
        ("task", soon),
        ("task", later),
        ("task", undated),
    ]
    assert items[0]["overdue"] and not items[1]["overdue"]
    assert crew.api["sup"].get("/api/v1/tasks/mine").status_code == 403


def test_task_photos_must_be_the_workers(crew, org):
    from gridapp.photos.models import Photo

    Photo.create(id="ph-other", uploader=crew.other.id, grid_id=org.other_grid.id, storage_key="a")
    Photo.create(id="ph-own", uploader=crew.w1.id, grid_id=org.grid.id, storage_key="b")
    tid = assign(crew, target="worker", worker_id=crew.w1.id).get_json()["task_ids"][0]
    move(crew.api["w1"], tid, "accept")
    move(crew.api["w1"], tid, "start")
    out = move(crew.api["w1"], tid, "done", expect=422, note="ok", photo_ids=["ph-other"])
    assert out["field"] == "photo_ids.0"
    assert Task.get_by_id(tid).state == "in_progress"
    out = move(crew.api["w1"], tid, "done", note="ok", photo_ids=["ph-own"])
    assert out["photo_ids"] == ["ph-own"]
    assert Photo.get_by_id("ph-own").owner_type == "task"


def test_a_done_tasks_photo_is_seen_by_the_supervisor_not_other_communities(crew):
    """A photo uploaded on the phone is the worker's alone until it is attached; attached to a
    task it takes the task's grid, so the supervisor verifying the task can open it."""
    from tests.photos.test_photos import jpeg_with_gps, upload

    tid = assign(crew, target="worker", worker_id=crew.w1.id).get_json()["task_ids"][0]
    pid, resp = upload(crew.api["w1"], jpeg_with_gps())
    assert resp.status_code == 201, resp.get_json()
    assert crew.api["sup"].get(f"/api/v1/photos/{pid}/image").status_code == 404
    move(crew.api["w1"], tid, "accept")
    move(crew.api["w1"], tid, "start")
    move(crew.api["w1"], tid, "done", note="已张贴宣传单", photo_ids=[pid])
    assert crew.api["sup"].get(f"/api/v1/photos/{pid}/image").status_code == 200
    assert crew.api["sup"].get(f"/api/v1/photos/{pid}/thumb").status_code == 200
    assert crew.api["w1"].get(f"/api/v1/photos/{pid}/image").status_code == 200
    assert crew.api["other_sup"].get(f"/api/v1/photos/{pid}/image").status_code == 404
    assert crew.api["other"].get(f"/api/v1/photos/{pid}/image").status_code == 404


def test_migration_gives_earlier_task_photos_their_tasks_grid(crew, org):
    """Before 0201 a task's photos were attached without a grid; the migration repairs them."""
    import importlib

    from gridapp.db import db
    from gridapp.photos.models import Photo

    tid = assign(crew, target="worker", worker_id=crew.w1.id).get_json()["task_ids"][0]
    Photo.create(
        id="ph-old", uploader=crew.w1.id, storage_key="a", owner_type="task", owner_id=str(tid)
    )
    Photo.create(id="ph-loose", uploader=crew.w1.id, storage_key="b")
    importlib.import_module("gridapp.migrations.0201_task_photo_grid").up(None, db)
    assert Photo.get_by_id("ph-old").grid_id == org.grid.id
    assert Photo.get_by_id("ph-loose").grid_id is None  # not attached: still the uploader's


def test_due_soon_and_overdue_notify_once(crew):
    now = utcnow()
    tid = assign(
        crew,
        target="worker",
        worker_id=crew.w1.id,
        due_at=(now + dt.timedelta(hours=10)).isoformat() + "Z",
    ).get_json()["task_ids"][0]
    t = Task.get_by_id(tid)
    assert check_task_deadlines(t.warn_at - dt.timedelta(seconds=1)) == {
        "tasks_overdue": 0,
        "tasks_due_soon": 0,
    }
    assert check_task_deadlines(t.warn_at)["tasks_due_soon"] == 1
    assert check_task_deadlines(t.warn_at)["tasks_due_soon"] == 0
    late = t.due_at + dt.timedelta(minutes=1)
    assert check_task_deadlines(late)["tasks_overdue"] == 1
    assert check_task_deadlines(late)["tasks_overdue"] == 0
    kinds = [n.type for n in Notification.select().where(Notification.recipient == crew.w1.id)]
    assert kinds.count("task.due_soon") == 1 and kinds.count("task.overdue") == 1
    assert (
        Notification.select()
        .where(Notification.recipient == crew.sup.id, Notification.type == "task.overdue")
        .count()
        == 1
    )
