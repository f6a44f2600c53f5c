"""The ``sms`` channel's batches: deliveries with the same parameters (an announcement) go as
SendSms calls of up to 200 numbers to the fake Tencent API, each number's status answering its
own delivery; caps reserved per batch; a retried batch sends only what was not sent."""

from __future__ import annotations

import pytest

from gridapp.notifications.channels import Message, channels
from gridapp.notifications.delivery import send_job
from gridapp.notifications.models import Delivery, Notification
from gridapp.notifications.sms import service
from gridapp.notifications.sms.models import SmsMessage, SmsNumber
from gridapp.org.models import User


@pytest.fixture
def app_overrides(clock, sms_config):
    return {"NOTIFY_CLOCK": clock, "PUSH_MAX_ATTEMPTS": 3, "SMS_LINK_BASE": "https://g.example.cn",
            "SMS_DAILY_CAP": 10_000, **sms_config}  # fmt: skip


def workers(n: int) -> list[int]:
    User.insert_many([
        {"username": f"b{i}", "password_hash": "-", "display_name": f"b{i}", "role": "grid_worker",
         "phone": phone(i)} for i in range(n)
    ]).execute()  # fmt: skip
    return [u.id for u in User.select(User.id).where(User.username.startswith("b"))
            .order_by(User.id)]  # fmt: skip


def phone(i: int) -> str:
    return f"139{i:08d}"


def announce(user_ids: list[int], clock, title: str = "停水通知：明天9点至12点") -> list[int]:
    ids = []
    for uid in user_ids:
        n = Notification.create(recipient=uid, type="announcement", title=title, body="",
                                link="/app#/inbox", urgent=True)  # fmt: skip
        d = Delivery.create(notification=n, channel="sms", dedupe_key=f"{n.id}:sms:0",
                            status="queued", next_attempt_at=clock())  # fmt: skip
        ids.append(d.id)
    return ids


def statuses(ids: list[int]) -> list[tuple[str, int | None]]:
    by_id = {d.id: d for d in Delivery.select().where(Delivery.id.in_(ids))}
    return [(by_id[i].status, by_id[i].status_code) for i in ids]


def test_an_announcement_goes_as_one_request_and_one_invalid_number_fails_alone(
    app, clock, fake_sms
):
    users = workers(5)
    fake_sms.script("InvalidParameterValue.IncorrectPhoneNumber", phone="+86" + phone(2))
    ids = announce(users, clock)
    send_job(ids)
    assert fake_sms.requests == [["+86" + phone(i) for i in range(5)]]  # one SendSms call
    got = statuses(ids)
    assert got[2] == ("gone", 410)
    assert [g for i, g in enumerate(got) if i != 2] == [("sent", 200)] * 4
    assert sorted(s.phone for s in fake_sms.sent) == sorted("+86" + phone(i) for i in (0, 1, 3, 4))
    assert SmsNumber.get(SmsNumber.phone == "+86" + phone(2)).disabled_at is not None
    serials = {r.delivery_id: r.serial for r in SmsMessage.select()}
    assert len({serials[i] for i in ids if i != ids[2]}) == 4 and serials[ids[2]] is None
    month = service.local_month(clock())
    assert service.counter(f"count:{month}") == 4
    assert service.counter(f"segments:{month}") == 4


def test_caps_hit_in_the_middle_of_a_batch(app, clock, fake_sms):
    app.config["SMS_DAILY_CAP"] = 3
    users = workers(5)
    ids = announce(users, clock)
    send_job(ids)
    got = statuses(ids)
    assert got[:3] == [("sent", 200)] * 3 and got[3:] == [("failed", 403)] * 2
    assert len(fake_sms.sent) == 3 and len(fake_sms.requests) == 1
    day = service.local_day(clock())
    assert service.counter(f"all:{day}") == 3
    capped = SmsMessage.select().where(SmsMessage.status == "capped")
    assert {r.error for r in capped} == {"deployment daily cap"}


def test_per_user_and_per_number_caps_in_a_batch_give_back_what_they_took(app, clock, fake_sms):
    app.config["SMS_USER_DAILY_CAP"] = 1
    users = workers(4)
    send_job(announce(users[:1], clock, title="第一条"))  # worker 0 used its day's message
    User.update(phone=phone(1)).where(User.id == users[3]).execute()  # 3 shares 1's number
    app.config["SMS_PHONE_DAILY_CAP"] = 1
    ids = announce(users, clock)
    send_job(ids)
    got = statuses(ids)
    assert got[0] == ("failed", 403) and got[1:3] == [("sent", 200)] * 2
    assert got[3] == ("failed", 403)  # the number's one message today went to worker 1
    day = service.local_day(clock())
    assert service.counter(f"all:{day}") == 3  # 1 + 2: the refused ones' slots given back
    assert service.counter(f"user:{users[0]}:{day}") == 1
    assert service.counter(f"user:{users[3]}:{day}") == 0
    assert service.counter(f"phone:+86{phone(1)}:{day}") == 1
    errors = {r.delivery_id: r.error for r in SmsMessage.select()}
    assert errors[ids[0]] == "per-user daily cap" and errors[ids[3]] == "per-number daily cap"


