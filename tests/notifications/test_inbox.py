"""The inbox API and notify(): rows first, delivery only after commit."""

from __future__ import annotations

import pytest

from gridapp.changes import Change
from gridapp.db import db
from gridapp.notifications.models import Delivery, Notification
from gridapp.notifications.service import notify


def test_inbox_pages_counts_and_marks_read(worker, make_user, login_as):
    other = make_user("grid_worker")
    ids = [
        notify([worker.id], "task.assigned", f"任务 {i}", "请处理", f"/tasks/{i}")[0]
        for i in range(5)
    ]
    notify([other.id], "task.assigned", "别人的", "", "")
    client = login_as(worker)

    page1 = client.get("/api/v1/notifications?per_page=2").get_json()
    assert page1["total"] == 5 and page1["unread"] == 5
    assert [n["title"] for n in page1["items"]] == ["任务 4", "任务 3"]
    page3 = client.get("/api/v1/notifications?per_page=2&page=3").get_json()
    assert [n["id"] for n in page3["items"]] == [ids[0]]

    assert client.get("/api/v1/notifications/unread-count").get_json() == {"unread": 5}
    resp = client.post(f"/api/v1/notifications/{ids[1]}/read")
    assert resp.status_code == 200 and resp.get_json()["read_at"]
    assert client.get("/api/v1/notifications/unread-count").get_json() == {"unread": 4}
    unread = client.get("/api/v1/notifications?unread=true").get_json()
    assert unread["total"] == 4 and ids[1] not in [n["id"] for n in unread["items"]]

    # someone else's notification is not there
    theirs = Notification.get(Notification.recipient == other.id).id
    assert client.post(f"/api/v1/notifications/{theirs}/read").status_code == 404

    assert client.post("/api/v1/notifications/read-all").get_json() == {"updated": 4}
    assert client.get("/api/v1/notifications/unread-count").get_json() == {"unread": 0}
    assert Notification.get_by_id(theirs).read_at is None


def test_every_inbox_write_records_a_change_for_its_recipient(worker, login_as):
    (nid,) = notify([worker.id], "matter.returned", "退回", "", "/matters/1")
    client = login_as(worker)
    before = Change.select().where(Change.entity == "notification").count()
    client.post(f"/api/v1/notifications/{nid}/read")
    changes = list(Change.select().where(Change.entity == "notification"))
    assert len(changes) == before + 1
    assert {c.user_id for c in changes} == {worker.id}


def test_inbox_needs_login(client):
    assert client.get("/api/v1/notifications").status_code == 401


def test_delivery_waits_for_commit_and_never_follows_a_rollback(subscribed, push_service):
    worker, _client, sub = subscribed

    class Boom(Exception):
        pass

    with pytest.raises(Boom), db.atomic():
        notify([worker.id], "task.assigned", "回滚的任务", "", "/tasks/9")
        assert push_service.for_(sub) == []  # not before commit
        raise Boom
    assert Notification.select().count() == 0
    assert Delivery.select().count() == 0
    assert push_service.for_(sub) == []

    with db.atomic():
        notify([worker.id], "task.assigned", "提交的任务", "", "/tasks/10")
        assert push_service.for_(sub) == []
    (got,) = push_service.for_(sub)
    assert got.payload["title"] == "提交的任务"


def test_a_rolled_back_savepoint_is_not_delivered(subscribed, push_service):
    worker, _client, sub = subscribed
    with db.atomic():
        with pytest.raises(RuntimeError), db.atomic():
            notify([worker.id], "task.assigned", "内层回滚", "", "/tasks/1")
            raise RuntimeError
        notify([worker.id], "task.assigned", "外层提交", "", "/tasks/2")
    assert [r.payload["title"] for r in push_service.for_(sub)] == ["外层提交"]
