"""At 360 px: a worker reports a matter with the resident's phone offline, syncs, reads the
tracking code off the matter screen and generates the resident's rating link (online only)."""

from __future__ import annotations

import time

import pytest

from gridapp.matters.models import Matter
from tests.pwa.conftest import open_app_as

pytestmark = pytest.mark.browser


def eventually(check, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_phone_code_and_resident_link(live_server, profile, make_user, grid_data, artifacts_dir):
    worker = make_user("grid_worker", username="w_reslink", display_name="吴网格")
    base = live_server.url
    page = open_app_as(profile, base, worker.username)
    profile.set_offline(True)
    try:
        page.reload()
        page.wait_for_selector(".tabbar")
        page.goto(f"{base}/app#/report?household={grid_data['h1'].id}")
        page.wait_for_selector("#matter-form")
        page.fill("#matter-title", "楼下路灯不亮")
        page.fill("#matter-description", "幸福路3号楼下路灯坏了")
        page.fill("#matter-phone", "12345")
        page.click("#matter-submit")
        assert "请输入手机号或固定电话号码" in page.inner_text("#matter-phone-error")
        page.screenshot(path=str(artifacts_dir / "pwa-matter-phone-error.png"))
        page.fill("#matter-phone", "1381234")  # typing clears the message
        assert page.query_selector("#matter-phone-error") is None
        page.fill("#matter-phone", "13812341234")
        page.click("#matter-submit")
        page.wait_for_selector("#matter-list")
        page.wait_for_selector("#pending-count[data-count='1']")
        assert Matter.select().count() == 0
    finally:
        profile.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    eventually(lambda: Matter.select().count() == 1)
    page.wait_for_selector("#pending-count[data-count='0']", timeout=20000)
    matter = Matter.get()
    assert matter.contact_phone == "13812341234" and matter.rating_key is None
    page.evaluate("window.gridapp.syncNow({force: true})")

    page.goto(f"{base}/app#/matter/{matter.id}")
    page.wait_for_selector("#matter-code")
    assert page.inner_text("#matter-code") == matter.code
    profile.set_offline(True)
    try:
        page.click("#resident-link-button")
        assert "联网" in page.inner_text("#resident-link-status")
    finally:
        profile.set_offline(False)
    page.click("#resident-link-button")
    page.wait_for_selector("#resident-link-out:not([hidden])")
    url = page.input_value("#resident-link-url")
    assert url.startswith(f"{base}/t/{matter.code}?k=") and matter.code in page.inner_text(
        "#resident-link-code"
    )
    assert Matter.get_by_id(matter.id).rating_key  # the link's key (its hash) is the valid one
    page.click("#resident-link-copy")
    assert page.evaluate("() => document.getSelection().toString() || document.activeElement.id")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, f"sideways scroll: {width}px"
    page.screenshot(path=str(artifacts_dir / "pwa-resident-link.png"), full_page=True)
    page.close()
