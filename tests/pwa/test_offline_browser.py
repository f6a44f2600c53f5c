"""The installed app in real Chromium: installable, works offline from IndexedDB, outbox sends
each change exactly once, stale edits surface as conflicts."""

from __future__ import annotations

import pytest

from gridapp.registry.models import Household
from tests.pwa.conftest import open_app_as

pytestmark = pytest.mark.browser


def test_installable(live_server, profile, make_user, grid_data, artifacts_dir):
    worker = make_user("grid_worker", username="w_install", display_name="刘网格")
    page = open_app_as(profile, live_server.url, worker.username)
    cdp = profile.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert errors == []
    manifest = cdp.send("Page.getAppManifest")
    assert not manifest.get("errors")
    page.screenshot(path=str(artifacts_dir / "pwa-today.png"))
    page.close()


def test_offline_reload_renders_from_indexeddb_and_queues(
    live_server, profile, make_user, grid_data, artifacts_dir
):
    worker = make_user("grid_worker", username="w_offline", display_name="陈网格")
    page = open_app_as(profile, live_server.url, worker.username)
    profile.set_offline(True)
    try:
        page.reload()
        page.wait_for_selector(".tabbar")
        page.goto(live_server.url + "/app#/grid?q=zs")
        page.wait_for_selector("#search-results")
        assert "张三" in page.inner_text("#search-results")
        assert "赵六" not in page.content()  # another grid's resident never reached the phone
        page.goto(live_server.url + "/app#/grid?q=1234")  # phone tail
        page.wait_for_selector("#search-results")
        assert "李秀英" in page.inner_text("#search-results")
        h1 = grid_data["h1"]
        page.goto(live_server.url + f"/app#/household/{h1.id}")
        page.wait_for_selector("#household-form", state="attached")
        assert "138****5678" in page.content() and "13812345678" not in page.content()
        page.click("#edit-household summary")
        page.fill("#household-form textarea[name=notes]", "独居，需每周探访")
        page.click("#household-form button[type=submit]")
        page.wait_for_selector("#pending-count[data-count='1']")
        page.screenshot(path=str(artifacts_dir / "pwa-offline-household.png"))
        assert Household.get_by_id(h1.id).notes == ""
    finally:
        profile.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#pending-count[data-count='0']", timeout=15000)
    assert Household.get_by_id(h1.id).notes == "独居，需每周探访"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.close()
