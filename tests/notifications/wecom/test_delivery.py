"""A notification reaches 企业微信 through the real delivery path: ``notify`` → after commit →
``delivery.dispatch`` (huey, immediate in tests) → the wecom channel → the fake WeCom API; the
outcome lands on the delivery row (sent; retry with the API's delay; gone)."""

from __future__ import annotations

import datetime as dt

from gridapp.notifications import delivery
from gridapp.notifications.models import Delivery, NotificationPreference
from gridapp.notifications.service import notify
from gridapp.notifications.wecom.models import WecomBinding


def enable_wecom(user) -> None:
    NotificationPreference.create(user=user.id, type="*", channel="wecom", enabled=True)


def test_dispatch_sends_a_textcard(app, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    enable_wecom(worker)
    (nid,) = notify([worker.id], "task.assigned", "新任务", "入户走访 3 号楼", "/app#/tasks/1",
                    urgent=True)  # fmt: skip
    d = Delivery.get(Delivery.notification == nid, Delivery.channel == "wecom")
    assert (d.status, d.status_code, d.attempts) == ("sent", 200, 1)
    [sent] = fake_wecom.sent
    assert sent.touser == ["zhangsan"] and sent.textcard["title"] == "新任务"


def test_turned_off_means_not_sent(app, make_user, bind, fake_wecom):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    NotificationPreference.create(user=worker.id, type="*", channel="wecom", enabled=False)
    notify([worker.id], "task.assigned", "新任务", urgent=True)
    assert not Delivery.select().where(Delivery.channel == "wecom").exists()
    assert fake_wecom.sent == []


def test_rate_limit_retries_after_the_delay_then_sends(app, make_user, bind, fake_wecom, clock):
    worker = make_user("grid_worker")
    bind(worker, "zhangsan")
    enable_wecom(worker)
    fake_wecom.fail("message/send", errcode=45009)
    (nid,) = notify([worker.id], "task.assigned", "新任务", urgent=True)
    d = Delivery.get(Delivery.notification == nid, Delivery.channel == "wecom")
    assert (d.status, d.status_code) == ("retry", 429)
    assert d.next_attempt_at == clock.now + dt.timedelta(seconds=60)
    clock.set(clock.now + dt.timedelta(seconds=61))
    delivery.release_due()
    d = Delivery.get_by_id(d.id)
    assert (d.status, d.status_code, d.attempts) == ("sent", 200, 2)
    assert len(fake_wecom.sent) == 1


def test_member_gone_marks_the_delivery_gone_and_disables_the_binding(
    app, make_user, bind, fake_wecom
):
    worker = make_user("grid_worker")
    bind(worker, "left-the-corp")
    enable_wecom(worker)
    (nid,) = notify([worker.id], "task.assigned", "新任务", urgent=True)
    d = Delivery.get(Delivery.notification == nid, Delivery.channel == "wecom")
    assert (d.status, d.status_code) == ("gone", 410)
    b = WecomBinding.get(WecomBinding.user == worker.id)
    assert b.disabled_at is not None and "81013" in b.disabled_reason


def test_unread_push_escalates_to_the_real_wecom_channel(subscribed, bind, fake_wecom, clock):
    """The escalation policy (task.assigned: Web Push, then 企业微信 after 10 minutes unread)
    with the real channel against the fake WeCom API."""
    from gridapp.notifications.escalation import escalate_due

    worker, _client, _sub = subscribed
    bind(worker, "zhangsan")
    (nid,) = notify([worker.id], "task.assigned", "紧急任务", "马上处理", "/app#/tasks/1",
                    urgent=True)  # fmt: skip
    assert fake_wecom.sent == []  # Web Push went first
    clock.set(clock.now + dt.timedelta(minutes=10))
    escalate_due()
    [sent] = fake_wecom.sent
    assert sent.touser == ["zhangsan"] and sent.textcard["title"] == "紧急任务"
    d = Delivery.get(Delivery.notification == nid, Delivery.channel == "wecom")
    assert (d.status, d.status_code, d.hop) == ("sent", 200, 1)
