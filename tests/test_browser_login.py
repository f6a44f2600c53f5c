"""A person logs in through the login page in real Chromium."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_login_through_the_page(live_server, page, make_user, artifacts_dir):
    make_user("supervisor", username="zhang", display_name="张主任")
    page.goto(live_server.url + "/")
    assert "/login" in page.url
    assert page.locator("h1").inner_text() == "登录"
    page.fill("#username", "zhang")
    page.fill("#password", "wrong-password")
    page.click("#login-submit")
    assert "用户名或密码错误" in page.locator("#login-error").inner_text()
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(live_server.url + "/**")
    assert "张主任" in page.content()
    # The page fits a 360-px phone screen without horizontal scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts_dir / "login-home.png"))
    page.click("#logout")
    page.wait_for_url("**/login")
