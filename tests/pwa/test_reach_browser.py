"""The app without a push service (issue 13): on a browser with no PushManager it says which
channel reaches the worker instead, refreshes itself when it comes back to the screen, badges
its icon; where push works, the service worker acknowledges each push to the server and a
periodic sync refreshes the badge."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from gridapp.changes import record_change
from gridapp.db import db
from gridapp.notifications.models import Delivery, Notification, PushSubscription
from tests.conftest import push_until_shown
from tests.notifications.fakechannel import FakeProvider, LoopbackChannel
from tests.pwa.conftest import open_app_as

pytestmark = pytest.mark.browser


@pytest.fixture
def sms_provider():
    provider = FakeProvider()
    yield provider
    provider.stop()


@pytest.fixture
def sms(sms_provider):
    """An SMS-like channel, configured (``NOTIFY_EXTRA_CHANNELS``), reaching whoever has a
    number in it."""
    channel = LoopbackChannel("sms", sms_provider.url)
    yield channel
    channel.close()


@pytest.fixture
def app_overrides(sms):
    return {"NOTIFY_EXTRA_CHANNELS": {"sms": sms}}


# A phone whose browser has no push (most in mainland China), the app's focus throttle shortened
# so the test need not wait 30 s, and the Badging API spied on (headless shows no icon).
NO_PUSH = """
delete window.PushManager;
window.GRIDAPP_REFRESH_MIN_MS = 1500;
window.__badges = [];
navigator.setAppBadge = (n) => { window.__badges.push(n); return Promise.resolve(); };
navigator.clearAppBadge = () => { window.__badges.push(0); return Promise.resolve(); };
"""

SMALL_TARGETS = """(sel) => [...document.querySelectorAll(sel)]
  .filter((e) => e.offsetParent !== null)
  .map((e) => [e.textContent.trim().slice(0, 20), e.getBoundingClientRect()])
  .filter(([, r]) => r.height < 44 || r.width < 44)
  .map(([text, r]) => `${text}: ${Math.round(r.width)}x${Math.round(r.height)}`)"""


def eventually(check, timeout: float = 30.0, page=None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        if page is not None:
            page.wait_for_timeout(100)
        else:
            time.sleep(0.1)


def _note(worker, title: str) -> Notification:
    with db.atomic():
        n = Notification.create(recipient=worker.id, type="task.assigned", title=title, body="")
        record_change("notification", n.id, user_id=worker.id)
    return n


def _overflow(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")


def test_without_push_the_app_names_the_fallback_and_refreshes_on_focus(
    live_server, browser, make_user, grid_data, artifacts_dir, sms
):
    worker = make_user("grid_worker", username="w_nopush")
    worker.phone = "13812341234"
    worker.save()
    sms.addresses[worker.id] = worker.phone
    phone = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740})
    phone.add_init_script(NO_PUSH)
    page = open_app_as(phone, live_server.url, worker.username)
    # Today: the notice says push does not reach this phone and what does instead: text
    # messages to the worker's number, masked.
    notice = page.wait_for_selector(
        "#reach-notice[data-here='unsupported'][data-instead='sms']", timeout=15000
    )
    text = notice.inner_text()
    assert "此浏览器无法接收推送通知" in text and "新消息将改由短信 138****1234通知您" in text
    assert "13812341234" not in page.content()
    assert page.evaluate(SMALL_TARGETS, "#reach-notice a, #reach-notice button") == []
    assert not _overflow(page)
    page.screenshot(path=str(artifacts_dir / "reach-today-360.png"))
    # Settings says the same, with the server's advice.
    page.click(".tabbar a[href='#/settings']")
    card = page.wait_for_selector("#reach-card[data-here='unsupported']")
    page.wait_for_selector("#reach-card .reach-channels li[data-channel='sms']", timeout=15000)
    assert "短信 138****1234" in card.inner_text()
    # no "turn push on" on a browser that has none, no "ask for a channel" when one reaches
    assert page.query_selector("#reach-card .advice") is None
    assert not _overflow(page)
    page.screenshot(path=str(artifacts_dir / "reach-settings-360.png"), full_page=True)

    # A task notification written on the server while the app is open in the inbox: coming
    # back to the app (focus) pulls it, without a reload; the tab and the icon get the count.
    page.click(".tabbar a[href='#/inbox']")
    page.wait_for_selector("main[data-route='#/inbox']")
    me_calls: list[str] = []
    page.on("request", lambda r: "/api/v1/me" in r.url and me_calls.append(r.url))
    page.evaluate("() => { window.__loaded = performance.timeOrigin; }")
    _note(worker, "新任务：核查独居老人")
    page.wait_for_timeout(1600)  # past the focus throttle of this test
    page.evaluate("() => window.dispatchEvent(new Event('focus'))")
    page.wait_for_selector("#inbox-list >> text=新任务：核查独居老人", timeout=15000)
    page.wait_for_selector(".tabbar a[href='#/inbox'][data-unread='1']")
    eventually(lambda: 1 in page.evaluate("() => window.__badges"), page=page)
    assert page.evaluate("() => window.__loaded === performance.timeOrigin")  # no reload
    # Focus and visibilitychange arrive together: one refresh, not two.
    calls = len(me_calls)
    page.evaluate(
        "() => { window.dispatchEvent(new Event('focus'));"
        " document.dispatchEvent(new Event('visibilitychange')); }"
    )
    page.wait_for_timeout(500)
    assert len(me_calls) == calls, "refreshed again within the throttle"
    # The notice is dismissible and stays dismissed.
    page.click(".tabbar a[href='#/today']")
    page.click("#reach-dismiss")
    page.wait_for_selector("#reach-notice", state="detached")
    page.reload()
    page.wait_for_selector("#today-counts")
    page.wait_for_timeout(500)
    assert page.query_selector("#reach-notice") is None
    # Offline: opening the app, focusing it and the settings card raise nothing.
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    phone.set_offline(True)
    page.goto(live_server.url + "/app#/settings")
    page.wait_for_selector("#reach-card[data-here='unsupported']")
    page.wait_for_timeout(1600)
    page.evaluate("() => window.dispatchEvent(new Event('focus'))")
    page.wait_for_timeout(500)
    assert "短信 138****1234" in page.inner_text("#reach-card")  # the answer kept on the phone
    assert errors == []
    phone.close()


def test_the_server_saying_pushes_go_unacknowledged_shows_failing(
    live_server, browser, make_user, grid_data, artifacts_dir
):
    """This phone has a subscription, but the pushes the server sent to it for days were never
    acknowledged (FCM unreachable): the app says push does not reach it."""
    worker = make_user("grid_worker", username="w_silent")
    endpoint = "https://fcm.googleapis.com/fcm/send/silent-phone"
    sub = PushSubscription.create(user=worker.id, endpoint=endpoint, p256dh="k", auth="a")
    long_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=3)
    for title in ("一", "二"):
        n = _note(worker, title)
        Delivery.create(notification=n.id, channel="webpush", subscription=sub.id, status="sent",
                        dedupe_key=f"{n.id}:webpush:{sub.id}", sent_at=long_ago,
                        created_at=long_ago, updated_at=long_ago)  # fmt: skip
    phone = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740})
    # The browser's own subscription is that endpoint (a real one needs a push service).
    phone.add_init_script(
        "Notification.requestPermission = () => Promise.resolve('granted');"
        "Object.defineProperty(Notification, 'permission', {get: () => 'granted'});"
        f"PushManager.prototype.getSubscription = () => Promise.resolve({{endpoint: {json.dumps(endpoint)},"
        " options: {}, toJSON() { return {}; }});"
    )
    page = open_app_as(phone, live_server.url, worker.username)
    notice = page.wait_for_selector("#reach-notice[data-here='failing']", timeout=15000)
    page.wait_for_function(
        "() => document.querySelector('#reach-instead')?.textContent.includes('收件箱')"
    )
    # No other channel reaches this worker: only the inbox, seen when the app is open.
    assert "数天未送达" in notice.inner_text() and "打开应用时" in notice.inner_text()
    page.screenshot(path=str(artifacts_dir / "reach-failing-360.png"))
    phone.close()


def test_the_service_worker_acknowledges_a_push_and_badges_the_icon(
    live_server, profile, make_user, grid_data
):
    worker = make_user("grid_worker", username="w_ack")
    page = open_app_as(profile, live_server.url, worker.username)
    profile.grant_permissions(["notifications"], origin=live_server.url)
    n = _note(worker, "新任务：入户走访")
    d = Delivery.create(notification=n.id, channel="webpush", status="sent",
                        dedupe_key=f"{n.id}:webpush:0", sent_at=dt.datetime.now(dt.UTC).replace(tzinfo=None))  # fmt: skip
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
    page.evaluate("async () => { await navigator.serviceWorker.ready; return true; }")
    sw = next(w for w in profile.service_workers if w.url.startswith(live_server.url))
    spy = (
        "() => { self.__badges = [];"
        " Object.defineProperty(self.navigator, 'setAppBadge', {configurable: true,"
        "   value: (n) => { self.__badges.push(n); return Promise.resolve(); }});"
        " Object.defineProperty(self.navigator, 'clearAppBadge', {configurable: true,"
        "   value: () => { self.__badges.push(0); return Promise.resolve(); }}); }"
    )
    sw.evaluate(spy)
    payload = json.dumps(
        {"id": n.id, "d": d.id, "type": "task.assigned", "title": n.title, "body": "",
         "link": "", "urgent": True}, ensure_ascii=False,
    )  # fmt: skip
    shown = """async () => (await (await navigator.serviceWorker.ready).getNotifications())
        .map(n => ({title: n.title}))"""
    push_until_shown(page, cdp, origin, reg["registrationId"], payload, shown)
    # The acknowledgment reached the server: this delivery is confirmed delivered.
    eventually(lambda: Delivery.get_by_id(d.id).delivered_at is not None, page=page)
    # ... and the worker's icon shows the unread count.
    eventually(lambda: 1 in sw.evaluate("() => self.__badges"), page=page)
    # Periodic Background Sync (where the browser fires it): the worker pulls and re-badges.
    _note(worker, "第二条")
    sw.evaluate("() => { self.__badges = []; }")
    cdp.send(
        "ServiceWorker.dispatchPeriodicSyncEvent",
        {"origin": origin, "registrationId": reg["registrationId"], "tag": "refresh"},
    )
    eventually(lambda: 2 in sw.evaluate("() => self.__badges"), page=page)
    page.close()


def test_a_subscription_the_push_service_refuses_is_remembered(
    live_server, browser, make_user, grid_data, artifacts_dir
):
    """Chrome in mainland China: PushManager exists, but subscribing fails (FCM unreachable).
    The app remembers it and says so on Today, with the way to Settings."""
    worker = make_user("grid_worker", username="w_fcm")
    phone = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740})
    phone.grant_permissions(["notifications"], origin=live_server.url)
    phone.add_init_script(
        "PushManager.prototype.getSubscription = () => Promise.resolve(null);"
        "PushManager.prototype.subscribe = () => Promise.reject("
        "new DOMException('Registration failed - push service error', 'AbortError'));"
    )
    page = open_app_as(phone, live_server.url, worker.username)
    page.click(".tabbar a[href='#/settings']")
    page.wait_for_selector("#reach-card[data-here='off']", timeout=15000)
    page.click("#push-toggle")
    page.wait_for_selector("#reach-card[data-here='error']", timeout=15000)
    assert "push service error" in page.inner_text("#push-state")
    page.click(".tabbar a[href='#/today']")
    notice = page.wait_for_selector("#reach-notice[data-here='error']")
    assert "本机无法开启推送通知" in notice.inner_text()
    assert page.query_selector("#reach-notice a[href='#/settings']") is not None
    page.screenshot(path=str(artifacts_dir / "reach-error-360.png"))
    phone.close()


def test_the_notice_in_english_at_360_px(live_server, browser, make_user, grid_data, artifacts_dir):
    worker = make_user("grid_worker", username="w_nopush_en")
    worker.locale = "en"
    worker.save()
    phone = browser.new_context(locale="en-GB", viewport={"width": 360, "height": 740})
    phone.add_init_script(NO_PUSH)
    page = open_app_as(phone, live_server.url, worker.username)
    notice = page.wait_for_selector("#reach-notice[data-here='unsupported']", timeout=15000)
    page.wait_for_function(
        "() => document.querySelector('#reach-instead')?.textContent.includes('inbox')"
    )
    assert "This browser cannot receive push notifications." in notice.inner_text()
    assert page.evaluate(SMALL_TARGETS, "#reach-notice a, #reach-notice button") == []
    assert not _overflow(page)
    page.screenshot(path=str(artifacts_dir / "reach-today-en-360.png"))
    phone.close()
