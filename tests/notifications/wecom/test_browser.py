"""In Chromium, as inside 企业微信's browser: the login page's "用企业微信登录" goes to WeCom's
authorize page (the fake) and back; the first time the worker links with their password, the
next time WeCom alone signs them in and a text card's link opens the app signed in."""

from __future__ import annotations

import pytest

from gridapp.notifications.wecom.models import WecomBinding
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

WXWORK_UA = (
    "Mozilla/5.0 (Linux; Android 13; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/109.0 Mobile Safari/537.36 wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh"
)


@pytest.fixture
def app_overrides(clock, fake_wecom):
    return {"NOTIFY_CLOCK": clock, **fake_wecom.config(), "WECOM_OAUTH_ENABLED": "1"}


def test_sign_in_with_wecom_in_the_browser(app, live_server, browser, make_user, fake_wecom):
    app.config["WECOM_PUBLIC_URL"] = live_server.url  # the callback comes back to this server
    worker = make_user("grid_worker", username="w_li", display_name="李网格员")
    fake_wecom.signed_in = "lisi"
    context = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740},
                                  user_agent=WXWORK_UA)  # fmt: skip
    page = context.new_page()
    try:
        page.goto(live_server.url + "/login?next=/console/")
        page.click("#wecom-login")
        # The browser keeps the authorize URL's "#wechat_redirect" through the redirects.
        page.wait_for_url(lambda url: "/auth/wecom/link" in url)
        assert "lisi" in page.locator("#wecom-link-intro").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.fill("#username", "w_li")
        page.fill("#password", PASSWORD)
        page.click("#wecom-link-submit")
        page.wait_for_url(lambda url: "/auth/" not in url and "/login" not in url)
        assert WecomBinding.get(WecomBinding.user == worker.id).userid == "lisi"
    finally:
        context.close()
    # A text card's link in a fresh WeCom browser: signed in on the way, straight into the app.
    context = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740},
                                  user_agent=WXWORK_UA)  # fmt: skip
    page = context.new_page()
    try:
        page.goto(live_server.url + "/auth/wecom?next=%2Fapp")
        page.wait_for_url(live_server.url + "/app**")
        me = page.evaluate("() => fetch('/api/v1/me').then(r => r.json())")
        assert me["username"] == "w_li"
    finally:
        context.close()
