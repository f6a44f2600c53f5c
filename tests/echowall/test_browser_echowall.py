"""A resident scans the poster's QR, reports a need in real Chromium at 360 px and follows it."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def test_resident_reports_and_tracks(live_server, page, echo, artifacts_dir):
    page.goto(f"{live_server.url}/e/{echo.token}")
    assert "回音壁" in page.locator("h1").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.fill("#contact_phone", "12345")
    page.fill("#text", "5栋门口的路灯坏了，晚上很黑")
    page.click("#submit")
    assert "11 位手机号" in page.locator("#contact_phone-error").inner_text()
    page.fill("#contact_phone", "13812345678")
    page.click("#submit")
    code = page.locator("#tracking-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{8}", code)
    page.screenshot(path=str(artifacts_dir / "echowall-submitted.png"))
    page.click("#track-link")
    page.wait_for_url(f"**/t/{code}")
    assert page.locator("#status").inner_text() == "已受理，等待办理"
    assert "您的诉求已收到。" in page.locator("ol.timeline").inner_text()
    assert "13812345678" not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts_dir / "echowall-track.png"), full_page=True)