def test_caps_in_a_batch_on_distinct_keys_take_the_fast_path(app, clock, fake_sms):
    app.config["SMS_USER_DAILY_CAP"] = 1
    users = workers(3)
    send_job(announce(users[1:2], clock, title="第一条"))
    ids = announce(users, clock)
    send_job(ids)
    assert statuses(ids) == [("sent", 200), ("failed", 403), ("sent", 200)]
    day = service.local_day(clock())
    assert service.counter(f"all:{day}") == 3
    assert service.counter(f"phone:+86{phone(1)}:{day}") == 1  # given back


def test_a_retried_partly_failed_batch_sends_only_the_failed_ones(app, clock, fake_sms):
    users = workers(4)
    fake_sms.script("LimitExceeded.PhoneNumberThirtySecondLimit", phone="+86" + phone(1))
    ids = announce(users, clock)
    send_job(ids)
    assert statuses(ids) == [("sent", 200), ("retry", 429), ("sent", 200), ("sent", 200)]
    # the channel asked again for the whole batch (a lost outcome, a crashed job): only the
    # one not sent goes to the provider, the others answer from their rows
    sms = channels(app)["sms"]
    clock.set(Delivery.get_by_id(ids[1]).next_attempt_at)
    msgs = [Message(d.id, d.notification_id, d.notification.recipient_id, "announcement",
                    "停水通知：明天9点至12点", "", "/app#/inbox", True)
            for d in Delivery.select().where(Delivery.id.in_(ids)).order_by(Delivery.id)]  # fmt: skip
    outcomes = sms.send_many(msgs)
    assert [o.status_code for o in outcomes] == [200] * 4
    assert fake_sms.requests[1:] == [["+86" + phone(1)]]
    assert len(fake_sms.sent) == 4
    assert SmsMessage.select().count() == 4
    assert SmsMessage.get(SmsMessage.delivery_id == ids[1]).attempts == 2
    # and the delivery layer's own retry finds it sent without a third request
    send_job(ids)
    assert statuses(ids)[1] == ("sent", 200) and len(fake_sms.requests) == 2
    month = service.local_month(clock())
    assert service.counter(f"count:{month}") == 4


def test_more_than_200_recipients_are_split_into_calls_of_200(app, clock, fake_sms):
    users = workers(205)
    sms = channels(app)["sms"]
    msgs = [Message(10_000 + i, 1, uid, "announcement", "停水通知", "", "/app#/inbox", True)
            for i, uid in enumerate(users)]  # fmt: skip
    outcomes = sms.send_many(msgs)
    assert [o.status_code for o in outcomes] == [200] * 205
    assert [len(r) for r in fake_sms.requests] == [200, 5]
    assert len({s.phone for s in fake_sms.sent}) == 205
    assert SmsMessage.select().where(SmsMessage.status == "sent").count() == 205


def test_different_titles_go_as_separate_calls(app, clock, fake_sms):
    users = workers(3)
    sms = channels(app)["sms"]
    msgs = [Message(20_000 + i, 1, uid, "task.assigned", f"任务{i % 2}", "", "/app", True)
            for i, uid in enumerate(users)]  # fmt: skip
    assert [o.status_code for o in sms.send_many(msgs)] == [200] * 3
    assert sorted(len(r) for r in fake_sms.requests) == [1, 2]
    assert {s.params[0] for s in fake_sms.sent} == {"任务0", "任务1"}


def test_the_fake_refuses_more_than_200_numbers(app, fake_sms):
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
        TencentCloudSDKException,
    )
    from tencentcloud.sms.v20210111 import models

    prov = service.provider(app)
    with pytest.raises(ValueError):
        prov.send_many(["+86" + phone(i) for i in range(201)], "2000000", ["a"], "网格通")
    req = models.SendSmsRequest()
    req.PhoneNumberSet = ["+86" + phone(i) for i in range(201)]
    req.SmsSdkAppId, req.SignName = fake_sms.app_id, "网格通"
    req.TemplateId = app.config["SMS_TEMPLATES"]["notify.generic"]
    req.TemplateParamSet = ["停水通知", "https://g.example.cn/app"]
    with pytest.raises(TencentCloudSDKException) as exc:
        prov.client.SendSms(req)
    assert exc.value.get_code() == "LimitExceeded.PhoneNumberCountLimit"
    assert fake_sms.sent == []
