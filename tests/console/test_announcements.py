"""Announcements from the console: sent to a community's workers, read counts shown."""

from __future__ import annotations

from gridapp.notifications.models import Announcement, Notification
from tests.console.conftest import form_post


def test_send_announcement_and_see_read_counts(app, org, people, login_as, make_user):
    other = make_user("grid_worker", grids=[org.grid2])
    far = make_user("grid_worker", grids=[org.other_grid])
    sup = login_as(people["supervisor"])
    resp = form_post(
        sup,
        "/console/announcements",
        {
            "title": "周五消防演练",
            "body": "请各网格员通知居民",
            "to": "community",
            "community_id": org.community.id,
        },
    )
    assert resp.status_code == 302
    a = Announcement.get(Announcement.title == "周五消防演练")
    got = {n.recipient_id for n in Notification.select().where(Notification.announcement == a.id)}
    assert got == {people["grid_worker"].id, other.id} and far.id not in got
    # one worker reads it through the inbox API
    worker = login_as(people["grid_worker"])
    nid = Notification.get(
        Notification.announcement == a.id, Notification.recipient == people["grid_worker"].id
    ).id
    from gridapp.db import utcnow

    Notification.update(read_at=utcnow()).where(Notification.id == nid).execute()
    page = sup.get("/console/announcements").get_data(as_text=True)
    row = page.split(f'data-announcement="{a.id}"', 1)[1].split("</tr>", 1)[0]
    assert "1 / 2" in row
    assert worker.get("/api/v1/me").status_code == 200


def test_announcement_outside_scope_is_refused(org, people, login_as):
    sup = login_as(people["supervisor"])
    resp = form_post(
        sup,
        "/console/announcements",
        {"title": "越界", "to": "community", "community_id": org.other_community.id},
    )
    assert resp.status_code == 422
    resp = form_post(
        sup,
        "/console/announcements",
        {"title": "", "to": "community", "community_id": org.community.id},
    )
    assert resp.status_code == 422 and 'data-field="title"' in resp.get_data(as_text=True)
    assert Announcement.select().count() == 0
