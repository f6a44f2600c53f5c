"""Two devices edit one household (the second sees a conflict, not a silent overwrite); a push
delivered through CDP shows a notification whose click opens the screen it links to."""

from __future__ import annotations

import json
import time

import pytest

from gridapp.changes import record_change
from gridapp.db import db
from gridapp.notifications.models import Notification
from gridapp.registry.models import Household
from tests.conftest import push_until_shown
from tests.pwa.conftest import open_app_as

pytestmark = pytest.mark.browser


def eventually(check, timeout: float = 30.0, page=None) -> None:
    """Poll ``check``; with ``page``, wait through Playwright so its events (CDP) get pumped."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        if page is not None:
            page.wait_for_timeout(100)
        else:
            time.sleep(0.1)


def edit_notes(page, base_url, household_id, notes):
    page.goto(f"{base_url}/app#/household/{household_id}")
    page.wait_for_selector("#household-form", state="attached")
    page.click("#edit-household summary")
    page.fill("#household-form textarea[name=notes]", notes)
    page.click("#household-form button[type=submit]")


def test_second_device_sees_a_conflict(
    live_server, browser, profile, make_user, grid_data, artifacts_dir
):
    h = grid_data["h1"]
    worker = make_user("grid_worker", username="w_conflict_a")
    colleague = make_user("grid_worker", username="w_conflict_b")
    # Device B: the colleague's phone (its own browser profile), data pulled, then offline.
    phone_b = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740})
    page_b = open_app_as(phone_b, live_server.url, colleague.username)
    phone_b.set_offline(True)
    edit_notes(page_b, live_server.url, h.id, "B：老人住院了")
    page_b.wait_for_selector("#pending-count[data-count='1']")
    # Device A edits the same household and uploads first.
    page_a = open_app_as(profile, live_server.url, worker.username)
    edit_notes(page_a, live_server.url, h.id, "A：已出院回家")
    eventually(lambda: Household.get_by_id(h.id).notes == "A：已出院回家")
    # B comes back online: its stale edit is a conflict, shown, and nothing is overwritten.
    phone_b.set_offline(False)
    page_b.evaluate("window.gridapp.syncNow()")
    page_b.wait_for_selector("#conflict-count", timeout=15000)
    assert Household.get_by_id(h.id).notes == "A：已出院回家"
    page_b.click("#conflict-count")
    page_b.wait_for_selector("#outbox-list .op.conflict")
    text = page_b.inner_text("#outbox-list")
    assert "B：老人住院了" in text and "A：已出院回家" in text
    page_b.screenshot(path=str(artifacts_dir / "pwa-conflict.png"))
    # The worker keeps their own version on top of A's: applied as version 3.
    page_b.click("[data-mine]")
    page_b.wait_for_function(
        # A function, not an expression: under the CSP (no 'unsafe-eval') Playwright can
        # poll a function it evaluated once, but not re-evaluate an expression string.
        "() => document.querySelector('#pending-count')?.dataset.count === '0'"
        " && !document.querySelector('#conflict-count')",
        timeout=15000,
    )
    row = Household.get_by_id(h.id)
    assert row.notes == "B：老人住院了" and row.version == 3
    phone_b.close()
    page_a.close()


def test_push_shows_a_notification_and_its_click_opens_the_task(
    live_server, profile, make_user, grid_data
):
    worker = make_user("grid_worker", username="w_push")
    page = open_app_as(profile, live_server.url, worker.username)
    profile.grant_permissions(["notifications"], origin=live_server.url)
    # The inbox row the push announces (the push refreshes data: it should arrive on the phone).
    with db.atomic():
        n = Notification.create(
            recipient=worker.id,
            type="task.assigned",
            title="新任务：入户宣传防诈骗",
            body="请本周内完成",
            link=f"/households/{grid_data['h1'].id}",
        )
        record_change("notification", n.id, user_id=worker.id)

    cdp = profile.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    origin = live_server.url + "/"
    eventually(lambda: any(r["scopeURL"] == origin for r in registrations), page=page)
    reg = next(r for r in registrations if r["scopeURL"] == origin and not r["isDeleted"])
    # A push reaches only an active worker (a loaded machine may still be installing it).
    page.evaluate("async () => { await navigator.serviceWorker.ready; return true; }")
    payload = json.dumps(
        {
            "id": n.id,
            "type": "task.assigned",
            "title": "新任务：入户宣传防诈骗",
            "body": "请本周内完成",
            "link": f"/households/{grid_data['h1'].id}",
            "urgent": True,
        },
        ensure_ascii=False,
    )
    shown = """async () => {
          const reg = await navigator.serviceWorker.ready;
          const list = await reg.getNotifications();
          return list.map(n => ({title: n.title, body: n.body, tag: n.tag}));
        }"""
    notes = push_until_shown(page, cdp, origin, reg["registrationId"], payload, shown)
    assert notes[0]["title"] == "新任务：入户宣传防诈骗" and notes[0]["tag"]
    # The push made the app pull: the inbox row is on the phone.
    eventually(lambda: page.evaluate(f"window.gridapp.idb.row('notification', '{n.id}')"))
    page.wait_for_selector(".tabbar a[href='#/inbox'][data-unread='1']")  # the unread badge
    # Clicking the notification (dispatched in the worker, as the OS would) opens its screen.
    page.goto(live_server.url + "/app#/inbox")
    worker_js = next(w for w in profile.service_workers if w.url.startswith(live_server.url))
    worker_js.evaluate(
        "async () => { const [n] = await self.registration.getNotifications();"
        " await self.openFromNotification(n); }"
    )
    page.wait_for_url(f"**/app#/household/{grid_data['h1'].id}", timeout=10000)
    # Two announcements stay two notifications: like the server (no Topic for them), the phone
    # gives each a tag of its own instead of letting the newer replace the older.
    for i, title in enumerate(("停水通知", "停电通知"), start=1):
        data = {"id": 10_000 + i, "type": "announcement", "title": title, "body": "", "link": ""}
        this_one = (
            "async () => (await (await navigator.serviceWorker.ready).getNotifications())"
            f".filter(n => n.title === {json.dumps(title)}).length"
        )
        push_until_shown(
            page, cdp, origin, reg["registrationId"], json.dumps(data, ensure_ascii=False), this_one
        )
    assert sorted(n["title"] for n in page.evaluate(shown)) == sorted(["停水通知", "停电通知"])
    page.close()


def test_background_sync_sends_the_outbox_without_the_app_open(
    live_server, profile, make_user, grid_data
):
    worker = make_user("grid_worker", username="w_bgsync")
    h2 = grid_data["h2"]
    page = open_app_as(profile, live_server.url, worker.username)
    profile.set_offline(True)
    edit_notes(page, live_server.url, h2.id, "后台同步上传")
    page.wait_for_selector("#pending-count[data-count='1']")
    page.goto(live_server.url + "/offline")  # the app is closed; only its worker remains
    profile.set_offline(False)
    cdp = profile.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    eventually(
        lambda: any(r["scopeURL"] == live_server.url + "/" for r in registrations), page=page
    )
    reg = next(r for r in registrations if r["scopeURL"] == live_server.url + "/")
    cdp.send(
        "ServiceWorker.dispatchSyncEvent",
        {
            "origin": live_server.url + "/",
            "registrationId": reg["registrationId"],
            "tag": "outbox",
            "lastChance": False,
        },
    )
    eventually(lambda: Household.get_by_id(h2.id).notes == "后台同步上传")
    page.close()


def test_new_version_is_offered_and_activated_on_request(
    app, live_server, profile, make_user, grid_data
):
    worker = make_user("grid_worker", username="w_update")
    page = open_app_as(profile, live_server.url, worker.username)
    old = page.get_attribute("meta[name=app-version]", "content")
    app.extensions["pwa_version"] = "v2-test"  # as if the shell's files had changed
    page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
    page.wait_for_selector("#update-bar:not([hidden])", timeout=15000)
    assert page.get_attribute("meta[name=app-version]", "content") == old  # not swapped yet
    page.click("#update-now")
    page.wait_for_function(
        "() => document.querySelector('meta[name=app-version]')?.content === 'v2-test'",
        timeout=15000,
    )
    page.close()
