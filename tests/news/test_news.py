"""News domain and HTTP: publish in scope, edit with optimistic concurrency, scheduled
publishing on a controllable clock, expiry, withdrawal, the public page, reads counted once a
day per visitor without storing who, images through the photo pipeline, attachments."""

from __future__ import annotations

import datetime as dt
import io
import re

from PIL import Image

from gridapp.news.models import NewsItem, NewsRead, NewsSalt
from tests.news.conftest import publish


def jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (40, 30), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def iso(when: dt.datetime) -> str:
    return when.replace(tzinfo=dt.UTC).isoformat()


def test_supervisor_publishes_in_their_community_only(news, org):
    item = publish(news.sup_client, org.community.id, pinned=True)
    assert item["status"] == "published" and item["pinned"] and item["version"] == 1
    assert item["publish_at"].endswith("Z")
    resp = news.sup_client.post(
        "/api/v1/news", json={"community_id": org.other_community.id, "title": "x"}
    )
    assert resp.status_code == 422 and resp.get_json()["field"] == "community_id"
    # the street supervisor writes for every community of the street
    publish(news.street_client, org.other_community.id, title="天峰社区通知")
    # a worker may not write
    resp = news.worker_client.post("/api/v1/news", json={"community_id": org.community.id,
                                                         "title": "x"})  # fmt: skip
    assert resp.status_code == 403
    # the other community's supervisor cannot read ours
    assert news.other_client.get(f"/api/v1/news/{item['id']}").status_code == 404
    assert NewsItem.select().count() == 2


def test_validation_names_the_field_and_writes_nothing(news, org):
    c = news.sup_client
    cases = [
        ({"title": ""}, "title"),
        ({"title": "a" * 201}, "title"),
        ({"kind": "gossip"}, "kind"),
        ({"publish_at": "2026-12-01T10:00:00"}, "publish_at"),  # no offset
        ({"publish_at": "2026-12-02T00:00:00Z", "expires_at": "2026-12-01T00:00:00Z"},
         "expires_at"),
        ({"body": "x" * 20_001}, "body"),
    ]  # fmt: skip
    for change, field in cases:
        body = {"community_id": org.community.id, "title": "标题", **change}
        resp = c.post("/api/v1/news", json=body)
        assert resp.status_code == 422, (change, resp.get_json())
        assert resp.mimetype == "application/problem+json"
        assert resp.get_json()["field"] == field, (change, resp.get_json())
    assert NewsItem.select().count() == 0


def test_edit_needs_the_current_version(news, org):
    item = publish(news.sup_client, org.community.id)
    ok = news.sup_client.patch(f"/api/v1/news/{item['id']}", json={"version": 1, "title": "新标题"})
    assert ok.status_code == 200 and ok.get_json()["version"] == 2
    stale = news.street_client.patch(
        f"/api/v1/news/{item['id']}", json={"version": 1, "title": "我的标题"}
    )
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["code"] == "stale_version" and body["current"]["title"] == "新标题"
    assert NewsItem.get_by_id(item["id"]).title == "新标题"


def test_scheduled_item_appears_only_after_its_time(news, org, client):
    later = news.clock.now + dt.timedelta(hours=2)
    item = publish(news.sup_client, org.community.id, title="周末义诊", publish_at=iso(later))
    assert item["status"] == "scheduled"
    page = client.get(f"/n/{news.token}").get_data(as_text=True)
    assert "周末义诊" not in page
    assert client.get(f"/n/{news.token}/{item['id']}").status_code == 404
    assert "周末义诊" not in client.get(f"/n/{news.token}/feed.atom").get_data(as_text=True)
    # the worker's app does not see it either
    assert item["id"] not in [
        i["id"] for i in news.worker_client.get("/api/v1/news").get_json()["items"]
    ]
    from gridapp.news.fanout import release_job

    assert release_job.call_local() == []  # not yet
    news.clock.set(later + dt.timedelta(seconds=1))
    assert release_job.call_local() == [item["id"]]
    assert release_job.call_local() == []  # released once
    assert "周末义诊" in client.get(f"/n/{news.token}").get_data(as_text=True)
    assert news.worker_client.get(f"/api/v1/news/{item['id']}").status_code == 200


