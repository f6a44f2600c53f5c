"""The settings screen at 360 px: a worker chooses which messages are pushed and sets quiet
hours; the server's settings (what the sender obeys) change, and a reload shows them. Offline,
the card says it needs the network instead of showing stale values."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from gridapp.notifications.models import NotificationPreference, QuietHours
from tests.pwa.conftest import open_app_as

pytestmark = pytest.mark.browser


def test_worker_sets_pushed_types_and_quiet_hours(
    live_server, profile, make_user, grid_data, artifacts_dir
):
    worker = make_user("grid_worker", username="w_notify")
    page = open_app_as(profile, live_server.url, worker.username)
    page.goto(f"{live_server.url}/app#/settings")
    page.wait_for_selector("#notify-form:visible")
    assert page.locator("#notify-settings h2").inner_text() == "推送内容与时段"
    # The server's defaults: every type pushed, quiet 22:00–07:00.
    expect(page.locator("#quiet-start")).to_have_value("22:00")
    expect(page.locator("#quiet-end")).to_have_value("07:00")
    expect(page.locator("#quiet-enabled")).to_be_checked()
    boxes = page.locator("input[name=push-type]")
    assert boxes.count() == 9 and all(boxes.nth(i).is_checked() for i in range(9))
    announcement = page.locator("label.choice", has_text="通知公告").locator("input")
    assert announcement.get_attribute("value") == "announcement"

    announcement.uncheck()
    page.fill("#quiet-start", "21:30")
    page.fill("#quiet-end", "06:45")
    page.click("#notify-save")
    page.wait_for_selector("#notify-status:has-text('已保存。')")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts_dir / "pwa-notify-settings.png"), full_page=True)

    q = QuietHours.get(QuietHours.user == worker.id)
    assert (q.enabled, q.start_min, q.end_min, q.timezone) == (
        True,
        21 * 60 + 30,
        6 * 60 + 45,
        "Asia/Shanghai",
    )
    off = {
        (p.type, p.channel)
        for p in NotificationPreference.select().where(
            NotificationPreference.user == worker.id,
            NotificationPreference.enabled == False,  # noqa: E712
        )
    }
    assert off == {("announcement", "webpush")}

    page.reload()
    expect(page.locator("#quiet-start")).to_have_value("21:30")
    expect(page.locator("input[value=announcement]")).not_to_be_checked()
    expect(page.locator("input[value='task.assigned']")).to_be_checked()

    # Offline the card cannot know the server's settings: it says so.
    profile.set_offline(True)
    try:
        page.goto(f"{live_server.url}/app#/today")
        page.goto(f"{live_server.url}/app#/settings")
        page.wait_for_selector("#notify-status:has-text('联网后才能查看和修改这些设置。')")
        assert page.locator("#notify-form").is_hidden()
    finally:
        profile.set_offline(False)
    page.close()
