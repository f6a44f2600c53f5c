"""The resident's rating link for a matter the grid worker reported for them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from gridapp.audit import AuditLog
from gridapp.matters.models import Matter
from gridapp.matters.service import report_matter


def link(people, who, mid, expect=200):
    resp = people.api[who].post(f"/api/v1/matters/{mid}/resident-link")
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def close(flow, mid):
    flow.move(mid, "sup", "triage", category="个事")
    flow.move(mid, "sup", "dispatch")
    flow.move(mid, "worker", "accept")
    flow.move(mid, "worker", "resolve", result="已修好")
    flow.move(mid, "sup", "verify")
    flow.move(mid, "sup", "close")


def rate_from(app, url, rating="满意"):
    """The resident's phone: open the link (stores the key), then rate on the tracking page."""
    resident = app.test_client()
    path = urlsplit(url)
    resp = resident.get(f"{path.path}?{path.query}")
    assert resp.status_code == 302 and "k=" not in resp.headers["Location"]
    html = resident.get(path.path).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    resident.post(f"{path.path}/rating", data={"rating": rating, "csrf_token": token})
    return resident


def test_reporter_gets_a_link_the_resident_rates_once_with(app, flow, people):
    app.config["ECHOWALL_PUBLIC_URL"] = "https://gov.example.cn/"
    mid = flow.report("worker", contact_phone="13812341234")
    body = link(people, "worker", mid)
    matter = Matter.get_by_id(mid)
    assert body["code"] == matter.code
    assert body["url"].startswith(f"https://gov.example.cn/t/{matter.code}?k=")
    key = body["url"].split("k=", 1)[1]
    assert key not in (matter.rating_key or "") and matter.rating_key  # only the hash is kept
    audit = AuditLog.get(AuditLog.action == "matter.resident_link")
    assert audit.actor_id == people.worker.id and audit.target_id == str(mid)
    assert key not in audit.detail
    close(flow, mid)
    # someone with the code but without the key cannot rate
    stranger = app.test_client()
    html = stranger.get(f"/t/{matter.code}").get_data(as_text=True)
    assert 'name="rating"' not in html
    resident = rate_from(app, body["url"])
    assert Matter.get_by_id(mid).rating == "满意"
    html = resident.get(f"/t/{matter.code}").get_data(as_text=True)
    assert 'name="rating"' not in html  # rated once
    assert resident.post(f"/t/{matter.code}/rating", data={"rating": "不满意"}).status_code in (
        302,
        400,
    )
    assert Matter.get_by_id(mid).rating == "满意"
    # once rated, no new link
    assert link(people, "worker", mid, 409)["code"] == "already_rated"


def test_only_the_reporter_gets_a_link(flow, people):
    mid = flow.report("worker")
    for who in ("sup", "other_worker", "admin"):
        link(people, who, mid, 404)
    link(people, "water", mid, 403)  # a department never reports
    assert not AuditLog.select().where(AuditLog.action == "matter.resident_link").exists()
    assert Matter.get_by_id(mid).rating_key is None


def test_echo_wall_matter_is_refused(org, people):
    m = report_matter(None, source="resident", grid_id=org.grid.id, text="路灯坏了")
    problem = link(people, "worker", m.id, 409)
    assert problem["code"] == "resident_reported" and "居民" in problem["detail"]
    assert Matter.get_by_id(m.id).rating_key == m.rating_key  # their own key still works


def test_a_second_link_invalidates_the_first(app, flow, people):
    mid = flow.report("worker")
    first = link(people, "worker", mid)["url"]
    second = link(people, "worker", mid)["url"]
    assert first != second
    close(flow, mid)
    rate_from(app, first)
    assert Matter.get_by_id(mid).rating is None
    rate_from(app, second, "基本满意")
    assert Matter.get_by_id(mid).rating == "基本满意"


def test_reporting_worker_stops_rating_once_the_resident_has_a_link(flow, people):
    """Only the resident rates (DESIGN §11): once the link is issued, the reporting worker's
    `rate` leaves allowed_actions and the server refuses it."""
    mid = flow.report("worker", contact_phone="13812341234")
    close(flow, mid)
    detail = people.api["worker"].get(f"/api/v1/matters/{mid}").get_json()
    assert "rate" in detail["allowed_actions"]
    link(people, "worker", mid)
    detail = people.api["worker"].get(f"/api/v1/matters/{mid}").get_json()
    assert "rate" not in detail["allowed_actions"]
    flow.move(mid, "worker", "rate", expect=403, rating="满意")
    assert Matter.get_by_id(mid).rating is None
