"""The escalation policy end to end through the jobs (huey immediate mode, a controllable
clock, the periodic ``escalate_due`` scan as the consumer runs it): Web Push at the fake push
service, "wecom" and "sms" as loopback providers registered through configuration."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from gridapp.notifications.delivery import release_due
from gridapp.notifications.escalation import escalate_due
from gridapp.notifications.models import Delivery, Notification
from gridapp.notifications.receipts import mark_failed
from gridapp.notifications.service import notify
from tests.notifications.fakechannel import FakeProvider, LoopbackChannel


@pytest.fixture
def providers() -> Iterator[dict[str, FakeProvider]]:
    found = {"wecom": FakeProvider(), "sms": FakeProvider()}
    yield found
    for p in found.values():
        p.stop()


@pytest.fixture
def loop(providers) -> Iterator[dict[str, LoopbackChannel]]:
    found = {name: LoopbackChannel(name, p.url) for name, p in providers.items()}
    yield found
    for ch in found.values():
        ch.close()


@pytest.fixture
def app_overrides(clock, loop) -> dict[str, Any]:
    return {"NOTIFY_CLOCK": clock, "PUSH_MAX_ATTEMPTS": 3, "NOTIFY_EXTRA_CHANNELS": loop}


def bind(loop, user, wecom: bool = True, sms: bool = True) -> None:
    if wecom:
        loop["wecom"].addresses[user.id] = f"wx{user.id}"
    if sms:
        loop["sms"].addresses[user.id] = f"1380000{user.id:04d}"


def hops_of(nid: int) -> list[tuple]:
    return [
        (d.hop, d.channel, d.status, d.error)
        for d in Delivery.select().where(Delivery.notification == nid).order_by(Delivery.id)
    ]


def test_urgent_task_without_push_goes_to_wecom_then_sms(worker, loop, providers, clock):
    bind(loop, worker)
    (nid,) = notify([worker.id], "task.assigned", "紧急任务", "", "/tasks/1", urgent=True)
    # No subscription: the Web Push hop cannot reach the worker, 企业微信 goes at once.
    assert [g.to for g in providers["wecom"].received] == [f"wx{worker.id}"]
    assert hops_of(nid) == [(0, "webpush", "skipped", "unreachable"), (1, "wecom", "sent", "")]
    n = Notification.get_by_id(nid)
    assert (n.hop_next, n.hop_due_at) == (2, clock.now + dt.timedelta(minutes=30))

    assert escalate_due(clock.now + dt.timedelta(minutes=29)) == 0
    assert providers["sms"].received == []
    clock.set(clock.now + dt.timedelta(minutes=30))
    assert escalate_due() == 1  # still unread: the SMS hop
    (sms,) = providers["sms"].received
    assert (sms.to, sms.notification_id) == (f"1380000{worker.id:04d}", nid)
    assert hops_of(nid)[-1] == (2, "sms", "sent", "")
    n = Notification.get_by_id(nid)
    assert (n.hop_next, n.hop_due_at) == (None, None)
    assert escalate_due(clock.now + dt.timedelta(hours=5)) == 0  # the chain has ended


def test_reading_it_anywhere_stops_the_chain(subscribed, loop, providers, push_service, clock):
    worker, client, sub = subscribed
    bind(loop, worker)
    (nid,) = notify([worker.id], "task.assigned", "紧急任务", "", "/tasks/1", urgent=True)
    assert [r.payload["id"] for r in push_service.for_(sub)] == [nid]
    assert providers["wecom"].received == []
    assert Notification.get_by_id(nid).hop_due_at == clock.now + dt.timedelta(minutes=10)

    clock.set(clock.now + dt.timedelta(minutes=4))
    assert client.post(f"/api/v1/notifications/{nid}/read").status_code == 200
    clock.set(clock.now + dt.timedelta(minutes=6))
    escalate_due()
    assert providers["wecom"].received == [] and providers["sms"].received == []
    assert hops_of(nid) == [(0, "webpush", "sent", ""), (1, "wecom", "skipped", "read")]
    assert Notification.get_by_id(nid).hop_next is None


def test_unread_after_push_goes_to_wecom_in_the_window(subscribed, loop, providers, clock):
    worker, _client, _sub = subscribed
    bind(loop, worker, sms=False)  # no number: the SMS hop is recorded as unreachable
    (nid,) = notify([worker.id], "task.assigned", "紧急任务", "", "/tasks/1", urgent=True)
    clock.set(clock.now + dt.timedelta(minutes=10))
    escalate_due()
    assert [g.notification_id for g in providers["wecom"].received] == [nid]
    clock.set(clock.now + dt.timedelta(minutes=30))
    escalate_due()
    assert hops_of(nid)[1:] == [(1, "wecom", "sent", ""), (2, "sms", "skipped", "unreachable")]


def test_a_gone_push_escalates_at_once(subscribed, loop, providers, push_service, clock):
    worker, _client, sub = subscribed
    bind(loop, worker)
    push_service.reply(sub, 410)
    (nid,) = notify([worker.id], "task.assigned", "紧急任务", "", "/tasks/1", urgent=True)
    assert [g.notification_id for g in providers["wecom"].received] == [nid]
    assert [h[:3] for h in hops_of(nid)] == [(0, "webpush", "gone"), (1, "wecom", "sent")]


def test_a_late_failure_receipt_escalates_at_once(worker, loop, providers, clock):
    bind(loop, worker)
    (nid,) = notify([worker.id], "task.assigned", "紧急任务", "", "/tasks/1", urgent=True)
    wecom = Delivery.get(Delivery.notification == nid, Delivery.channel == "wecom")
    assert mark_failed(wecom.id, "user left the company") is True
    assert [g.notification_id for g in providers["sms"].received] == [nid]


def test_not_urgent_in_quiet_hours_waits_and_never_texts(worker, loop, providers, clock):
    bind(loop, worker)
    night = clock.now.replace(hour=15, minute=30)  # 23:30 in Shanghai
    morning = night.replace(hour=23, minute=0)  # 07:00
    clock.set(night)
    (quiet,) = notify([worker.id], "task.assigned", "明早再说", "", "/tasks/1")
    (loud,) = notify([worker.id], "task.assigned", "马上处理", "", "/tasks/2", urgent=True)
    assert [g.notification_id for g in providers["wecom"].received] == [loud]  # never held
    held = Delivery.get(Delivery.notification == quiet, Delivery.channel == "wecom")
    assert (held.status, held.next_attempt_at) == ("held", morning)
    # Not urgent: no SMS hop at all, so no chain to wait for.
    assert Notification.get_by_id(quiet).hop_next is None
    clock.set(morning)
    assert release_due() == 1
    assert [g.notification_id for g in providers["wecom"].received] == [loud, quiet]
    assert providers["sms"].received == []


def test_users_choose_channels_within_the_policy(worker, login_as, loop, providers, clock):
    bind(loop, worker)
    client = login_as(worker)
    got = client.get("/api/v1/notifications/settings").get_json()
    assert got["available"] == ["webpush", "wecom", "sms", "console"]
    assert "sms" not in got["allowed"]["announcement"] and "sms" in got["allowed"]["task.overdue"]
    bad = client.put(
        "/api/v1/notifications/settings",
        json={"preferences": [{"type": "announcement", "channel": "sms", "enabled": True}]},
    )
    assert bad.status_code == 422 and bad.get_json()["field"] == "preferences.0.channel"
    ok = client.put(
        "/api/v1/notifications/settings",
        json={"preferences": [{"type": "task.assigned", "channel": "wecom", "enabled": False}]},
    )
    assert ok.status_code == 200
    # 企业微信 turned off: the chain goes from the unreachable push straight to SMS (urgent).
    (nid,) = notify([worker.id], "task.assigned", "紧急任务", "", "/tasks/1", urgent=True)
    assert providers["wecom"].received == []
    assert [g.notification_id for g in providers["sms"].received] == [nid]
