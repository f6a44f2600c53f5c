"""Web Push against a real peer: the fake push service verifies VAPID and decrypts."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import stat

from gridapp.jobs import huey
from gridapp.notifications import vapid
from gridapp.notifications.delivery import release_due
from gridapp.notifications.models import Delivery, PushSubscription
from gridapp.notifications.service import notify
from tests.notifications.fakepush import FakePushService


def _scheduled_etas() -> list[dt.datetime]:
    return sorted(t.eta for t in huey.scheduled())


# ---- key and subscriptions -------------------------------------------------------------------


def test_push_key_is_the_instance_key(app, client):
    key = client.get("/api/v1/push/key").get_json()["key"]
    point = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(point) == 65 and point[0] == 4 and "=" not in key
    path = vapid.key_path(app.instance_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert vapid.load_keys(app.instance_path).application_server_key == key


def test_rotating_keys_changes_the_key(app, client):
    old = client.get("/api/v1/push/key").get_json()["key"]
    new = vapid.rotate_keys(app.instance_path)
    assert new != old
    assert stat.S_IMODE(os.stat(vapid.key_path(app.instance_path)).st_mode) == 0o600
    assert vapid.load_keys(app.instance_path).application_server_key == new


def test_the_cli_has_push_commands():
    from gridapp.cli import main

    assert {"rotate-keys", "key", "release-due"} <= set(main.commands["push"].commands)


def test_subscribe_is_one_row_per_endpoint(worker, make_user, login_as, push_service):
    client = login_as(worker)
    sub = push_service.subscriber()
    first = client.post("/api/v1/push/subscriptions", json=sub.to_json())
    assert first.status_code == 201
    again = client.post("/api/v1/push/subscriptions", json=sub.to_json())
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    second_device = client.post(
        "/api/v1/push/subscriptions", json=push_service.subscriber().to_json()
    )
    assert second_device.status_code == 201
    assert len(client.get("/api/v1/push/subscriptions").get_json()) == 2

    # the phone passes to a colleague: the subscription follows the logged-in user
    colleague = make_user("grid_worker")
    other = login_as(colleague)
    assert other.post("/api/v1/push/subscriptions", json=sub.to_json()).status_code == 200
    assert PushSubscription.get(PushSubscription.endpoint == sub.endpoint).user_id == colleague.id
    assert PushSubscription.select().count() == 2

    resp = other.delete("/api/v1/push/subscriptions", json={"endpoint": sub.endpoint})
    assert resp.status_code == 204
    assert PushSubscription.select().count() == 1


def test_a_phone_that_changes_hands_gets_nothing_of_the_previous_user(
    subscribed, make_user, login_as, push_service, clock
):
    worker, _client, sub = subscribed
    clock.set(clock.now.replace(hour=15))  # 23:00 in Shanghai: held until morning
    (held,) = notify([worker.id], "matter.returned", "退回给前任", "", "/matters/1")
    assert Delivery.get(Delivery.notification == held).status == "held"
    colleague = make_user("grid_worker")
    assert (
        login_as(colleague).post("/api/v1/push/subscriptions", json=sub.to_json()).status_code
        == 200
    )
    clock.set(clock.now.replace(hour=23))
    release_due()
    assert push_service.received == []
    assert Delivery.get(Delivery.notification == held).status == "skipped"


def test_subscribe_validates_endpoint_and_keys(worker, login_as, push_service):
    client = login_as(worker)
    good = push_service.subscriber().to_json()
    cases = [
        ({**good, "endpoint": "http://push.example.com/x"}, "endpoint"),
        ({**good, "endpoint": "http://10.1.2.3:80/x"}, "endpoint"),
        ({**good, "keys": {**good["keys"], "p256dh": good["keys"]["p256dh"][:-4]}}, "keys.p256dh"),
        ({**good, "keys": {**good["keys"], "auth": "AAAA"}}, "keys.auth"),
    ]
    for body, field in cases:
        resp = client.post("/api/v1/push/subscriptions", json=body)
        assert resp.status_code == 422, body
        assert resp.get_json()["field"] == field
    assert PushSubscription.select().count() == 0


def test_local_endpoints_need_the_explicit_flag(app, worker, login_as, push_service):
    app.config["PUSH_ALLOW_LOCAL_HTTP"] = False  # TESTING alone does not open loopback
    client = login_as(worker)
    resp = client.post("/api/v1/push/subscriptions", json=push_service.subscriber().to_json())
    assert resp.status_code == 422
    app.config["PUSH_ALLOW_LOCAL_HTTP"] = True
    resp = client.post("/api/v1/push/subscriptions", json=push_service.subscriber().to_json())
    assert resp.status_code == 201


# ---- delivery --------------------------------------------------------------------------------


def test_a_notification_arrives_decryptable_with_verified_headers(subscribed, push_service):
    worker, _client, sub = subscribed
    (nid,) = notify([worker.id], "task.assigned", "新任务：入户走访", "请今天完成", "/tasks/7")
    (got,) = push_service.for_(sub)
    assert got.errors == [] and got.status == 201
    d = Delivery.get(Delivery.notification == nid)
    assert got.payload == {
        "id": nid,
        "d": d.id,  # the delivery, for the service worker's acknowledgment
        "type": "task.assigned",
        "title": "新任务：入户走访",
        "body": "请今天完成",
        "link": "/tasks/7",
        "urgent": False,
    }
    assert got.claims["aud"] == push_service.origin  # the port is kept
    assert got.headers["urgency"] == "high"
    assert int(got.headers["ttl"]) > 0
    d = Delivery.get(Delivery.notification == nid)
    assert (d.status, d.status_code, d.attempts, d.channel) == ("sent", 201, 1, "webpush")
    assert PushSubscription.get_by_id(d.subscription_id).last_success_at is not None


def test_every_device_gets_it_and_topic_follows_the_record(subscribed, login_as, push_service):
    worker, client, sub = subscribed
    sub2 = push_service.subscriber()
    client.post("/api/v1/push/subscriptions", json=sub2.to_json())
    notify([worker.id], "task.due_soon", "即将到期", "", "/tasks/3")
    notify([worker.id], "task.due_soon", "即将到期（更新）", "", "/tasks/3")
    notify([worker.id], "task.due_soon", "另一任务", "", "/tasks/4")
    notify([worker.id], "announcement", "通知", "", "")
    for s in (sub, sub2):
        got = push_service.for_(s)
        assert [r.errors for r in got] == [[]] * 4
        topics = [r.headers.get("topic") for r in got]
        assert topics[0] == topics[1] != topics[2]
        assert topics[3] is None  # an announcement replaces nothing: no Topic
        assert [r.headers["urgency"] for r in got] == ["normal"] * 4


def test_a_long_body_is_truncated_to_a_decryptable_message(subscribed, push_service):
    worker, _client, sub = subscribed
    body = "因管网检修，" * 2000
    (nid,) = notify([worker.id], "announcement", "停水通知", body, "")
    (got,) = push_service.for_(sub)
    assert got.errors == []
    assert got.payload["truncated"] is True and got.payload["body"].endswith("…")
    assert len(json.dumps(got.payload, ensure_ascii=False, separators=(",", ":")).encode()) <= 3993
    from gridapp.notifications.models import Notification

    assert Notification.get_by_id(nid).body == body  # the inbox keeps it whole


def test_404_and_410_delete_the_subscription(subscribed, push_service, login_as):
    worker, client, sub = subscribed
    sub410 = push_service.subscriber()
    client.post("/api/v1/push/subscriptions", json=sub410.to_json())
    push_service.reply(sub, 404)
    push_service.reply(sub410, 410)
    notify([worker.id], "task.assigned", "t", "", "/tasks/1")
    assert PushSubscription.select().count() == 0
    statuses = sorted((d.status, d.status_code) for d in Delivery.select())
    assert statuses == [("gone", 404), ("gone", 410)]
    notify([worker.id], "task.assigned", "t2", "", "/tasks/2")
    assert len(push_service.received) == 2  # nothing sent to the pruned devices


def test_429_waits_as_told_then_delivers(subscribed, push_service, clock):
    worker, _client, sub = subscribed
    push_service.reply(sub, (429, {"Retry-After": "120"}))
    (nid,) = notify([worker.id], "task.assigned", "t", "", "/tasks/1")
    d = Delivery.get(Delivery.notification == nid)
    assert (d.status, d.status_code, d.attempts) == ("retry", 429, 1)
    assert d.next_attempt_at == clock.now + dt.timedelta(seconds=120)
    assert _scheduled_etas() == [clock.now + dt.timedelta(seconds=120)]

    assert release_due(clock.now + dt.timedelta(seconds=119)) == 0
    assert release_due(clock.now + dt.timedelta(seconds=120)) == 1
    d = Delivery.get_by_id(d.id)
    assert (d.status, d.status_code, d.attempts) == ("sent", 201, 2)
    assert [r.status for r in push_service.for_(sub)] == [429, 201]
    # the scheduled job finds nothing left to do (the row is claimed once)
    from gridapp.notifications.delivery import send_deliveries

    assert send_deliveries([d.id], clock.now + dt.timedelta(seconds=121)) == 0


def test_429_with_an_http_date(subscribed, push_service, clock):
    worker, _client, sub = subscribed
    when = (clock.now + dt.timedelta(minutes=5)).replace(tzinfo=dt.UTC)
    push_service.reply(sub, (429, {"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")}))
    (nid,) = notify([worker.id], "task.assigned", "t", "", "/tasks/1")
    d = Delivery.get(Delivery.notification == nid)
    assert d.next_attempt_at == clock.now + dt.timedelta(minutes=5)


def test_500_retries_with_backoff_then_gives_up(subscribed, push_service, clock):
    worker, _client, sub = subscribed
    push_service.reply(sub, 500, 502, 503)
    (nid,) = notify([worker.id], "task.assigned", "t", "", "/tasks/1")
    t0 = clock.now
    d = Delivery.get(Delivery.notification == nid)
    assert (d.status, d.attempts, d.next_attempt_at) == ("retry", 1, t0 + dt.timedelta(seconds=30))
    assert release_due(t0 + dt.timedelta(seconds=30)) == 1
    d = Delivery.get_by_id(d.id)
    assert (d.status, d.attempts, d.next_attempt_at) == ("retry", 2, t0 + dt.timedelta(seconds=90))
    assert release_due(t0 + dt.timedelta(seconds=90)) == 1
    d = Delivery.get_by_id(d.id)
    assert (d.status, d.status_code, d.attempts) == ("failed", 503, 3)  # PUSH_MAX_ATTEMPTS=3
    assert release_due(t0 + dt.timedelta(days=1)) == 0
    assert PushSubscription.select().count() == 1  # a server error does not prune


def test_an_unreachable_push_service_is_retried(subscribed, push_service, clock):
    worker, _client, sub = subscribed
    push_service.stop()
    (nid,) = notify([worker.id], "task.assigned", "t", "", "/tasks/1")
    d = Delivery.get(Delivery.notification == nid)
    assert d.status == "retry" and d.status_code is None and "Connection" in d.error


def test_one_jwt_per_origin_across_many_messages(subscribed, login_as, push_service, app):
    worker, client, sub = subscribed
    other_service = FakePushService(expected_key=push_service.expected_key)
    try:
        far = other_service.subscriber()
        client.post("/api/v1/push/subscriptions", json=far.to_json())
        vapid.tokens.clear()
        for i in range(6):
            notify([worker.id], "task.due_soon", f"m{i}", "", f"/tasks/{i}")
        assert len(push_service.for_(sub)) == 6 and len(other_service.for_(far)) == 6
        assert all(r.errors == [] for r in push_service.received + other_service.received)
        assert vapid.tokens.signatures == 2
        assert len({r.headers["authorization"] for r in push_service.received}) == 1
        assert {r.claims["aud"] for r in other_service.received} == {other_service.origin}
    finally:
        other_service.stop()


def test_the_jwt_is_renewed_before_it_expires(app):
    keys = vapid.load_keys(app.instance_path)
    cache = vapid.TokenCache(lifetime=3600, margin=600)
    t0 = 1_800_000_000.0
    a = cache.header(keys, "https://push.example/x", "mailto:a@b.c", now=t0)
    assert cache.header(keys, "https://push.example/y", "mailto:a@b.c", now=t0 + 2999) == a
    assert cache.header(keys, "https://push.example/y", "mailto:a@b.c", now=t0 + 3001) != a
    assert cache.signatures == 2


# ---- preferences, channels, quiet hours ----------------------------------------------------


def test_preferences_choose_channels(subscribed, push_service, caplog):
    worker, client, sub = subscribed
    settings = client.get("/api/v1/notifications/settings").get_json()
    assert {"type": "*", "channel": "webpush", "enabled": True} in settings["preferences"]
    assert settings["quiet_hours"] == {
        "enabled": True,
        "start": "22:00",
        "end": "07:00",
        "timezone": "Asia/Shanghai",
    }
    resp = client.put(
        "/api/v1/notifications/settings",
        json={
            "preferences": [
                {"type": "announcement", "channel": "webpush", "enabled": False},
                {"type": "*", "channel": "console", "enabled": True},
            ]
        },
    )
    assert resp.status_code == 200
    prefs = resp.get_json()["preferences"]
    assert {"type": "announcement", "channel": "webpush", "enabled": False} in prefs
    assert {"type": "task.overdue", "channel": "console", "enabled": True} in prefs

    with caplog.at_level(logging.INFO, logger="gridapp.notifications.console"):
        notify([worker.id], "announcement", "公告", "", "")
        notify([worker.id], "task.overdue", "逾期", "", "/tasks/1")
    assert [r.payload["title"] for r in push_service.for_(sub)] == ["逾期"]
    logged = [r.getMessage() for r in caplog.records if r.name.endswith("console")]
    assert len(logged) == 2 and "公告" in logged[0]
    assert (
        Delivery.select().where(Delivery.channel == "console", Delivery.status == "sent").count()
        == 2
    )

    bad = client.put(
        "/api/v1/notifications/settings",
        json={"preferences": [{"type": "x", "channel": "pigeon", "enabled": True}]},
    )
    assert bad.status_code == 422 and bad.get_json()["field"] == "preferences.0.channel"


def test_quiet_hours_hold_and_release(subscribed, push_service, clock):
    worker, client, sub = subscribed
    night = clock.now.replace(hour=15, minute=30)  # 23:30 in Shanghai
    morning = night.replace(hour=23, minute=0)  # 07:00 in Shanghai
    clock.set(night)
    (nid,) = notify([worker.id], "task.due_soon", "明天到期", "", "/tasks/1")
    d = Delivery.get(Delivery.notification == nid)
    assert (d.status, d.next_attempt_at, d.attempts) == ("held", morning, 0)
    assert _scheduled_etas() == [morning]
    assert push_service.received == []

    notify([worker.id], "matter.escalated", "紧急上报", "", "/matters/1", urgent=True)
    assert [r.payload["title"] for r in push_service.received] == ["紧急上报"]

    (read_first,) = notify([worker.id], "task.due_soon", "已在收件箱看过", "", "/tasks/2")
    client.post(f"/api/v1/notifications/{read_first}/read")

    assert release_due(morning - dt.timedelta(minutes=1)) == 0
    clock.set(morning)
    assert release_due() == 2
    assert [r.payload["title"] for r in push_service.for_(sub)] == ["紧急上报", "明天到期"]
    assert Delivery.get_by_id(d.id).status == "sent"
    skipped = Delivery.get(Delivery.notification == read_first)
    assert (skipped.status, skipped.error) == ("skipped", "read before delivery")


def test_quiet_hours_are_per_user(subscribed, push_service, clock):
    worker, client, sub = subscribed
    resp = client.put(
        "/api/v1/notifications/settings",
        json={
            "quiet_hours": {
                "enabled": True,
                "start": "10:00",
                "end": "12:30",
                "timezone": "Asia/Shanghai",
            }
        },
    )
    assert resp.get_json()["quiet_hours"]["end"] == "12:30"
    (nid,) = notify([worker.id], "task.due_soon", "午前", "", "/tasks/1")  # 11:00 local
    d = Delivery.get(Delivery.notification == nid)
    assert d.status == "held" and d.next_attempt_at == clock.now.replace(hour=4, minute=30)
    client.put("/api/v1/notifications/settings", json={"quiet_hours": {"enabled": False}})
    notify([worker.id], "task.due_soon", "不再静音", "", "/tasks/2")
    assert [r.payload["title"] for r in push_service.for_(sub)] == ["不再静音"]
    bad = client.put(
        "/api/v1/notifications/settings", json={"quiet_hours": {"timezone": "Mars/Olympus"}}
    )
    assert bad.status_code == 422 and bad.get_json()["field"] == "quiet_hours.timezone"
    for field, value in (("start", "25:00"), ("end", "07:61")):
        bad = client.put("/api/v1/notifications/settings", json={"quiet_hours": {field: value}})
        assert bad.status_code == 422 and bad.get_json()["field"] == f"quiet_hours.{field}"
    assert (
        client.get("/api/v1/notifications/settings").get_json()["quiet_hours"]["enabled"] is False
    )


def test_rotate_keys_command(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **os.environ,
        "GRIDAPP_INSTANCE": str(tmp_path / "inst"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
    }
    env.pop("REDIS_URL", None)
    gridapp = Path(sys.executable).parent / "gridapp"

    def run(*args: str) -> str:
        done = subprocess.run(
            [str(gridapp), *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    first = run("push", "key")
    assert vapid.load_keys(tmp_path / "inst").application_server_key == first
    assert run("push", "rotate-keys", "--yes").startswith("dropped 0 subscription")
    assert vapid.load_keys(tmp_path / "inst").application_server_key != first
    assert stat.S_IMODE(os.stat(tmp_path / "inst" / vapid.KEY_FILE).st_mode) == 0o600


def test_a_dispatch_job_run_twice_sends_once(subscribed, push_service, clock):
    from gridapp.notifications.delivery import dispatch

    worker, _client, sub = subscribed
    (nid,) = notify([worker.id], "task.assigned", "t", "", "/tasks/1")
    assert [r.status for r in push_service.for_(sub)] == [201]
    # huey retries a failed dispatch job: the rows it wrote are not written or sent again
    dispatch([nid], clock.now)
    assert len(push_service.for_(sub)) == 1
    assert Delivery.select().where(Delivery.notification == nid).count() == 1


def test_deliveries_left_sending_by_a_crash_are_sent_later(subscribed, push_service, clock):
    from gridapp.notifications import delivery

    worker, _client, sub = subscribed
    real = delivery.deliver
    delivery.deliver = lambda rows, now: 0  # the worker dies between the INSERT and the POSTs
    try:
        (nid,) = notify([worker.id], "task.assigned", "t", "", "/tasks/1")
    finally:
        delivery.deliver = real
    d = Delivery.get(Delivery.notification == nid)
    assert (d.status, d.attempts) == ("sending", 1) and d.claim
    assert push_service.for_(sub) == []
    assert release_due(clock.now + dt.timedelta(minutes=14)) == 0  # maybe still in flight
    assert release_due(clock.now + dt.timedelta(minutes=16)) == 1
    d = Delivery.get_by_id(d.id)
    assert (d.status, d.attempts, d.claim) == ("sent", 2, None)
    assert [r.status for r in push_service.for_(sub)] == [201]


def test_an_announcement_to_many_phones_arrives_over_few_connections(org, make_user, login_as, app):
    """Many subscribers of one push service: every message arrives decryptable, over a few
    keep-alive connections (runs of requests), not one connection per message."""
    from gridapp.notifications.announcements import announce
    from gridapp.notifications.channels import channels
    from gridapp.scope import scope_for

    app.config["PUSH_ALLOW_LOCAL_HTTP"] = True  # the fake service listens on 127.0.0.1
    key = channels(app)["webpush"].keys().application_server_key
    service = FakePushService(expected_key=key)
    try:
        grid = org.grid
        subs = {}
        for i in range(40):
            w = make_user("grid_worker", grids=[grid], username=f"fan{i}")
            subs[w.id] = service.subscriber()
            resp = login_as(w).post("/api/v1/push/subscriptions", json=subs[w.id].to_json())
            assert resp.status_code == 201
        boss = make_user("supervisor")
        http = channels(app)["webpush"].http
        before = http.connections_opened
        announce(boss, scope_for(boss), "停水通知", "明天停水", grid_ids=[grid.id])
        assert sorted(r.status for r in service.received) == [201] * 40
        assert all(r.errors == [] and r.payload["title"] == "停水通知" for r in service.received)
        assert http.connections_opened - before <= 8
    finally:
        channels(app)["webpush"].close()
        service.stop()
