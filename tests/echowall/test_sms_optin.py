"""A resident's opted-in SMS (issue 13): the tracking page offers it to the reporter's phone only,
records the consent, says which channel will be used, and the staff's changes send exactly one
SMS when the matter is answered and one when it is closed, through the job path to the fake
Tencent SMS API; never at night; withdrawable."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from gridapp.echowall.models import EchoSmsConsent
from gridapp.matters.models import Matter
from gridapp.notifications.sms.models import SmsMessage
from gridapp.notifications.sms.service import release_due
from tests.echowall.test_push import code_of, move
from tests.notifications.conftest import Clock, _fresh_jobs  # noqa: F401

PHONE = "13812345678"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app_overrides(clock, sms_config):
    return {"NOTIFY_CLOCK": clock, **sms_config}


def page_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def reported(echo):
    resp = echo.resident.submit(text="小区门口垃圾桶满了没人清", phone=PHONE)
    code = code_of(resp)
    return Matter.get(Matter.code == code), echo.resident.client


def choose(client, code, **form):
    html = client.get(f"/t/{code}").get_data(as_text=True)
    return client.post(f"/t/{code}/sms", data={"csrf_token": page_token(html), **form})


def to_resolved(sup, matter):
    move(sup, matter, "triage", category="社事")
    move(sup, matter, "dispatch")
    move(sup, matter, "accept")
    move(sup, matter, "resolve", result="已清运并增加清运频次")


def texts(fake_sms):
    return [s.text for s in fake_sms.sent]


def test_the_reporter_opts_in_and_the_page_names_the_channel(echo, reported, fake_sms):
    matter, phone = reported
    html = phone.get(f"/t/{matter.code}").get_data(as_text=True)
    assert 'id="sms-agree"' in html and "138****5678" in html and PHONE not in html
    assert "最多两条短信" in html
    # without ticking the box nothing is recorded
    resp = choose(phone, matter.code, choice="on")
    assert resp.status_code == 302 and EchoSmsConsent.select().count() == 0
    resp = choose(phone, matter.code, choice="on", agree="1")
    assert resp.status_code == 302
    html = phone.get(f"/t/{matter.code}").get_data(as_text=True)
    assert "结果将以短信通知至 138****5678" in html and PHONE not in html
    assert 'id="sms-off"' in html and 'id="sms-agree"' not in html
    (c,) = EchoSmsConsent.select()
    assert (c.matter_id, c.phone, c.channel, c.source) == (matter.id, "+86" + PHONE, "sms",
                                                           "tracking_page")  # fmt: skip
    assert c.consent_version == "echo-sms-v1" and "138****5678" in c.consent_text
    assert c.consented_at is not None and c.withdrawn_at is None
    # opting in again keeps the one consent
    choose(phone, matter.code, choice="on", agree="1")
    assert EchoSmsConsent.select().count() == 1


def test_answered_once_and_closed_once(echo, reported, fake_sms):
    matter, phone = reported
    choose(phone, matter.code, choice="on", agree="1")
    sup = echo.sup_client
    move(sup, matter, "triage", category="社事")
    move(sup, matter, "dispatch")
    move(sup, matter, "accept")
    assert fake_sms.sent == []
    move(sup, matter, "resolve", result="已清运")
    assert len(fake_sms.sent) == 1
    (sent,) = fake_sms.sent
    assert sent.phone == "+86" + PHONE and sent.params == [matter.code]
    assert f"查询码{matter.code}）已有答复" in sent.text
    # answered again after a rejection: no second SMS
    move(sup, matter, "reject", reason="未清理干净")
    move(sup, matter, "resolve", result="已再次清运")
    move(sup, matter, "verify")
    assert len(fake_sms.sent) == 1
    move(sup, matter, "close")
    assert len(fake_sms.sent) == 2 and "已办结" in fake_sms.sent[1].text
    move(sup, matter, "reopen", reason="居民再次反映")
    move(sup, matter, "dispatch")
    move(sup, matter, "resolve", result="第三次清运")
    move(sup, matter, "verify")
    move(sup, matter, "close")
    assert len(fake_sms.sent) == 2
    rows = list(SmsMessage.select().order_by(SmsMessage.id))
    assert [(r.purpose, r.status, r.dedupe_key) for r in rows] == [
        ("echowall", "sent", f"echowall:{matter.id}:answered"),
        ("echowall", "sent", f"echowall:{matter.id}:closed"),
    ]
    assert all(r.user_id is None for r in rows)


def test_no_consent_no_sms_and_withdrawal_stops_them(echo, reported, fake_sms):
    matter, phone = reported
    to_resolved(echo.sup_client, matter)
    assert fake_sms.sent == []
    choose(phone, matter.code, choice="on", agree="1")
    choose(phone, matter.code, choice="off")
    html = phone.get(f"/t/{matter.code}").get_data(as_text=True)
    assert 'id="sms-agree"' in html and "结果将以短信通知至" not in html
    (c,) = EchoSmsConsent.select()
    assert c.withdrawn_at is not None  # the record stays, withdrawn
    move(echo.sup_client, matter, "verify")
    move(echo.sup_client, matter, "close")
    assert fake_sms.sent == []


def test_another_browser_sees_no_offer_and_cannot_opt_in(echo, reported, fake_sms, app):
    matter, _phone = reported
    other = app.test_client()
    html = other.get(f"/t/{matter.code}").get_data(as_text=True)
    assert 'id="sms"' not in html and "138****" not in html
    resp = choose(other, matter.code, choice="on", agree="1")
    assert resp.status_code == 302 and EchoSmsConsent.select().count() == 0


def test_no_offer_without_a_mobile_or_without_sms(echo, fake_sms, app):
    code = code_of(echo.resident.submit(text="3栋门口的路灯坏了一个星期", phone="0351-1234567"))
    assert 'id="sms"' not in echo.resident.client.get(f"/t/{code}").get_data(as_text=True)
    code = code_of(echo.resident.submit(text="5栋门口的路灯也坏了好几天", phone=PHONE))
    app.config["SMS_PROVIDER"] = ""
    assert 'id="sms"' not in echo.resident.client.get(f"/t/{code}").get_data(as_text=True)


def test_answered_at_night_waits_for_the_morning(echo, reported, fake_sms, clock):
    matter, phone = reported
    choose(phone, matter.code, choice="on", agree="1")
    night = dt.datetime.combine(clock().date(), dt.time(16, 0))  # 00:00 in Shanghai
    clock.set(night)
    to_resolved(echo.sup_client, matter)
    assert fake_sms.sent == []
    (row,) = SmsMessage.select()
    assert row.status == "queued" and row.not_before == night + dt.timedelta(hours=8)
    clock.set(row.not_before)
    assert release_due(clock()) == 1
    assert len(fake_sms.sent) == 1


def test_english_page(echo, reported, fake_sms):
    matter, phone = reported
    choose(phone, matter.code, choice="on", agree="1")
    html = phone.get(f"/t/{matter.code}?lang=en").get_data(as_text=True)
    assert "Results will be sent by text message to 138****5678." in html
