"""Announcements: one inbox row per recipient, exactly once, with read counts."""

from __future__ import annotations

from gridapp.notifications.announcements import fanout
from gridapp.notifications.models import Announcement, Delivery, Notification


def _workers(make_user, org, n, grid):
    return [make_user("grid_worker", grids=[grid]) for _ in range(n)]


def test_a_community_announcement_reaches_every_worker_once(org, make_user, login_as, push_service):
    in_grid1 = _workers(make_user, org, 3, org.grid)
    in_grid2 = _workers(make_user, org, 2, org.grid2)
    elsewhere = _workers(make_user, org, 2, org.other_grid)
    subs = {}
    for w in in_grid1 + in_grid2 + elsewhere:
        sub = push_service.subscriber()
        assert login_as(w).post("/api/v1/push/subscriptions", json=sub.to_json()).status_code == 201
        subs[w.id] = sub
    supervisor = make_user("supervisor", community=org.community)
    boss = login_as(supervisor)

    resp = boss.post(
        "/api/v1/announcements",
        json={"title": "明早停水", "body": "8:00–12:00 检修", "community_id": org.community.id},
    )
    assert resp.status_code == 202, resp.get_json()
    out = resp.get_json()
    assert (out["status"], out["recipients"], out["read"]) == ("done", 5, 0)

    targets = in_grid1 + in_grid2
    rows = list(Notification.select().where(Notification.announcement == out["id"]))
    assert sorted(n.recipient_id for n in rows) == sorted(w.id for w in targets)
    for w in targets:
        (got,) = push_service.for_(subs[w.id])
        assert got.errors == [] and got.payload["title"] == "明早停水"
    for w in elsewhere:
        assert push_service.for_(subs[w.id]) == []

    # the job runs again (a retry after a crash): nothing is written or sent twice
    assert fanout(out["id"], batch=2) == 5
    assert Notification.select().where(Notification.announcement == out["id"]).count() == 5
    assert Delivery.select().count() == 5
    assert len(push_service.received) == 5

    # read counts
    login_as(in_grid1[0]).post(f"/api/v1/notifications/{rows[0].id}/read")
    reader = rows[0].recipient
    login_as(reader).post("/api/v1/notifications/read-all")
    listed = boss.get("/api/v1/announcements").get_json()
    assert [(a["id"], a["recipients"], a["read"]) for a in listed] == [(out["id"], 5, 1)]


def test_a_partial_fanout_is_completed_without_duplicates(org, make_user):
    workers = _workers(make_user, org, 5, org.grid)
    supervisor = make_user("supervisor", community=org.community)
    a = Announcement.create(author=supervisor.id, title="公告", community_id=org.community.id)
    # a first run that died after writing two rows
    for w in workers[:2]:
        Notification.create(recipient=w.id, type="announcement", title="公告", announcement=a.id)
    assert fanout(a.id, batch=2) == 5
    assert fanout(a.id, batch=3) == 5
    got = [n.recipient_id for n in Notification.select().where(Notification.announcement == a.id)]
    assert sorted(got) == sorted(w.id for w in workers)


def test_announcing_to_a_grid_set(org, make_user, login_as):
    g1 = _workers(make_user, org, 2, org.grid)
    _g2 = _workers(make_user, org, 2, org.grid2)
    supervisor = make_user("supervisor", community=org.community)
    resp = login_as(supervisor).post(
        "/api/v1/announcements", json={"title": "一网格开会", "grid_ids": [org.grid.id]}
    )
    assert resp.status_code == 202 and resp.get_json()["recipients"] == 2
    got = {n.recipient_id for n in Notification.select().where(Notification.type == "announcement")}
    assert got == {w.id for w in g1}


def test_announcements_stay_inside_the_supervisors_area(org, make_user, login_as):
    supervisor = make_user("supervisor", community=org.community)
    boss = login_as(supervisor)
    resp = boss.post(
        "/api/v1/announcements", json={"title": "x", "community_id": org.other_community.id}
    )
    assert resp.status_code == 422 and resp.get_json()["field"] == "community_id"
    resp = boss.post("/api/v1/announcements", json={"title": "x", "grid_ids": [org.other_grid.id]})
    assert resp.status_code == 422 and resp.get_json()["field"] == "grid_ids.0"
    resp = boss.post("/api/v1/announcements", json={"title": "x"})
    assert resp.status_code == 422
    worker = make_user("grid_worker")
    resp = login_as(worker).post(
        "/api/v1/announcements", json={"title": "x", "community_id": org.community.id}
    )
    assert resp.status_code == 403
    other_boss = login_as(make_user("supervisor", community=org.community))
    a = boss.post("/api/v1/announcements", json={"title": "y", "community_id": org.community.id})
    assert other_boss.get(f"/api/v1/announcements/{a.get_json()['id']}").status_code == 404
