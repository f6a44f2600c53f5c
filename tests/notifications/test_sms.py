"""SMS through the fake Tencent Cloud SMS API over real HTTP: the SDK's TC3 signature checked
by the fake, templates and parameters, caps, cost counters, error mapping, status reports."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from gridapp.notifications.sms import catalog, rules, send_to_phone
from gridapp.notifications.sms.models import SmsCounter, SmsMessage, SmsNumber
from gridapp.notifications.sms.service import local_month, month_spend, release_due
from tests.notifications.sms_fixtures import CALLBACK_TOKEN

PHONE = "13812341234"


@pytest.fixture
def app_overrides(clock, sms_config):
    return {"NOTIFY_CLOCK": clock, "PUSH_MAX_ATTEMPTS": 3, **sms_config}


def rows():
    return list(SmsMessage.select().order_by(SmsMessage.id))


def echo(code="AB12CD34", key=None, **kw):
    return send_to_phone(
        PHONE, catalog.ECHO_ANSWERED, {"code": code}, purpose="test",
        dedupe_key=key or f"k:{code}", **kw,
    )  # fmt: skip


def test_sent_through_the_sdk_signed_and_recorded(app, fake_sms):
    sms_id = echo()
    assert sms_id is not None
    (sent,) = fake_sms.sent
    assert sent.phone == "+86" + PHONE and sent.sign == "网格通"
    assert sent.params == ["AB12CD34"]
    assert sent.text.startswith("【网格通】您反映的诉求（查询码AB12CD34）已有答复")
    row = SmsMessage.get_by_id(sms_id)
    assert (row.status, row.serial, row.segments, row.purpose) == ("sent", sent.serial, 1, "test")
    assert row.cost == 45 and row.phone == "+86" + PHONE and row.attempts == 1


def test_wrong_secret_fails_at_the_fake(app, fake_sms, caplog):
    app.config["SMS_SECRET_KEY"] = "not-the-secret"
    with caplog.at_level(logging.ERROR, logger="gridapp.notifications.sms"):
        sms_id = echo()
    row = SmsMessage.get_by_id(sms_id)
    assert fake_sms.sent == [] and fake_sms.calls[-1].code == "AuthFailure.SignatureFailure"
    assert row.status == "failed" and row.status_code == 401
    assert "AuthFailure.SignatureFailure" in row.error
    assert any("AuthFailure" in r.getMessage() for r in caplog.records)  # loud


def test_same_dedupe_key_sends_once(app, fake_sms):
    first = echo(key="once")
    assert first is not None
    assert echo(key="once") is None
    assert len(fake_sms.sent) == 1 and len(rows()) == 1


def test_template_parameters_checked_before_sending(app, fake_sms):
    with pytest.raises(rules.ParamError) as exc:
        echo(code="x" * 17)
    assert exc.value.field == "code"
    for bad in (
        {"code": "看 http://evil.example"},
        {"code": "【假签名】"},
        {},
        {"code": "A", "x": "B"},
    ):
        with pytest.raises(rules.ParamError):
            send_to_phone(PHONE, catalog.ECHO_ANSWERED, bad, purpose="t", dedupe_key="p")
    with pytest.raises(rules.ParamError) as exc:
        send_to_phone("0351-1234567", catalog.ECHO_ANSWERED, {"code": "A"}, purpose="t",
                      dedupe_key="p")  # fmt: skip
    assert exc.value.field == "phone"
    with pytest.raises(rules.ParamError):
        send_to_phone(PHONE, "no.such", {}, purpose="t", dedupe_key="p")
    assert rows() == [] and fake_sms.calls == []


def test_a_template_without_provider_id_is_not_sent(app, fake_sms, caplog):
    app.config["SMS_TEMPLATES"] = {catalog.NOTIFY_GENERIC: "2000000"}
    with caplog.at_level(logging.ERROR, logger="gridapp.notifications.sms"):
        assert echo() is None
    assert rows() == [] and "SMS_TEMPLATES" in caplog.text


def test_not_configured_sends_nothing(app, fake_sms):
    app.config["SMS_PROVIDER"] = ""
    assert echo() is None
    assert rows() == [] and fake_sms.calls == []


def test_per_number_and_deployment_caps(app, fake_sms):
    app.config["SMS_PHONE_DAILY_CAP"] = 2
    assert echo(code="A1") and echo(code="A2")
    assert echo(code="A3") is None
    capped = rows()[-1]
    assert capped.status == "capped" and "per-number" in capped.error
    assert len(fake_sms.sent) == 2
    # another number still gets through until the deployment cap
    app.config["SMS_DAILY_CAP"] = 3
    other = dict(purpose="t", dedupe_key="o1")
    assert send_to_phone("13900000001", catalog.ECHO_CLOSED, {"code": "B1"}, **other)
    assert send_to_phone("13900000002", catalog.ECHO_CLOSED, {"code": "B2"}, purpose="t",
                         dedupe_key="o2") is None  # fmt: skip
    assert "deployment" in rows()[-1].error
    assert len(fake_sms.sent) == 3


def test_per_user_cap(app, fake_sms):
    app.config["SMS_USER_DAILY_CAP"] = 1
    assert echo(code="U1", user_id=7)
    assert echo(code="U2", user_id=7) is None
    assert "per-user" in rows()[-1].error
    # the counters were not bumped by the refused one
    day = [c for c in SmsCounter.select() if c.key.startswith("user:7:")]
    assert [c.value for c in day] == [1]


def test_cost_counter_per_month_and_segments(app, fake_sms, clock):
    long = "很" * 35
    rules.register_template("test.long", ["a", "b"], "{a}{b}")
    fake_sms.approve("2999999", "{1}{2}")
    app.config["SMS_TEMPLATES"] = {**app.config["SMS_TEMPLATES"], "test.long": "2999999"}
    app.config["SMS_PRICE_PER_SEGMENT"] = 40
    assert echo()  # 1 segment
    sid = send_to_phone(PHONE, "test.long", {"a": long, "b": long}, purpose="t", dedupe_key="L")
    row = SmsMessage.get_by_id(sid)
    # 【网格通】 (5) + 70 characters = 75: two parts of 67, as billed by the fake
    assert row.segments == 2 == fake_sms.sent[-1].fee and row.cost == 80
    assert rules.segments("x" * 70) == 1 and rules.segments("x" * 71) == 2
    assert rules.segments("x" * 134) == 2 and rules.segments("x" * 135) == 3
    spend = month_spend(local_month(clock()))
    assert spend == {"month": local_month(clock()), "messages": 2, "segments": 3,
                     "cost_li": 120, "cost_yuan": 0.12}  # fmt: skip


@pytest.mark.parametrize(
    "code, status, verdict",
    [
        ("LimitExceeded.PhoneNumberThirtySecondLimit", 429, "retry"),
        ("LimitExceeded.PhoneNumberDailyLimit", 429, "retry"),
        ("RequestLimitExceeded", 429, "retry"),
        ("InternalError.Timeout", 503, "retry"),
        ("http500", 503, "retry"),
        ("InvalidParameterValue.IncorrectPhoneNumber", 410, "failed"),
        ("FailedOperation.PhoneNumberInBlacklist", 410, "failed"),
        ("FailedOperation.InsufficientBalanceInSmsPackage", 402, "failed"),
    ],
)
def test_provider_errors_map_to_outcomes(app, fake_sms, clock, code, status, verdict):
    fake_sms.script(code)
    sms_id = echo()
    row = SmsMessage.get_by_id(sms_id)
    assert row.status_code == status
    assert row.status == verdict
    if status == 410:
        number = SmsNumber.get(SmsNumber.phone == "+86" + PHONE)
        assert number.disabled_at is not None and code in number.reason
        assert echo(code="NEXT") is None  # no more messages to a disabled number
        return
    if verdict == "retry":
        assert row.not_before > clock()
        assert release_due(clock()) == 0  # not yet
        clock.set(row.not_before + dt.timedelta(seconds=1))
        assert release_due(clock()) == 1
        row = SmsMessage.get_by_id(sms_id)
        assert row.status == "sent" and row.attempts == 2 and len(fake_sms.sent) == 1


def test_template_and_sign_errors_fail_loudly(app, fake_sms, caplog):
    app.config["SMS_SIGN_NAME"] = "未审核的签名"
    with caplog.at_level(logging.ERROR, logger="gridapp.notifications.sms"):
        sms_id = echo()
    row = SmsMessage.get_by_id(sms_id)
    assert row.status == "failed" and "SignatureIncorrectOrUnapproved" in row.error
    assert "SignatureIncorrectOrUnapproved" in caplog.text
    app.config["SMS_SIGN_NAME"] = "网格通"
    app.config["SMS_TEMPLATES"] = {**app.config["SMS_TEMPLATES"], catalog.ECHO_ANSWERED: "999"}
    sms_id = echo(code="T2")
    assert "TemplateIncorrectOrUnapproved" in SmsMessage.get_by_id(sms_id).error


def test_quiet_hours_hold_until_morning(app, fake_sms, clock):
    # 23:30 in Shanghai
    day = clock().date()
    clock.set(dt.datetime.combine(day, dt.time(15, 30)))
    sms_id = echo()
    row = SmsMessage.get_by_id(sms_id)
    assert row.status == "queued" and fake_sms.sent == []
    assert row.not_before == dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0))
    assert release_due(clock()) == 0
    clock.set(row.not_before)
    assert release_due(clock()) == 1 and len(fake_sms.sent) == 1
    # urgent ones go at once; SMS_QUIET_HOURS="" turns the hold off
    clock.set(dt.datetime.combine(day, dt.time(15, 30)))
    assert echo(code="URG", urgent=True) and len(fake_sms.sent) == 2
    app.config["SMS_QUIET_HOURS"] = ""
    assert echo(code="NIGHT") and len(fake_sms.sent) == 3


def test_status_report_through_the_callback(app, fake_sms, live_server):
    ok_id, bad_id = echo(code="R1"), echo(code="R2")
    ok, bad = fake_sms.sent
    url = f"{live_server.url}/hooks/sms/{CALLBACK_TOKEN}"
    status, answer = fake_sms.report(
        url, [fake_sms.report_body(ok), fake_sms.report_body(bad, ok=False), {"sid": "nope"}]
    )
    assert status == 200 and answer["result"] == 0
    assert (answer["delivered"], answer["failed"], answer["unknown"]) == (1, 1, 1)
    a, b = SmsMessage.get_by_id(ok_id), SmsMessage.get_by_id(bad_id)
    assert a.status == "delivered" and a.receipt_at == dt.datetime(2026, 11, 30, 4, 0)
    assert b.status == "failed" and "MK:0004" in b.error
    # the same report again changes nothing
    status, answer = fake_sms.report(url, [fake_sms.report_body(ok, ok=False)])
    assert answer["repeated"] == 1 and SmsMessage.get_by_id(ok_id).status == "delivered"
    # a wrong token is a 404, an address outside the allow-list a 403
    assert fake_sms.report(f"{live_server.url}/hooks/sms/wrong", [])[0] == 404
    app.config["SMS_CALLBACK_ALLOW"] = "10.0.0.0/8"
    assert fake_sms.report(url, [])[0] == 403
    app.config["SMS_CALLBACK_ALLOW"] = "127.0.0.1/32"
    assert fake_sms.report(url, [])[0] == 200


def test_callback_off_without_a_token(app, client):
    app.config["SMS_CALLBACK_TOKEN"] = ""
    assert client.post("/hooks/sms/anything", json=[]).status_code == 404


def test_phone_rules():
    assert rules.e164("138 1234 1234") == "+8613812341234"
    assert rules.e164("+86 138-1234-1234") == "+8613812341234"
    assert rules.e164("008613812341234") == "+8613812341234"
    assert rules.e164("8613812341234") == "+8613812341234"
    assert rules.e164("0351-1234567") is None and rules.e164("12812341234") is None
    assert rules.fit("【急】 请看 http://x.cn 这个通知标题非常非常非常非常长的", 12).endswith("…")
    assert len(rules.fit("a" * 50, 20)) == 20


def test_status_mapping_is_pure():
    assert rules.status_for("Ok") == (200, None)
    assert rules.status_for("LimitExceeded.PhoneNumberThirtySecondLimit") == (429, "30")
    assert rules.status_for("ClientNetworkError") == (None, None)
    assert rules.status_for("InvalidParameterValue.IncorrectPhoneNumber") == (410, None)
    assert rules.status_for("AuthFailure.SignatureFailure") == (401, None)
    assert rules.status_for("Something.New") == (400, None)


def test_no_network_is_retried(app, fake_sms):
    app.config["SMS_ENDPOINT"] = "127.0.0.1:9"  # nothing listens there
    app.config["SMS_TIMEOUT"] = 1
    row = SmsMessage.get_by_id(echo())
    assert row.status == "retry" and row.status_code is None


def test_a_message_a_crash_left_sending_is_sent_later(app, fake_sms, clock):
    sms_id = echo()
    # a job that took the row and died before recording the answer
    SmsMessage.update(status="sending", claimed_at=clock()).where(SmsMessage.id == sms_id).execute()
    assert release_due(clock()) == 0  # another job may still be on it
    clock.set(clock() + dt.timedelta(minutes=16))
    assert release_due(clock()) == 1
    row = SmsMessage.get_by_id(sms_id)
    assert row.status == "sent" and row.attempts == 2 and len(fake_sms.sent) == 2  # at least once
