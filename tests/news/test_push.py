"""Residents follow a community's news by Web Push: subscribe through the public API with the
page's CSRF token, publish, and read what the fake push service decrypted. The fan-out is
idempotent per (item, follower) and prunes gone subscriptions."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

from gridapp.news.models import NewsDelivery, NewsFollower
from tests.news.conftest import publish


class Phone:
    def __init__(self, client, token: str) -> None:
        html = client.get(f"/n/{token}").get_data(as_text=True)
        self.client = client
        self.csrf = re.search(r'data-csrf="([^"]+)"', html).group(1)
        self.url = unescape(re.search(r'data-url="([^"]+)"', html).group(1))

    def follow(self, body):
        return self.client.post(self.url, json=body, headers={"X-CSRFToken": self.csrf})

    def unfollow(self, endpoint):
        return self.client.delete(
            self.url, json={"endpoint": endpoint}, headers={"X-CSRFToken": self.csrf}
        )


def test_follow_then_publish_pushes_each_follower_once(news, org, app, push_service):
    phones = [Phone(app.test_client(), news.token) for _ in range(3)]
    subs = [push_service.subscriber() for _ in phones]
    for phone, sub in zip(phones, subs, strict=True):
        assert phone.follow(sub.to_json()).status_code == 201
    assert phones[0].follow(subs[0].to_json()).status_code == 200  # again: same row
    assert NewsFollower.select().count() == 3
    item = publish(news.sup_client, org.community.id, title="停水通知", body="明天 8:00 停水。")
    for sub in subs:
        (got,) = push_service.for_(sub)
        assert got.payload["title"] == f"{org.community.name}·停水通知"
        assert got.payload["body"] == "明天 8:00 停水。"
        assert got.payload["link"] == f"/n/{news.token}/{item['id']}"
        assert got.payload["type"] == "news.item"
        assert got.claims["sub"].startswith("mailto:")
        assert got.headers.get("topic") and int(got.headers["ttl"]) > 0
    assert {d.status for d in NewsDelivery.select()} == {"sent"}
    # running the fan-out again sends nothing twice
    from gridapp.news.fanout import fanout

    assert fanout(item["id"]) == {}
    assert all(len(push_service.for_(s)) == 1 for s in subs)
    # unfollow: the next item goes to the two others only
    assert phones[2].unfollow(subs[2].endpoint).status_code == 204
    news.clock.set(news.clock.now + dt.timedelta(minutes=1))
    publish(news.sup_client, org.community.id, title="第二条")
    assert [len(push_service.for_(s)) for s in subs] == [2, 2, 1]


def test_other_communities_followers_get_nothing(news, org, app, push_service):
    mine, theirs = push_service.subscriber(), push_service.subscriber()
    Phone(app.test_client(), news.token).follow(mine.to_json())
    Phone(app.test_client(), news.other_token).follow(theirs.to_json())
    publish(news.sup_client, org.community.id)
    assert len(push_service.for_(mine)) == 1 and push_service.for_(theirs) == []


def test_scheduled_item_pushes_at_its_time_and_gone_subscriptions_are_pruned(
    news, org, app, push_service
):
    keep, gone = push_service.subscriber(), push_service.subscriber()
    for sub in (keep, gone):
        Phone(app.test_client(), news.token).follow(sub.to_json())
    later = news.clock.now + dt.timedelta(hours=1)
    publish(news.sup_client, org.community.id,
            publish_at=later.replace(tzinfo=dt.UTC).isoformat())  # fmt: skip
    assert push_service.for_(keep) == []
    push_service.reply(gone, 410)
    news.clock.set(later)
    from gridapp.news.fanout import release_job

    release_job.call_local()
    assert len(push_service.for_(keep)) == 1
    assert [f.endpoint for f in NewsFollower.select()] == [keep.endpoint]


def test_follow_validation_and_csrf(news, app, push_service):
    phone = Phone(app.test_client(), news.token)
    body = push_service.subscriber().to_json()
    body["endpoint"] = "http://push.example.com/x"
    resp = phone.follow(body)
    assert resp.status_code == 422 and resp.get_json()["field"] == "endpoint"
    no_csrf = app.test_client().post(
        f"/api/v1/news/feeds/{news.token}/push", json=push_service.subscriber().to_json()
    )
    assert no_csrf.status_code == 400
    unknown = phone.client.post(
        "/api/v1/news/feeds/nope/push",
        json=push_service.subscriber().to_json(),
        headers={"X-CSRFToken": phone.csrf},
    )
    assert unknown.status_code == 404
    assert NewsFollower.select().count() == 0
