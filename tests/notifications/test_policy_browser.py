"""The admin's escalation policy at 1366 px: one table row per kind, each row saved by its own
form (its inputs are tied to it with ``form=``), a bad row shown with its error under it."""

from __future__ import annotations

import json

import pytest

from gridapp.notifications.models import NotificationPolicy
from tests.console.test_browser import login

pytestmark = pytest.mark.browser


def test_the_policy_is_a_table_saved_row_by_row(live_server, browser, make_user, artifacts_dir):
    make_user("admin", username="admin_policy")
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        login(page, live_server.url, "admin_policy")
        page.goto(live_server.url + "/console/admin/notifications/policy")
        rows = page.locator("#policies tbody tr[data-kind]")
        assert rows.count() >= 10
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 1366
        page.screenshot(path=str(artifacts_dir / "policy-1366.png"), full_page=True)
        # A wait left out for a second step: refused, the row says why, nothing saved.
        row = "tr[data-kind='matter.dispatched']"
        page.select_option(f"{row} select[name=stage_webpush]", "1")
        page.select_option(f"{row} select[name=stage_wecom]", "2")
        page.fill(f"{row} input[name=wait_2]", "")
        page.click(f"{row} button.primary")
        page.wait_for_selector("tr.row-error [data-field='wait_2']")
        assert page.locator(f"{row}.has-error input[name=wait_2][aria-invalid=true]").count() == 1
        assert not NotificationPolicy.select().exists()
        page.screenshot(path=str(artifacts_dir / "policy-error-1366.png"), full_page=True)
        # Filled in: saved for that kind only, and the other rows' inputs are not sent with it.
        page.fill(f"{row} input[name=wait_2]", "15")
        page.check(f"{row} input[name=urgent]")
        page.select_option("tr[data-kind='task.assigned'] select[name=stage_sms]", "3")
        page.click(f"{row} button.primary")
        page.wait_for_selector(f"{row} button[name=reset]")
        saved = NotificationPolicy.get(NotificationPolicy.kind == "matter.dispatched")
        assert saved.urgent and json.loads(saved.hops)[1] == {"channels": ["wecom"], "wait": 15}
        assert NotificationPolicy.select().count() == 1
    finally:
        context.close()
