"""The service worker's acknowledgment of a push: the delivery id in the payload, and the
receipt endpoint (POST /api/v1/notifications/<id>/received)."""

from __future__ import annotations

import json

from gridapp.notifications import rules
from gridapp.notifications.channels import Message, Payloads


def _msg(nid: int, did: int, recipient: int = 7, body: str = "请今天完成") -> Message:
    return Message(did, nid, recipient, "announcement", "停水通知", body, "", False)


def test_the_payload_carries_the_delivery_id_for_workers_only():
    assert json.loads(_msg(12, 345).payload())["d"] == 345
    assert "d" not in json.loads(_msg(12, 345, recipient=0).payload())  # a resident's push


def test_the_batch_template_is_byte_identical_with_both_ids():
    many = Payloads()
    for nid, did, rcp in [(1, 2, 7), (987654321, 123456789012, 8), (5, 6, 0), (3, 4, 9)]:
        m = _msg(nid, did, rcp)
        assert many(m) == m.payload()
    # Near the size limit the template is not used and the body is shortened as before.
    long = _msg(10**12, 10**15, body="长" * 2000)
    assert many(long) == long.payload() and len(long.payload()) <= rules.MAX_PLAINTEXT
    assert json.loads(long.payload())["d"] == 10**15


# ---- the receipt endpoint ------------------------------------------------------------------


def _pushed(worker, push_service, sub, title="新任务"):
    from gridapp.notifications.models import Delivery
    from gridapp.notifications.service import notify

    (nid,) = notify([worker.id], "task.assigned", title, "", "/tasks/1")
    got = push_service.for_(sub)[-1]
    d = Delivery.get(Delivery.notification == nid)
    assert got.payload["id"] == nid and got.payload["d"] == d.id
    return nid, d.id


def test_the_service_worker_acknowledges_its_push_once(subscribed, push_service):
    from gridapp.notifications.models import Delivery

    worker, client, sub = subscribed
    nid, did = _pushed(worker, push_service, sub)
    url = f"/api/v1/notifications/{nid}/received"
    resp = client.post(url, json={"delivery_id": did})
    assert resp.status_code == 200 and resp.get_json() == {"notification_id": nid, "recorded": 1}
    first = Delivery.get_by_id(did).delivered_at
    assert first is not None
    again = client.post(url, json={"delivery_id": did})  # a repeat (the worker retried)
    assert again.status_code == 200 and again.get_json()["recorded"] == 0
    assert Delivery.get_by_id(did).delivered_at == first


def test_without_a_delivery_id_every_push_of_the_notification_counts(subscribed, push_service):
    from gridapp.notifications.models import Delivery

    worker, client, sub = subscribed
    nid, did = _pushed(worker, push_service, sub)
    resp = client.post(f"/api/v1/notifications/{nid}/received", json={})
    assert resp.get_json()["recorded"] == 1 and Delivery.get_by_id(did).delivered_at


def test_nobody_acknowledges_anothers_delivery(subscribed, push_service, make_user, login_as, app):
    from gridapp.notifications.models import Delivery
    from gridapp.notifications.service import notify

    worker, client, sub = subscribed
    nid, did = _pushed(worker, push_service, sub)
    other = make_user("grid_worker")
    (own,) = notify([other.id], "task.assigned", "别人的", "", "")
    intruder = login_as(other)
    # someone else's notification, with or without its delivery id
    for body in ({"delivery_id": did}, {}):
        resp = intruder.post(f"/api/v1/notifications/{nid}/received", json=body)
        assert resp.status_code == 404
    # their own notification, but naming the worker's delivery
    resp = intruder.post(f"/api/v1/notifications/{own}/received", json={"delivery_id": did})
    assert resp.status_code == 404 and resp.get_json()["field"] == "delivery_id"
    # the worker's own notification naming a delivery of another notification
    nid2, _ = _pushed(worker, push_service, sub, "第二条")
    resp = client.post(f"/api/v1/notifications/{nid2}/received", json={"delivery_id": did})
    assert resp.status_code == 404
    assert Delivery.get_by_id(did).delivered_at is None
    # no session: 401; no CSRF token: 400; a wrong type: 422 naming the field
    from tests.conftest import csrf_token

    anonymous = app.test_client()
    anonymous.environ_base["HTTP_X_CSRFTOKEN"] = csrf_token(anonymous)
    assert anonymous.post(f"/api/v1/notifications/{nid}/received", json={}).status_code == 401
    token = client.environ_base.pop("HTTP_X_CSRFTOKEN")
    assert client.post(f"/api/v1/notifications/{nid}/received", json={}).status_code == 400
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    bad = client.post(f"/api/v1/notifications/{nid}/received", json={"delivery_id": "x"})
    assert bad.status_code == 422 and "delivery_id" in bad.get_data(as_text=True)
    assert Delivery.get_by_id(did).delivered_at is None


# ---- how messages reach me -----------------------------------------------------------------


def test_reach_of_a_worker_without_push_or_other_channels(worker, login_as):
    resp = login_as(worker).get("/api/v1/notifications/reach")
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["webpush"], body["channels"], body["best"], body["instead"]) == (
        "none",
        [],
        None,
        None,
    )
    assert "收件箱" in body["summary"]
    assert [a["code"] for a in body["advice"]] == ["push_off", "no_channel"]


def test_reach_of_a_subscribed_worker_then_silent_pushes(subscribed, push_service, clock):
    import datetime as dt

    worker, client, sub = subscribed
    body = client.get("/api/v1/notifications/reach").get_json()
    assert body["webpush"] == "working" and body["best"] == "webpush"
    (device,) = body["devices"]
    assert device["endpoint"] == sub.endpoint and device["state"] == "working"
    # Two pushes accepted by the push service days ago, never acknowledged by the phone.
    for title in ("一", "二"):
        _pushed(worker, push_service, sub, title)
    clock.set(clock.now + dt.timedelta(days=3))
    body = client.get("/api/v1/notifications/reach").get_json()
    assert body["webpush"] == "failing" and body["devices"][0]["state"] == "failing"
    assert body["devices"][0]["last_sent_at"].endswith("Z")  # an offset, always
    assert body["best"] is None and "推送" in body["advice"][0]["text"]
    assert body["advice"][0]["code"] == "push_failing"


def test_describe_names_the_channel_that_reaches_instead(app, make_user):
    from gridapp.notifications.selfcheck import describe

    class Reaches:
        def __init__(self, name, users):
            self.name, self.users = name, users

        def reachable(self, user_ids):
            return {u for u in user_ids if u in self.users}

    worker = make_user("grid_worker")
    worker.phone = "13812341234"
    worker.save()
    sms = Reaches("sms", {worker.id})
    got = describe(worker, registry={"sms": sms})
    assert got["instead"] == {"name": "sms", "label": "短信 138****1234"}
    assert "短信 138****1234" in got["summary"] and "13812341234" not in str(got)
    wecom = Reaches("wecom", {worker.id})
    got = describe(worker, registry={"wecom": wecom, "sms": sms})
    assert got["instead"]["label"] == "企业微信消息" and len(got["advice"]) == 1
