"""A resident follows a community's news by SMS: the phone is proved by a code (sent through
the fake Tencent SMS API), then each published item is one text to it, sent once; an
unverified number gets nothing; stopping ends it."""

from __future__ import annotations

import datetime as dt
import re

import pytest

import gridapp.news.sms  # noqa: F401  (registers the news templates before the fake approves them)
from gridapp.news.models import NewsSmsFollower
from tests.news.conftest import publish
from tests.notifications.sms_fixtures import fake_sms, sms_config  # noqa: F401


@pytest.fixture
def app_overrides(clock, sms_config):  # noqa: F811
    return {"NEWS_CLOCK": clock, "NOTIFY_CLOCK": clock, "PUSH_MAX_ATTEMPTS": 3, **sms_config}


def form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def texts(fake):
    return [s.text for s in fake.sent]


def sign_up(client, token: str, phone: str, fake) -> str:
    page = client.get(f"/n/{token}/sms").get_data(as_text=True)
    resp = client.post(f"/n/{token}/sms", data={"csrf_token": form_token(page), "phone": phone,
                                                 "consent": "1"})  # fmt: skip
    assert resp.status_code == 200, resp.get_data(as_text=True)
    html = resp.get_data(as_text=True)
    assert (
        'data-step="code"' in html
        and f"{phone[:3]}****{phone[-4:]}" in html
        and phone not in html.replace(f'value="{phone}"', "")
    )
    (code,) = re.findall(r"验证码(\d{6})", texts(fake)[-1])
    return code


def test_verified_phone_gets_each_item_once(news, org, app, fake_sms):  # noqa: F811
    client = app.test_client()
    assert 'id="sms-link"' in client.get(f"/n/{news.token}").get_data(as_text=True)
    code = sign_up(client, news.token, "13812345678", fake_sms)
    csrf = form_token(client.get(f"/n/{news.token}/sms").get_data(as_text=True))
    wrong = client.post(f"/n/{news.token}/sms/verify",
                        data={"csrf_token": csrf, "phone": "13812345678", "code": "000000"})  # fmt: skip
    assert wrong.status_code == 422 and 'data-field="code"' in wrong.get_data(as_text=True)
    ok = client.post(f"/n/{news.token}/sms/verify",
                     data={"csrf_token": csrf, "phone": "13812345678", "code": code})  # fmt: skip
    assert ok.status_code == 200 and 'data-step="done"' in ok.get_data(as_text=True)
    (row,) = NewsSmsFollower.select()
    assert row.verified_at and row.phone == "+8613812345678" and "138****5678" in row.consent_text
    before = len(fake_sms.sent)
    item = publish(news.sup_client, org.community.id, title="明日停水【重要】")
    sent = fake_sms.sent[before:]
    assert len(sent) == 1 and "东城水岸社区发布新信息：明日停水 重要" in sent[0].text
    from gridapp.news.fanout import fanout

    fanout(item["id"])  # again: nothing twice
    assert len(fake_sms.sent) == before + 1
    # stop
    stop = client.post(
        f"/n/{news.token}/sms/stop", data={"csrf_token": csrf, "phone": "138 1234 5678"}
    )
    assert stop.status_code == 200 and NewsSmsFollower.select().count() == 0
    news.clock.set(news.clock.now + dt.timedelta(minutes=5))
    publish(news.sup_client, org.community.id, title="第二条")
    assert len(fake_sms.sent) == before + 1


def test_unverified_or_bad_numbers_get_nothing(news, org, app, fake_sms):  # noqa: F811
    client = app.test_client()
    sign_up(client, news.token, "13912345678", fake_sms)
    csrf = form_token(client.get(f"/n/{news.token}/sms").get_data(as_text=True))
    again = client.post(f"/n/{news.token}/sms", data={"csrf_token": csrf, "phone": "13912345678",
                                                       "consent": "1"})  # fmt: skip
    assert again.status_code == 429  # one code a minute
    bad = client.post(f"/n/{news.token}/sms", data={"csrf_token": csrf, "phone": "010-1234567",
                                                     "consent": "1"})  # fmt: skip
    assert bad.status_code == 422 and 'data-field="phone"' in bad.get_data(as_text=True)
    no_consent = client.post(f"/n/{news.token}/sms", data={"csrf_token": csrf,
                                                            "phone": "13700001111"})  # fmt: skip
    assert no_consent.status_code == 422
    before = len(fake_sms.sent)
    publish(news.sup_client, org.community.id)
    assert len(fake_sms.sent) == before  # the unverified number gets no news


def test_the_code_expires_and_tries_are_limited(news, org, app, fake_sms):  # noqa: F811
    from gridapp.errors import ValidationFailed
    from gridapp.news import sms

    code = sign_up(app.test_client(), news.token, "13812345678", fake_sms)
    for _ in range(sms.MAX_TRIES):
        with pytest.raises(ValidationFailed):
            sms.verify(news.token, "13812345678", "999999" if code != "999999" else "111111")
    with pytest.raises(ValidationFailed):  # the right code after five wrong ones
        sms.verify(news.token, "13812345678", code)
    assert NewsSmsFollower.get().verified_at is None


@pytest.mark.browser
def test_sms_sign_up_on_a_phone(live_server, page, news, fake_sms, artifacts_dir):  # noqa: F811
    page.goto(f"{live_server.url}/n/{news.token}")
    page.click("#sms-link")
    page.fill("#sms-phone", "13812345678")
    page.check("#sms-consent")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts_dir / "news-sms-phone.png"), full_page=True)
    page.click("#sms-send")
    page.wait_for_selector("#sms-code")
    (code,) = re.findall(r"验证码(\d{6})", texts(fake_sms)[-1])
    page.fill("#sms-code", code)
    page.click("#sms-verify")
    page.wait_for_selector("#news-sms[data-step='done']")
    assert "138****5678" in page.locator("#sms-message").inner_text()
    page.screenshot(path=str(artifacts_dir / "news-sms-done.png"), full_page=True)
    assert NewsSmsFollower.get().verified_at is not None
