"""The Atom feed (RFC 4287): required elements, ids stable across edits, times with offsets,
xml:lang, self link, and HTTP caching (ETag / Last-Modified → 304)."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

from tests.news.conftest import publish

A = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
URI = re.compile(r"^(urn:uuid:[0-9a-f-]{36}|tag:[^,]+,\d{4}(-\d\d){0,2}:.+)$")


def parse(resp) -> ET.Element:
    assert resp.status_code == 200
    assert resp.mimetype == "application/atom+xml"
    return ET.fromstring(resp.data)


def check_required(feed: ET.Element, self_url: str) -> None:
    """RFC 4287 4.1.1 / 4.1.2: feed id, title, updated, author (or every entry's), self link;
    entry id, title, updated, content or alternate link; ids are IRIs, times RFC 3339."""
    assert feed.tag == f"{A}feed" and feed.get(XML_LANG) == "zh-CN"
    for tag in ("id", "title", "updated"):
        assert len(feed.findall(f"{A}{tag}")) == 1, tag
    assert URI.match(feed.findtext(f"{A}id"))
    assert RFC3339.match(feed.findtext(f"{A}updated"))
    assert feed.find(f"{A}author/{A}name").text
    links = {(link.get("rel"), link.get("href")) for link in feed.findall(f"{A}link")}
    assert ("self", self_url) in links
    for entry in feed.findall(f"{A}entry"):
        for tag in ("id", "title", "updated"):
            assert len(entry.findall(f"{A}{tag}")) == 1, tag
        assert URI.match(entry.findtext(f"{A}id"))
        assert RFC3339.match(entry.findtext(f"{A}updated"))
        assert RFC3339.match(entry.findtext(f"{A}published"))
        assert entry.find(f"{A}content").get("type") == "html"
        assert entry.find(f"{A}link[@rel='alternate']").get("href").startswith("http")


def test_feed_is_valid_atom_with_stable_ids(news, org, client):
    a = publish(news.sup_client, org.community.id, title="停水通知", body="**明天**停水 <b>x</b>")
    news.clock.set(news.clock.now + dt.timedelta(minutes=10))
    publish(news.sup_client, org.community.id, title="义诊活动")
    url = f"/n/{news.token}/feed.atom"
    feed = parse(client.get(url))
    check_required(feed, f"http://localhost{url}")
    entries = feed.findall(f"{A}entry")
    assert [e.findtext(f"{A}title") for e in entries] == ["义诊活动", "停水通知"]
    first = {e.findtext(f"{A}title"): e.findtext(f"{A}id") for e in entries}
    assert feed.findtext(f"{A}updated").endswith("+08:00")
    content = entries[1].findtext(f"{A}content")
    assert "<strong>明天</strong>" in content and "&lt;b&gt;" in content  # safe HTML, escaped once
    feed_id = feed.findtext(f"{A}id")
    # an edit changes updated, never the ids
    news.clock.set(news.clock.now + dt.timedelta(minutes=10))
    resp = news.sup_client.patch(
        f"/api/v1/news/{a['id']}", json={"version": 1, "title": "停水通知（更新）"}
    )
    assert resp.status_code == 200
    again = parse(client.get(url))
    assert again.findtext(f"{A}id") == feed_id
    ids = {e.findtext(f"{A}title"): e.findtext(f"{A}id") for e in again.findall(f"{A}entry")}
    assert ids["停水通知（更新）"] == first["停水通知"] and ids["义诊活动"] == first["义诊活动"]
    # another community's feed has another id
    other = parse(client.get(f"/n/{news.other_token}/feed.atom"))
    assert other.findtext(f"{A}id") != feed_id and other.findall(f"{A}entry") == []


def test_feed_answers_304_until_it_changes(news, org, client):
    item = publish(news.sup_client, org.community.id)
    url = f"/n/{news.token}/feed.atom"
    first = client.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag and modified and "max-age" in first.headers["Cache-Control"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    news.clock.set(news.clock.now + dt.timedelta(minutes=2))
    news.sup_client.patch(f"/api/v1/news/{item['id']}", json={"version": 1, "title": "改了"})
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert b"\xe6\x94\xb9\xe4\xba\x86" in changed.data  # 改了


def test_unknown_feed_is_404(client):
    assert client.get("/n/nope/feed.atom").status_code == 404
