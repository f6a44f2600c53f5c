"""A resident follows a matter's tracking page by Web Push: subscribe through the real HTTP API,
change the matter as the staff would, and read what the fake push service decrypted."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape as html_unescape

import pytest

from gridapp.echowall.models import EchoPushSubscription
from gridapp.matters.models import Matter
from tests.notifications.conftest import _fresh_jobs  # noqa: F401  (flush huey, JWT cache)


def code_of(resp) -> str:
    return re.search(r'id="tracking-code">([A-Z0-9]+)<', resp.get_data(as_text=True)).group(1)


class Follower:
    """The resident's phone on the tracking page: the page's CSRF token and the URL its button
    posts to, then the push API."""

    def __init__(self, client, code: str, query: str = "") -> None:
        self.client = client
        self.code = code
        html = client.get(f"/t/{code}{query}").get_data(as_text=True)
        self.csrf = re.search(r'data-csrf="([^"]+)"', html).group(1)
        self.url = html_unescape(re.search(r'data-url="([^"]+)"', html).group(1))

    def follow(self, body, code=None):
        return self.client.post(
            self.url if code is None else f"/api/v1/track/{code}/push",
            json=body,
            headers={"X-CSRFToken": self.csrf},
        )

    def unfollow(self, endpoint, code=None):
        return self.client.delete(
            f"/api/v1/track/{code or self.code}/push",
            json={"endpoint": endpoint},
            headers={"X-CSRFToken": self.csrf},
        )


@pytest.fixture
def reported(echo):
    """A matter the resident reported, and their phone on its tracking page."""
    code = code_of(echo.resident.submit(text="小区门口垃圾桶满了没人清", phone="13812345678"))
    return Matter.get(Matter.code == code), Follower(echo.resident.client, code)


def move(client, matter, action, **fields):
    v = client.get(f"/api/v1/matters/{matter.id}").get_json()["version"]
    resp = client.post(
        f"/api/v1/matters/{matter.id}/transition",
        json={"action": action, "version": v, **fields},
    )
    assert resp.status_code == 200, resp.get_json()


def subs():
    return list(EchoPushSubscription.select().order_by(EchoPushSubscription.id))


def test_tracking_page_offers_the_button_and_its_worker(echo, reported):
    matter, phone = reported
    html = phone.client.get(f"/t/{matter.code}").get_data(as_text=True)
    assert 'id="push"' in html and "有进展时通知我" in html and "echowall/track.js" in html
    assert f'data-url="/api/v1/track/{matter.code}/push"' in html
    assert 'data-sw="/t/sw.js"' in html
    sw = phone.client.get("/t/sw.js")
    assert sw.status_code == 200 and sw.mimetype == "text/javascript"
    assert sw.headers["Cache-Control"] == "no-cache"
    assert 'importScripts("/static/public/sw-follow.js")' in sw.get_data(as_text=True)
    shared = phone.client.get("/static/public/sw-follow.js").get_data(as_text=True)
    assert 'addEventListener("push"' in shared
    assert phone.client.get("/api/v1/track/" + matter.code).get_json()["can_subscribe"] is True


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda b: b.update(endpoint="ftp://push.example.com/x"), "endpoint"),
        (lambda b: b.update(endpoint="http://push.example.com/x"), "endpoint"),
        (lambda b: b["keys"].update(p256dh="AAAA"), "keys.p256dh"),
        (lambda b: b["keys"].update(p256dh="not base64 at all!"), "keys.p256dh"),
        (lambda b: b["keys"].update(auth="c2hvcnQ"), "keys.auth"),
        (lambda b: b.pop("keys"), "keys"),
        (lambda b: b.update(endpoint="x" * 2001), "endpoint"),
    ],
)
def test_subscribe_validation_names_the_field(reported, push_service, change, field):
    matter, phone = reported
    body = push_service.subscriber().to_json()
    change(body)
    resp = phone.follow(body)
    assert resp.status_code == 422, resp.get_json()
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["field"] == field
    assert subs() == []


def test_same_endpoint_twice_is_one_row_with_fresh_keys(reported, push_service):
    matter, phone = reported
    sub = push_service.subscriber()
    first = phone.follow(sub.to_json())
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["endpoint"] == sub.endpoint
    again = sub.to_json()
    again["keys"]["auth"] = "AAAAAAAAAAAAAAAAAAAAAA"
    second = phone.follow(again)
    assert second.status_code == 200
    rows = subs()
    assert len(rows) == 1 and rows[0].matter_id == matter.id
    assert rows[0].auth == "AAAAAAAAAAAAAAAAAAAAAA"


def test_each_browser_is_pushed_in_the_language_its_page_was_read_in(echo, reported, push_service):
    matter, phone = reported
    zh, en = push_service.subscriber(), push_service.subscriber()
    assert phone.follow(zh.to_json()).status_code == 201
    english = Follower(echo.resident.client, matter.code, query="?lang=en")
    assert english.url == f"/api/v1/track/{matter.code}/push?lang=en"
    assert english.follow(en.to_json()).status_code == 201
    assert sorted(s.locale for s in subs()) == ["", "en"]
    move(echo.sup_client, matter, "triage", category="社事")
    (zh_got,), (en_got,) = push_service.for_(zh), push_service.for_(en)
    assert zh_got.payload["title"] == f"您的诉求 {matter.code}：正在分派"
    assert en_got.payload["title"] == f"Your report {matter.code}: Being assigned"
    assert (zh_got.payload["body"], en_got.payload["body"]) == (
        "已分类为社事。",
        "Classified as 社事.",
    )
    # following again from a page read in Chinese switches that browser back
    assert Follower(echo.resident.client, matter.code).follow(en.to_json()).status_code == 200
    assert sorted(s.locale for s in subs()) == ["", ""]


def test_subscribing_needs_the_pages_csrf_token(reported, push_service):
    matter, phone = reported
    resp = phone.client.post(
        f"/api/v1/track/{matter.code}/push", json=push_service.subscriber().to_json()
    )
    assert resp.status_code == 400 and resp.get_json()["field"] == "csrf_token"
    assert subs() == []


def test_each_public_change_is_pushed_once_decrypted_and_vapid_signed(echo, reported, push_service):
    matter, phone = reported
    sub = push_service.subscriber()
    assert phone.follow(sub.to_json()).status_code == 201
    sup = echo.sup_client
    move(sup, matter, "triage", category="社事")
    move(sup, matter, "dispatch")
    move(sup, matter, "accept")
    move(sup, matter, "resolve", result="已清运并增加清运频次")
    move(sup, matter, "verify")
    move(sup, matter, "close")
    got = push_service.for_(sub)
    assert [r.errors for r in got] == [[]] * 6
    assert all(r.status == 201 for r in got)
    assert {r.claims["aud"] for r in got} == {push_service.origin}
    titles = [r.payload["title"] for r in got]
    assert titles[0] == f"您的诉求 {matter.code}：正在分派"
    assert titles[-1] == f"您的诉求 {matter.code}：已办结"
    bodies = [r.payload["body"] for r in got]
    assert bodies[0] == "已分类为社事。" and bodies[2] == "承办方已接收。"
    assert bodies[-1] == "已办结，请评价办理结果。"
    assert {r.payload["link"] for r in got} == {f"/t/{matter.code}"}
    assert {r.payload["type"] for r in got} == {"echowall.update"}
    assert len({r.headers["topic"] for r in got}) == 1  # a newer update replaces an older one
    # nothing the tracking page does not show: no phone, no names
    for r in got:
        text = str(r.payload)
        assert "13812345678" not in text and "网格长" not in text and "王小网" not in text
    assert subs()[0].last_success_at is not None
    # the resident's own rating is no news to them
    token = re.search(
        r'name="csrf_token" value="([^"]+)"',
        phone.client.get(f"/t/{matter.code}").get_data(as_text=True),
    ).group(1)
    assert (
        phone.client.post(
            f"/t/{matter.code}/rating", data={"rating": "满意", "csrf_token": token}
        ).status_code
        == 302
    )
    assert len(push_service.for_(sub)) == 6


def test_gone_subscription_is_deleted(echo, reported, push_service):
    matter, phone = reported
    dead, alive = push_service.subscriber(), push_service.subscriber()
    assert phone.follow(dead.to_json()).status_code == 201
    assert phone.follow(alive.to_json()).status_code == 201
    push_service.reply(dead, 410)
    move(echo.sup_client, matter, "triage", category="社事")
    assert [s.endpoint for s in subs()] == [alive.endpoint]
    move(echo.sup_client, matter, "dispatch")
    assert len(push_service.for_(dead)) == 1 and len(push_service.for_(alive)) == 2


@pytest.mark.parametrize("http_date", [False, True], ids=["seconds", "http-date"])
def test_busy_push_service_is_retried_later(echo, reported, push_service, http_date):
    """Retry-After is honoured in both of its forms (RFC 9110: delay-seconds or an HTTP-date)."""
    import email.utils

    from gridapp.jobs import huey

    matter, phone = reported
    sub = push_service.subscriber()
    assert phone.follow(sub.to_json()).status_code == 201
    wait = "120"
    if http_date:
        wait = email.utils.format_datetime(
            dt.datetime.now(dt.UTC) + dt.timedelta(seconds=125), usegmt=True
        )
    push_service.reply(sub, (503, {"Retry-After": wait}))
    move(echo.sup_client, matter, "triage", category="社事")
    assert len(subs()) == 1 and subs()[0].last_success_at is None
    (retry,) = huey.scheduled()
    event_ids, attempt, only = retry.args
    assert attempt == 2 and only == [[event_ids[0], subs()[0].id]]
    assert retry.eta > dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=100)
    huey.flush()
    # the retry itself (what the consumer runs when it is due)
    from gridapp.echowall.push import push_updates_job

    assert push_updates_job.call_local(event_ids, attempt, only) == {"sent": 1}
    assert push_service.for_(sub)[-1].payload["body"] == "已分类为社事。"


def test_unsubscribe(echo, reported, push_service):
    matter, phone = reported
    sub = push_service.subscriber()
    assert phone.follow(sub.to_json()).status_code == 201
    resp = phone.unfollow(sub.endpoint)
    assert resp.status_code == 204
    assert subs() == []
    assert phone.unfollow(sub.endpoint).status_code == 204  # again: nothing to do
    move(echo.sup_client, matter, "triage", category="社事")
    assert push_service.for_(sub) == []


def test_another_matters_code_cannot_reach_the_subscription(echo, reported, push_service, login_as):
    matter, phone = reported
    other = Matter.get(Matter.code == code_of(echo.resident.submit(text="5栋门口的路灯坏了")))
    sub = push_service.subscriber()
    assert phone.follow(sub.to_json()).status_code == 201
    # the other matter's code neither removes it nor gets its pushes
    assert phone.unfollow(sub.endpoint, code=other.code).status_code == 204
    assert len(subs()) == 1
    move(echo.sup_client, other, "triage", category="社事")
    assert push_service.for_(sub) == []
    # the same browser may follow both: one row per matter
    assert phone.follow(sub.to_json(), code=other.code).status_code == 201
    assert sorted(s.matter_id for s in subs()) == sorted([matter.id, other.id])
    # unknown codes and matters not reported through the echo wall cannot be followed
    assert phone.follow(sub.to_json(), code="NOPE2345").status_code == 404
    worker = login_as(echo.worker)
    made = worker.post(
        "/api/v1/matters", json={"grid_id": matter.grid_id, "text": "楼道堆物需要清理"}
    )
    assert made.status_code == 201, made.get_json()
    internal = made.get_json()["tracking_code"]
    resp = phone.follow(sub.to_json(), code=internal)
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"


def test_internal_changes_send_nothing_escalation_does(echo, reported, push_service, org):
    from gridapp.matters.jobs import check_matter_deadlines

    matter, phone = reported
    sub = push_service.subscriber()
    assert phone.follow(sub.to_json()).status_code == 201
    move(echo.sup_client, matter, "triage", category="社事")
    move(echo.sup_client, matter, "dispatch")
    assert len(push_service.for_(sub)) == 2
    m = Matter.get_by_id(matter.id)
    assert check_matter_deadlines(m.warn_at + dt.timedelta(minutes=1))["warned"] == 1
    assert len(push_service.for_(sub)) == 2  # the 80 % warning is the staff's business
    assert check_matter_deadlines(m.deadline_at + dt.timedelta(minutes=1))["escalated"] == 1
    got = push_service.for_(sub)
    assert len(got) == 3 and got[-1].errors == []
    assert got[-1].payload["body"] == "已升级办理。"


def test_a_failing_push_never_fails_the_change(echo, reported, push_service, monkeypatch):
    from gridapp.notifications.channels import WebPushChannel

    matter, phone = reported
    assert phone.follow(push_service.subscriber().to_json()).status_code == 201

    def broken(self, messages):
        raise RuntimeError("push service exploded")

    monkeypatch.setattr(WebPushChannel, "send_many", broken)
    move(echo.sup_client, matter, "triage", category="社事")
    assert Matter.get_by_id(matter.id).state == "triaged"


@pytest.mark.parametrize("app_overrides", [{"ECHOWALL_PUSH_LIMIT": "3 per minute"}])
def test_subscribing_is_rate_limited(reported, push_service):
    matter, phone = reported
    bodies = [push_service.subscriber().to_json() for _ in range(4)]
    bodies[1]["keys"]["auth"] = "short"  # a refused request counts too
    statuses = [phone.follow(body).status_code for body in bodies]
    assert statuses == [201, 422, 201, 429]
    assert len(subs()) == 2
