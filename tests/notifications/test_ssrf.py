"""Push endpoints come from browsers (the echo wall's from anyone) and the job consumer connects
to them: only known push services' hosts, only public addresses — when subscribing and again
when connecting (a name re-resolved to loopback gets no connection)."""

from __future__ import annotations

import pytest

from gridapp.notifications.endpoints import (
    DEFAULT_PUSH_HOSTS,
    Policy,
    address_refused,
    host_allowed,
)
from gridapp.notifications.models import Delivery, PushSubscription
from gridapp.notifications.service import notify
from tests.echowall.conftest import echo  # noqa: F401
from tests.echowall.test_push import Follower, code_of, subs
from tests.notifications.conftest import _fresh_jobs  # noqa: F401

REFUSED = [
    "https://127.0.0.1:9443/",
    "https://10.0.0.1/push/x",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/x",
    "https://[::1]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://[fd12::1]/x",
    "https://224.0.0.1/x",
    "https://evil.example/push",  # not a push service
    "https://fcm.googleapis.com.evil.example/x",
    "http://fcm.googleapis.com/fcm/send/x",  # plain http
]


@pytest.mark.parametrize("endpoint", REFUSED)
def test_staff_subscription_refuses(endpoint, worker, login_as, push_service, app):
    app.config["PUSH_ALLOW_LOCAL_HTTP"] = False
    body = push_service.subscriber().to_json()
    body["endpoint"] = endpoint
    resp = login_as(worker).post("/api/v1/push/subscriptions", json=body)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["field"] == "endpoint"
    assert PushSubscription.select().count() == 0


@pytest.mark.parametrize("endpoint", REFUSED[:4] + REFUSED[8:9])
def test_resident_subscription_refuses(endpoint, echo, push_service, app):  # noqa: F811
    app.config["PUSH_ALLOW_LOCAL_HTTP"] = False
    code = code_of(echo.resident.submit(text="路灯坏了好几天了"))
    body = push_service.subscriber().to_json()
    body["endpoint"] = endpoint
    resp = Follower(echo.resident.client, code).follow(body)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["field"] == "endpoint"
    assert subs() == []


def test_an_allowed_host_resolving_to_loopback_is_refused(worker, login_as, push_service, app):
    app.config.update(PUSH_ALLOW_LOCAL_HTTP=False, PUSH_ALLOWED_HOSTS=["localhost"])
    body = push_service.subscriber().to_json()
    body["endpoint"] = "https://localhost:9443/push/x"
    resp = login_as(worker).post("/api/v1/push/subscriptions", json=body)
    assert resp.status_code == 422 and resp.get_json()["code"] == "endpoint_refused"
    app.config["PUSH_ALLOWED_ADDRESSES"] = ["127.0.0.0/8", "::1"]  # a deliberate exception
    assert login_as(worker).post("/api/v1/push/subscriptions", json=body).status_code == 201


def test_rebinding_after_subscribe_gets_no_connection(subscribed, push_service, app):
    worker, _client, sub = subscribed
    # The name was fine when the browser subscribed; now it points at a refused address.
    app.config["PUSH_ALLOW_LOCAL_HTTP"] = False
    app.config["PUSH_ALLOWED_HOSTS"] = ["127.0.0.1"]
    notify([worker.id], "task.assigned", "新任务", "x", "/tasks/1")
    assert push_service.received == []
    (d,) = Delivery.select()
    assert d.status != "sent" and "loopback" in d.error, (d.status, d.error)


def test_host_patterns_and_addresses():
    assert host_allowed("fcm.googleapis.com", DEFAULT_PUSH_HOSTS)
    assert host_allowed("wns2-par02p.notify.windows.com", DEFAULT_PUSH_HOSTS)
    assert host_allowed("web.push.apple.com", DEFAULT_PUSH_HOSTS)
    assert not host_allowed("notify.windows.com", ["*.notify.windows.com"])
    assert not host_allowed("evilfcm.googleapis.com.cn", DEFAULT_PUSH_HOSTS)
    for ip in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
               "100.64.0.1", "224.0.0.1", "0.0.0.0", "::1", "fe80::1", "fd00::1",
               "::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::a00:1", "2002:a00:1::1"):  # fmt: skip
        assert address_refused(ip), ip
    for ip in ("142.250.72.10", "2a00:1450:4001::200e"):
        assert address_refused(ip) is None, ip
    assert address_refused("10.1.2.3", ["10.0.0.0/8"]) is None


def test_every_resolved_address_must_pass():
    """One public and one private answer: refused (an attacker's name can return both)."""
    policy = Policy(
        lambda: {"allowed_hosts": ["push.example"]},
        resolver=lambda host, port: ["142.250.72.10", "10.0.0.5"],
    )
    assert "private" in policy.url_problem("https://push.example/x")
    ok = Policy(
        lambda: {"allowed_hosts": ["push.example"]}, resolver=lambda h, p: ["142.250.72.10"]
    )
    assert ok.url_problem("https://push.example/x") is None