def test_expired_and_withdrawn_items_leave_the_page(news, org, client):
    soon = news.clock.now + dt.timedelta(hours=1)
    a = publish(news.sup_client, org.community.id, title="限时通知", expires_at=iso(soon))
    b = publish(news.sup_client, org.community.id, title="撤回通知")
    page = client.get(f"/n/{news.token}").get_data(as_text=True)
    assert "限时通知" in page and "撤回通知" in page
    resp = news.sup_client.post(f"/api/v1/news/{b['id']}/withdraw", json={"version": 1})
    assert resp.status_code == 200 and resp.get_json()["status"] == "withdrawn"
    news.clock.set(soon + dt.timedelta(minutes=1))
    page = client.get(f"/n/{news.token}").get_data(as_text=True)
    assert "限时通知" not in page and "撤回通知" not in page
    assert news.sup_client.get(f"/api/v1/news/{a['id']}").get_json()["status"] == "expired"


def test_pinned_first_and_safe_markup(news, org, client):
    publish(news.sup_client, org.community.id, title="普通消息")
    news.clock.set(news.clock.now + dt.timedelta(minutes=5))
    pinned = publish(
        news.sup_client, org.community.id, title="置顶消息", pinned=True,
        body="第一段 **重点** https://example.gov.cn/a?b=1\n\n- 一\n- 二\n<script>alert(1)</script>",
    )  # fmt: skip
    news.clock.set(news.clock.now + dt.timedelta(minutes=5))
    publish(news.sup_client, org.community.id, title="最新消息")
    page = client.get(f"/n/{news.token}").get_data(as_text=True)
    order = [page.index(t) for t in ("置顶消息", "最新消息", "普通消息")]
    assert order == sorted(order)
    detail = client.get(f"/n/{news.token}/{pinned['id']}").get_data(as_text=True)
    body = re.search(r'<div class="body" id="news-body">(.*?)</div>', detail, re.S).group(1)
    assert "<strong>重点</strong>" in body and "<ul><li>一</li><li>二</li></ul>" not in body
    assert '<a href="https://example.gov.cn/a?b=1" rel="nofollow noopener"' in body
    assert "<script>" not in body and "&lt;script&gt;" in body


def test_reads_counted_once_per_visitor_a_day_without_personal_data(news, org, app):
    item = publish(news.sup_client, org.community.id)
    url = f"/n/{news.token}/{item['id']}"
    a = app.test_client()
    b = app.test_client()
    for _ in range(3):
        assert a.get(url, environ_base={"REMOTE_ADDR": "203.0.113.5"},
                     headers={"User-Agent": "PhoneA"}).status_code == 200  # fmt: skip
    b.get(url, environ_base={"REMOTE_ADDR": "203.0.113.9"}, headers={"User-Agent": "PhoneB"})
    assert news.worker_client.post(f"/api/v1/news/{item['id']}/opened").status_code == 204
    assert news.worker_client.post(f"/api/v1/news/{item['id']}/opened").status_code == 204
    got = news.sup_client.get(f"/api/v1/news/{item['id']}").get_json()
    assert (got["reads_web"], got["reads_app"]) == (2, 1)
    stored = " ".join(r.visitor for r in NewsRead.select())
    assert "203.0.113" not in stored and "PhoneA" not in stored
    assert all(re.fullmatch(r"[0-9a-f]{32}", r.visitor) for r in NewsRead.select())
    # the day's salt goes when the day is over
    from gridapp.news.reads import drop_old_salts

    assert NewsSalt.select().count() == 1
    drop_old_salts(NewsSalt.select().get().day + dt.timedelta(days=1))
    assert NewsSalt.select().count() == 0


