"""The ``sms`` channel on the real delivery path (``delivery.send_job`` → ``channels()["sms"]``)
against the fake Tencent SMS API, and the status report back to the delivery through
``notifications.receipts``."""

from __future__ import annotations

import datetime as dt

import pytest

from gridapp.notifications.channels import channels
from gridapp.notifications.delivery import send_job
from gridapp.notifications.models import Delivery, Notification
from gridapp.notifications.sms.models import SmsMessage, SmsNumber
from gridapp.org.models import User
from tests.notifications.sms_fixtures import CALLBACK_TOKEN

PHONE = "13912345678"


@pytest.fixture
def app_overrides(clock, sms_config):
    return {"NOTIFY_CLOCK": clock, "PUSH_MAX_ATTEMPTS": 3, "SMS_LINK_BASE": "https://g.example.cn",
            **sms_config}  # fmt: skip


@pytest.fixture
def staff(make_user):
    user = make_user("grid_worker")
    User.update(phone=PHONE).where(User.id == user.id).execute()
    return user


def sms_delivery(user, clock, title="新任务：3栋楼道灯坏了", link="/app#/tasks/7") -> Delivery:
    n = Notification.create(recipient=user.id, type="task.assigned", title=title, body="",
                            link=link, urgent=True)  # fmt: skip
    return Delivery.create(notification=n, channel="sms", dedupe_key=f"{n.id}:sms:0",
                           status="queued", next_attempt_at=clock())  # fmt: skip


def run(d: Delivery) -> Delivery:
    send_job([d.id])
    return Delivery.get_by_id(d.id)


def test_channel_is_there_only_when_configured(app):
    assert "sms" in channels(app)


def test_delivery_goes_out_by_sms_and_the_report_marks_it_delivered(app, client, staff, clock,
                                                                   fake_sms):  # fmt: skip
    d = run(sms_delivery(staff, clock))
    assert d.status == "sent" and d.status_code == 200
    (sent,) = fake_sms.sent
    assert sent.phone == "+86" + PHONE
    assert sent.params == ["新任务：3栋楼道灯坏了", "https://g.example.cn/app#/tasks/7"]
    row = SmsMessage.get(SmsMessage.delivery_id == d.id)
    assert (row.status, row.user_id, row.purpose) == ("sent", staff.id, "notification")
    resp = client.post(f"/hooks/sms/{CALLBACK_TOKEN}", json=[fake_sms.report_body(sent)])
    assert resp.status_code == 200 and resp.get_json()["result"] == 0
    assert Delivery.get_by_id(d.id).delivered_at is not None
    assert SmsMessage.get_by_id(row.id).status == "delivered"


def test_a_failed_report_fails_the_delivery(app, client, staff, clock, fake_sms):
    d = run(sms_delivery(staff, clock))
    resp = client.post(f"/hooks/sms/{CALLBACK_TOKEN}",
                       json=[fake_sms.report_body(fake_sms.sent[0], ok=False)])  # fmt: skip
    assert resp.get_json()["failed"] == 1
    d = Delivery.get_by_id(d.id)
    assert d.status == "failed" and "MK:0004" in d.error and d.delivered_at is None


def test_long_titles_are_shortened_to_the_template_limit(app, staff, clock, fake_sms):
    run(sms_delivery(staff, clock, title="【紧急】" + "非常长的标题" * 10 + " http://x.cn"))
    (sent,) = fake_sms.sent
    assert len(sent.params[0]) == 20 and sent.params[0].endswith("…")
    assert "【" not in sent.params[0] and "http" not in sent.params[0]


def test_rate_limit_is_retried_with_the_same_sms_row(app, staff, clock, fake_sms):
    fake_sms.script("LimitExceeded.PhoneNumberThirtySecondLimit")
    d = run(sms_delivery(staff, clock))
    assert (d.status, d.status_code) == ("retry", 429)
    assert (d.next_attempt_at - clock()).total_seconds() == 30  # the limit's own window
    clock.set(d.next_attempt_at)
    d = run(d)
    assert d.status == "sent" and len(fake_sms.sent) == 1
    assert SmsMessage.select().count() == 1
    assert SmsMessage.get().attempts == 2


