"""The supervisor's console flow: write (with an image and an attachment), see it listed with
its status and reads, edit, lose a concurrent edit without overwriting, withdraw, republish;
times entered in Beijing time are stored in UTC."""

from __future__ import annotations

import datetime as dt
import io
import re

from gridapp.news.models import NewsAttachment, NewsImage, NewsItem
from tests.news.test_news import jpeg_with_exif

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def form(**over):
    data = {"community_id": "", "kind": "news", "title": "垃圾分类新规", "body": "第一段\n\n第二段",
            "publish_at": "", "expires_at": ""}  # fmt: skip
    data.update(over)
    return data


def test_console_write_edit_conflict_withdraw(news, org, client):
    c = news.sup_client
    page = c.get("/console/news")
    assert page.status_code == 200 and 'id="news-new"' in page.get_data(as_text=True)
    assert "/console/news" in c.get("/console/").get_data(as_text=True)  # in the nav
    new = c.get("/console/news/new").get_data(as_text=True)
    assert 'name="publish_at"' in new and org.other_community.name not in new
    data = form(community_id=str(org.community.id), pinned="1",
                publish_at="2026-11-30T18:30", expires_at="2026-12-31T23:59")  # fmt: skip
    data["images"] = (io.BytesIO(jpeg_with_exif()), "p.jpg")
    data["attachments"] = (io.BytesIO(PDF), "指南.pdf")
    resp = c.post("/console/news/new", data=data, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    item = NewsItem.get()
    # 18:30 in Beijing is 10:30 UTC
    assert item.publish_at == dt.datetime(2026, 11, 30, 10, 30)
    assert item.expires_at == dt.datetime(2026, 12, 31, 15, 59)
    assert item.pinned and NewsImage.select().count() == 1 and NewsAttachment.select().count() == 1
    listing = c.get("/console/news").get_data(as_text=True)
    assert re.search(rf'data-news="{item.id}" data-status="scheduled"', listing)
    edit = c.get(f"/console/news/{item.id}").get_data(as_text=True)
    assert 'value="2026-11-30T18:30"' in edit and 'name="version" value="1"' in edit
    # someone else saves first
    other = news.street_client.patch(
        f"/api/v1/news/{item.id}", json={"version": 1, "title": "街道改的"}
    )
    assert other.status_code == 200
    stale = c.post(f"/console/news/{item.id}", data=form(title="我改的", version="1"))
    assert stale.status_code == 409
    text = stale.get_data(as_text=True)
    assert "街道改的" in text and 'name="version" value="2"' in text
    assert NewsItem.get_by_id(item.id).title == "街道改的"
    ok = c.post(f"/console/news/{item.id}", data=form(title="我改的", version="2",
                                                   publish_at="2026-11-30T09:00"))  # fmt: skip
    assert ok.status_code == 302
    item = NewsItem.get_by_id(item.id)
    assert item.title == "我改的" and item.released_at is not None  # 09:00 Beijing has passed
    assert (
        c.post(f"/console/news/{item.id}/withdraw", data={"version": str(item.version)}).status_code
        == 302
    )
    assert NewsItem.get_by_id(item.id).withdrawn
    listing = c.get("/console/news").get_data(as_text=True)
    assert f'data-news="{item.id}" data-status="withdrawn"' in listing
    item = NewsItem.get_by_id(item.id)
    c.post(f"/console/news/{item.id}/withdraw", data={"version": str(item.version), "restore": "1"})
    assert not NewsItem.get_by_id(item.id).withdrawn


def test_console_errors_name_the_field(news, org):
    c = news.sup_client
    resp = c.post("/console/news/new", data=form(community_id=str(org.community.id), title=""))
    assert resp.status_code == 422 and 'data-field="title"' in resp.get_data(as_text=True)
    resp = c.post("/console/news/new", data=form(community_id=str(org.other_community.id)))
    assert resp.status_code == 422 and 'data-field="community_id"' in resp.get_data(as_text=True)
    resp = c.post(
        "/console/news/new",
        data={**form(community_id=str(org.community.id)),
              "attachments": (io.BytesIO(b"MZ\x90\x00"), "setup.pdf")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert resp.status_code == 422 and "attachments" in resp.get_data(as_text=True)
    resp = c.post("/console/news/new", data=form(community_id=str(org.community.id),
                                                 publish_at="tomorrow"))  # fmt: skip
    assert resp.status_code == 422 and 'data-field="publish_at"' in resp.get_data(as_text=True)
    assert NewsItem.select().count() == 0


def test_console_is_scoped(news, org):
    from tests.news.conftest import publish

    item = publish(news.sup_client, org.community.id)
    assert news.other_client.get(f"/console/news/{item['id']}").status_code == 404
    assert news.worker_client.get("/console/news").status_code in (302, 403)
    assert news.street_client.get(f"/console/news/{item['id']}").status_code == 200


def test_console_edit_with_an_empty_publish_time_keeps_it(news, org):
    from tests.news.conftest import publish

    item = publish(news.sup_client, org.community.id)
    before = NewsItem.get_by_id(item["id"]).publish_at
    resp = news.sup_client.post(f"/console/news/{item['id']}", data=form(version="1"))
    assert resp.status_code == 302
    assert NewsItem.get_by_id(item["id"]).publish_at == before
