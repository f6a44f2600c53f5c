"""The SMS opt-in in real Chromium at 360 px: the reporter ticks the consent, the page then names
the channel with the masked number, and the tap targets are at least 44 px."""

from __future__ import annotations

import pytest

from tests.notifications.conftest import Clock, _fresh_jobs  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def app_overrides(sms_config):
    return {"NOTIFY_CLOCK": Clock(), **sms_config}


def test_reporter_opts_in_at_360_px(live_server, page, echo, artifacts_dir):
    from gridapp.echowall.models import EchoSmsConsent

    page.goto(f"{live_server.url}/e/{echo.token}")
    page.fill("#contact_phone", "13812345678")
    page.fill("#text", "5栋门口的路灯坏了，晚上很黑")
    page.click("#submit")
    page.click("#track-link")
    page.wait_for_selector("#sms-agree")
    assert "138****5678" in page.locator("#sms").inner_text()
    assert "13812345678" not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for sel in ("#sms-on", "label.agree"):
        assert page.locator(sel).bounding_box()["height"] >= 44
    page.check("#sms-agree")
    page.click("#sms-on")
    page.wait_for_selector("#sms-channel")
    assert page.locator("#sms-channel").inner_text() == "结果将以短信通知至 138****5678。"
    assert page.locator("#sms-off").bounding_box()["height"] >= 44
    page.screenshot(path=str(artifacts_dir / "echowall-sms.png"), full_page=True)
    assert EchoSmsConsent.select().count() == 1
