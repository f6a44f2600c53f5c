"""The admin's Open311 key page in Chromium at 360 px: issue a key (shown once, wraps instead
of widening the page), then revoke it."""

from __future__ import annotations

import pytest

from tests.console.test_browser import login

pytestmark = pytest.mark.browser


def test_issue_and_revoke_at_360px(app, live_server, browser, org, make_user, artifacts_dir):
    from gridapp.open311 import keys

    make_user("admin", username="o311_admin_b", display_name="管理员")
    context = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        login(page, live_server.url, "o311_admin_b")
        page.goto(live_server.url + "/console/admin")
        page.click("a:has-text('Open311 对接密钥')")
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "Open311 对接密钥"
        page.fill("input[name=name]", "12345 市民热线")
        page.check(f"input[name=community_ids][value='{org.community.id}']")
        page.click("#issue-form button[type=submit]")
        page.wait_for_load_state()
        key = page.locator("#issued-key").inner_text().strip()
        assert key.startswith("o311_") and keys.find_key(key) is not None
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 362
        box = page.locator("input[name=community_ids]").first.bounding_box()
        assert box is not None
        page.screenshot(path=str(artifacts_dir / "open311-keys-360.png"), full_page=True)
        page.goto(live_server.url + "/console/admin/open311")
        assert key not in page.content()  # shown once
        page.click("tr[data-key] form button")
        page.wait_for_load_state()
        assert "吊销" in page.locator("tr[data-key]").inner_text()
        assert keys.find_key(key) is None
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 362
    finally:
        context.close()