def test_server_error_is_retried(app, staff, clock, fake_sms):
    fake_sms.script("http500")
    d = run(sms_delivery(staff, clock))
    assert d.status == "retry" and d.status_code == 503


def test_invalid_number_is_gone_and_disabled(app, staff, clock, fake_sms, make_user):
    fake_sms.script("InvalidParameterValue.IncorrectPhoneNumber")
    sms = channels(app)["sms"]
    assert sms.reachable([staff.id]) == {staff.id}
    d = run(sms_delivery(staff, clock))
    assert d.status == "gone" and d.status_code == 410
    assert SmsNumber.get(SmsNumber.phone == "+86" + PHONE).disabled_at is not None
    assert sms.reachable([staff.id]) == set()
    # the next delivery is gone without asking the provider
    calls = len(fake_sms.calls)
    assert run(sms_delivery(staff, clock)).status == "gone" and len(fake_sms.calls) == calls


def test_blacklisted_number_is_gone(app, staff, clock, fake_sms):
    fake_sms.script("FailedOperation.PhoneNumberInBlacklist")
    assert run(sms_delivery(staff, clock)).status == "gone"


def test_signature_error_fails_for_good(app, staff, clock, fake_sms):
    app.config["SMS_SECRET_KEY"] = "wrong"
    d = run(sms_delivery(staff, clock))
    assert (d.status, d.status_code) == ("failed", 401) and "AuthFailure" in d.error


def test_user_cap_fails_the_delivery(app, staff, clock, fake_sms):
    app.config["SMS_USER_DAILY_CAP"] = 1
    assert run(sms_delivery(staff, clock)).status == "sent"
    d = run(sms_delivery(staff, clock))
    assert (d.status, d.status_code) == ("failed", 403) and "per-user" in d.error
    assert len(fake_sms.sent) == 1


def test_reachable_needs_a_mobile_and_an_active_account(app, make_user, staff):
    landline, none, inactive = make_user(), make_user(), make_user()
    User.update(phone="0351-1234567").where(User.id == landline.id).execute()
    User.update(phone="13700000000", is_active=False).where(User.id == inactive.id).execute()
    sms = channels(app)["sms"]
    assert sms.reachable([staff.id, landline.id, none.id, inactive.id]) == {staff.id}


def _escalate_until_sms(nid: int, clock) -> list[Delivery]:
    from gridapp.notifications.escalation import escalate_due

    for _ in range(6):  # each window of the policy, at most
        rows = list(
            Delivery.select().where(Delivery.notification == nid, Delivery.channel == "sms")
        )
        if rows:
            return rows
        clock.set(clock.now + dt.timedelta(minutes=31))
        escalate_due()
    return []


def test_urgent_task_escalates_to_a_real_sms_and_the_report_closes_it(
    app, client, staff, clock, fake_sms
):
    """The policy's SMS step through the real channel (no push subscription and no 企业微信
    here: the earlier steps reach no one, so the chain gets to SMS), then the provider's status
    report marks that delivery delivered. (Reading it stops the chain: test_escalation.py.)"""
    from gridapp.notifications.service import notify

    (nid,) = notify([staff.id], "task.assigned", "紧急：3栋漏水", "", "/app#/tasks/1", urgent=True)
    (d,) = _escalate_until_sms(nid, clock)
    assert d.status == "sent"
    (sent,) = fake_sms.sent
    assert sent.phone == "+86" + PHONE and sent.params[0] == "紧急：3栋漏水"
    client.post(f"/hooks/sms/{CALLBACK_TOKEN}", json=[fake_sms.report_body(sent)])
    assert Delivery.get_by_id(d.id).delivered_at is not None
