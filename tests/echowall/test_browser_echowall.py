"""A resident scans the poster's QR, reports a need in real Chromium at 360 px and follows it."""

from __future__ import annotations

import re

import pytest

from tests.conftest import push_until_shown
from tests.notifications.conftest import _fresh_jobs  # noqa: F401  (flush huey, JWT cache)

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


def test_resident_follows_the_matter_and_gets_its_push(
    live_server, page, echo, push_service, artifacts_dir
):
    """At 360 px: the button subscribes through /t/sw.js, a staff move is pushed (the fake push
    service decrypts it), and the same payload delivered to the worker shows a notification.
    The browser's push service (FCM) is out of reach here, so ``PushManager.subscribe`` hands
    out the fake service's subscription; everything after it is real."""
    import json
    import time

    from gridapp.echowall.models import EchoPushSubscription
    from gridapp.echowall.service import grid_by_token, submit_need
    from gridapp.matters.service import transition_matter

    def eventually(check, timeout=20.0):
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "condition not met in time"
            page.wait_for_timeout(100)

    matter = submit_need(grid_by_token(echo.token), "小区门口垃圾桶满了没人清")
    sub = push_service.subscriber()
    fake = json.dumps(sub.to_json())
    page.add_init_script(
        "(() => { const json = " + fake + "; let made = null;"
        " PushManager.prototype.subscribe = async function (o) {"
        "  made = { endpoint: json.endpoint, options: { applicationServerKey:"
        "   o.applicationServerKey.buffer }, toJSON: () => json, unsubscribe: async () => true };"
        "  return made; };"
        " PushManager.prototype.getSubscription = async function () { return made; }; })();"
    )
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")

    page.goto(f"{live_server.url}/t/{matter.code}")
    page.wait_for_selector("#push-on:visible")
    assert page.locator("#push-on").inner_text() == "有进展时通知我"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.click("#push-on")
    page.wait_for_selector("#push-off:visible")
    assert page.locator("#push-status").inner_text() == "事项有新进展时，您会收到通知。"
    page.screenshot(path=str(artifacts_dir / "echowall-track-push.png"), full_page=True)
    (row,) = EchoPushSubscription.select()
    assert row.matter_id == matter.id and row.endpoint == sub.endpoint

    transition_matter(echo.sup, matter.id, "triage", version=matter.version, category="社事")
    eventually(lambda: push_service.for_(sub))
    (got,) = push_service.for_(sub)
    assert got.errors == [] and got.payload["title"] == f"您的诉求 {matter.code}：正在分派"

    scope = f"{live_server.url}/t/"
    eventually(lambda: any(r["scopeURL"] == scope for r in registrations))
    reg = next(r for r in registrations if r["scopeURL"] == scope and not r["isDeleted"])
    shown = """async () => {
        const reg = await navigator.serviceWorker.getRegistration("/t/");
        return (await reg.getNotifications()).map(n => ({title: n.title, body: n.body, tag: n.tag}));
    }"""
    data = json.dumps(got.payload, ensure_ascii=False)
    (note,) = push_until_shown(page, cdp, live_server.url + "/", reg["registrationId"], data, shown)
    assert note == {
        "title": f"您的诉求 {matter.code}：正在分派",
        "body": "已分类为社事。",
        "tag": f"{live_server.url}/t/{matter.code}",
    }
    page.click("#push-off")
    page.wait_for_selector("#push-on:visible")
    assert EchoPushSubscription.select().count() == 0


def test_resident_looks_the_code_up_from_the_wall(live_server, page, echo, artifacts_dir):
    """The poster's promise on a phone: from the wall to the lookup, a mistyped code gets a
    friendly answer, the right one (typed in lower case with a space) the tracking page."""
    from gridapp.echowall.service import submit_need
    from gridapp.org.models import Grid

    code = submit_need(Grid.select().first(), "3栋楼道灯坏了很久了").code
    page.goto(f"{live_server.url}/w/{echo.wall_token}")
    page.click("#lookup-link")
    page.wait_for_url("**/t/")
    page.fill("#code", "NOPE2345")
    page.click("#lookup-submit")
    assert "没有找到这个查询码" in page.locator("#code-error").inner_text()
    assert page.locator("#code").input_value() == "NOPE2345"
    page.screenshot(path=str(artifacts_dir / "echowall-lookup-wrong.png"), full_page=True)
    page.fill("#code", f"{code[:4].lower()} {code[4:]}")
    page.click("#lookup-submit")
    page.wait_for_url(f"**/t/{code}")
    assert page.locator("#status").is_visible()
    assert page.locator("#rate-elsewhere").count() == 0  # nothing to rate yet
    hrefs = page.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert not [h for h in hrefs if h and h.startswith(("/login", "/console", "/app"))]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.goto(f"{live_server.url}/t/WRONGCODE")
    page.screenshot(path=str(artifacts_dir / "echowall-not-found.png"), full_page=True)
    page.click("#back-to-lookup")
    page.wait_for_url("**/t/")