def test_images_go_through_the_photo_pipeline(news, org, client):
    item = publish(news.sup_client, org.community.id)
    resp = news.sup_client.post(
        f"/api/v1/news/{item['id']}/images",
        data={"file": (io.BytesIO(jpeg_with_exif()), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 201, resp.get_json()
    (photo_id,) = resp.get_json()["image_ids"]
    img = client.get(f"/n/{news.token}/{item['id']}/images/{photo_id}")
    assert img.status_code == 200 and img.headers["X-Content-Type-Options"] == "nosniff"
    assert b"SecretCam" not in img.data and Image.open(io.BytesIO(img.data)).getexif() == {}
    assert client.get(f"/n/{news.token}/{item['id']}/images/{photo_id}/thumb").status_code == 200
    # not through another community's page
    assert client.get(f"/n/{news.other_token}/{item['id']}/images/{photo_id}").status_code == 404
    bad = news.sup_client.post(
        f"/api/v1/news/{item['id']}/images",
        data={"file": (io.BytesIO(b"not an image"), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and bad.get_json()["field"].startswith("images")


def test_attachments_are_checked_and_served_as_downloads(news, org, client):
    item = publish(news.sup_client, org.community.id)
    url = f"/api/v1/news/{item['id']}/attachments"
    pdf = b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    ok = news.sup_client.post(url, data={"file": (io.BytesIO(pdf), "../../办事指南.pdf")},
                              content_type="multipart/form-data")  # fmt: skip
    assert ok.status_code == 201, ok.get_json()
    (att,) = ok.get_json()["attachments"]
    assert att["filename"] == "办事指南.pdf" and att["content_type"] == "application/pdf"
    for name, data in (("x.pdf", b"<html><script>alert(1)</script>"), ("x.html", pdf),
                       ("x.pdf", b"")):  # fmt: skip
        bad = news.sup_client.post(url, data={"file": (io.BytesIO(data), name)},
                                   content_type="multipart/form-data")  # fmt: skip
        assert bad.status_code == 422, name
        assert bad.get_json()["field"].startswith("attachments")
    got = client.get(f"/n/{news.token}/{item['id']}/files/{att['id']}")
    assert got.status_code == 200 and got.data == pdf
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert (
        "filename*=UTF-8''%E5%8A%9E%E4%BA%8B%E6%8C%87%E5%8D%97.pdf"
        in got.headers["Content-Disposition"]
    )
    assert got.mimetype == "application/pdf"


def test_worker_sees_published_items_of_their_community(news, org):
    mine = publish(news.sup_client, org.community.id, title="本社区")
    publish(news.street_client, org.other_community.id, title="别的社区")
    items = news.worker_client.get("/api/v1/news").get_json()["items"]
    assert [i["title"] for i in items] == ["本社区"]
    assert (
        news.worker_client.patch(f"/api/v1/news/{mine['id']}", json={"version": 1}).status_code
        == 403
    )


def test_echo_wall_and_poster_link_to_the_news(news, org, client):
    wall = client.get(f"/w/{news.token}").get_data(as_text=True)
    assert f'href="/n/{news.token}"' in wall
    svg = news.sup_client.get(f"/echowall/grids/{org.grid.id}/poster.svg").get_data(as_text=True)
    assert f"/n/{news.token}" in svg and "社区信息速递" in svg
    pdf = news.sup_client.get(f"/echowall/grids/{org.grid.id}/poster.pdf")
    assert pdf.status_code == 200


def test_demo_news_is_deterministic_and_covers_every_state(news, org, client):
    from gridapp.news.demo import ITEMS, seed_news
    from gridapp.news.service import status_of

    now = news.clock.now
    assert seed_news(now) == 2 * len(ITEMS)  # both communities have a supervisor
    assert seed_news(now) == 0  # once
    states = {i.title: status_of(i, now) for i in NewsItem.select().where(
        NewsItem.community == org.community.id)}  # fmt: skip
    assert sorted(set(states.values())) == ["expired", "published", "scheduled"]
    assert NewsItem.select().where(NewsItem.pinned).count() == 2
    page = client.get(f"/n/{news.token}").get_data(as_text=True)
    assert "冬季消防安全提示" in page and "燃气安全入户检查" not in page


def test_item_moved_back_into_the_future_is_released_again_at_its_time(news, org):
    from gridapp.news.fanout import release_job

    item = publish(news.sup_client, org.community.id, title="改期通知")
    later = news.clock.now + dt.timedelta(hours=3)
    resp = news.sup_client.patch(
        f"/api/v1/news/{item['id']}", json={"version": 1, "publish_at": iso(later)}
    )
    assert resp.status_code == 200 and resp.get_json()["status"] == "scheduled"
    assert news.worker_client.get(f"/api/v1/news/{item['id']}").status_code == 404
    news.clock.set(later)
    assert release_job.call_local() == [item["id"]]
    assert news.worker_client.get(f"/api/v1/news/{item['id']}").status_code == 200
