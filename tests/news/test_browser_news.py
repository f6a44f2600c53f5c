"""In real Chromium at 360 px: a resident reads the community's news and follows it by Web Push
(the push of a new item is decrypted at the fake push service and shown by /n/sw.js); a grid
worker sees the news in the app, offline too, and forwards it."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from gridapp.news.models import NewsFollower
from gridapp.news.service import create_item
from gridapp.scope import scope_for
from tests.conftest import push_until_shown
from tests.pwa.conftest import open_app_as, profile  # noqa: F401  (the PWA's browser profile)

pytestmark = pytest.mark.browser


def seed(news, org):
    sup = news.sup
    base = news.clock.now
    items = {}
    for i, (title, extra) in enumerate([
        ("秋冬季消防安全提示", {"pinned": True, "body": "**请勿**在楼道堆放杂物。\n\n- 检查电线\n- 备好灭火器"}),
        ("社区义诊活动通知", {"body": "周六上午 9:00 在社区卫生服务站，免费测血压、血糖。"}),
        ("关于申领老年优待证的政策解读", {"kind": "policy", "body": "年满 60 周岁的本市户籍老人可申领。详见 https://www.gov.cn/ 。"}),
    ]):  # fmt: skip
        news.clock.set(base + dt.timedelta(minutes=i))
        items[title] = create_item(sup, scope_for(sup), {"community_id": org.community.id,
                                                         "title": title, **extra})  # fmt: skip
    return items


def eventually(page, check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        page.wait_for_timeout(100)


def test_resident_reads_and_follows_on_a_phone(live_server, page, news, org, push_service,
                                               artifacts_dir):  # fmt: skip
    items = seed(news, org)
    sub = push_service.subscriber()
    page.add_init_script(
        "(() => { const json = " + json.dumps(sub.to_json()) + "; let made = null;"
        " PushManager.prototype.subscribe = async function (o) {"
        "  made = { endpoint: json.endpoint, options: { applicationServerKey:"
        "   o.applicationServerKey.buffer }, toJSON: () => json, unsubscribe: async () => true };"
        "  return made; };"
        " PushManager.prototype.getSubscription = async function () { return made; }; })();"
    )
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda e: registrations.extend(e["registrations"]))  # fmt: skip
    cdp.send("ServiceWorker.enable")

    page.goto(f"{live_server.url}/n/{news.token}")
    titles = page.locator("a.item h2").all_inner_texts()
    assert "秋冬季消防安全提示" in titles[0] and "置顶" in titles[0]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.wait_for_selector("#news-push-on:visible")
    page.screenshot(path=str(artifacts_dir / "news-public-list.png"), full_page=True)
    page.click(f"a[data-news='{items['秋冬季消防安全提示'].id}']")
    page.wait_for_selector("#news-item")
    assert page.locator("#news-body strong").inner_text() == "请勿"
    assert page.locator("#news-body li").count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts_dir / "news-public-item.png"), full_page=True)

    page.click("#news-push-on")
    page.wait_for_selector("#news-push-off:visible")
    assert page.locator("#news-push-status").inner_text() == "本社区发布新信息时将通知您。"
    (row,) = NewsFollower.select()
    assert row.community_id == org.community.id and row.endpoint == sub.endpoint
    page.screenshot(path=str(artifacts_dir / "news-public-following.png"), full_page=True)

    news.clock.set(news.clock.now + dt.timedelta(minutes=5))
    fresh = create_item(news.sup, scope_for(news.sup),
                        {"community_id": org.community.id, "title": "明日停水通知",
                         "body": "明天 8:00–12:00 停水，请提前储水。"})  # fmt: skip
    eventually(page, lambda: push_service.for_(sub))
    (got,) = push_service.for_(sub)
    assert got.errors == [] and got.payload["title"] == f"{org.community.name}·明日停水通知"
    scope = f"{live_server.url}/n/"
    eventually(page, lambda: any(r["scopeURL"] == scope for r in registrations))
    reg = next(r for r in registrations if r["scopeURL"] == scope and not r["isDeleted"])
    shown = """async () => {
        const reg = await navigator.serviceWorker.getRegistration("/n/");
        return (await reg.getNotifications()).map(n => ({title: n.title, body: n.body, tag: n.tag}));
    }"""
    data = json.dumps(got.payload, ensure_ascii=False)
    (note,) = push_until_shown(page, cdp, live_server.url + "/", reg["registrationId"], data, shown)
    assert note["title"] == f"{org.community.name}·明日停水通知"
    assert note["tag"] == f"{live_server.url}/n/{news.token}/{fresh.id}"
    page.click("#news-push-off")
    page.wait_for_selector("#news-push-on:visible")
    assert NewsFollower.select().count() == 0


def test_worker_sees_news_in_the_app_offline_and_shares_it(live_server, profile, news, org,  # noqa: F811
                                                          artifacts_dir):  # fmt: skip
    items = seed(news, org)
    page = open_app_as(profile, live_server.url, news.worker.username)
    profile.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(live_server.url + "/app#/news")
    page.wait_for_selector("#news-list")
    rows = page.locator("#news-list li").all_inner_texts()
    assert len(rows) == 3 and "秋冬季消防安全提示" in rows[0]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts_dir / "news-app-list.png"))
    policy = items["关于申领老年优待证的政策解读"]
    profile.set_offline(True)
    try:
        page.reload()
        page.wait_for_selector(".tabbar")
        page.goto(live_server.url + f"/app#/news/{policy.id}")
        page.wait_for_selector("#news-item")
        assert "政策通知" in page.locator("#news-item h1").inner_text()
        assert page.locator(".news-body a").get_attribute("href") == "https://www.gov.cn/"
        page.click("#news-share")
        page.wait_for_function("() => document.querySelector('#news-share-status').textContent")
        url = f"{live_server.url}/n/{news.token}/{policy.id}"
        shared = page.evaluate("""async () => {
            if (navigator.share) return "share";
            try { return await navigator.clipboard.readText(); } catch { return document.querySelector('#news-link').value; }
        }""")
        assert shared in ("share", url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.screenshot(path=str(artifacts_dir / "news-app-item-offline.png"))
    finally:
        profile.set_offline(False)
    page.close()


def test_supervisor_writes_news_in_the_console(live_server, browser, news, org, artifacts_dir):
    from tests.conftest import PASSWORD

    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(live_server.url + "/login")
        page.fill("#username", news.sup.username)
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url("**/console/**")
        page.goto(live_server.url + "/console/news/new")
        page.fill("#news-title", "小区停车位重新划线通知")
        page.fill(
            "#news-body", "本周末对小区停车位重新划线。\n\n- 周六：1–5 号楼\n- 周日：6–10 号楼"
        )
        page.check("#news-pinned")
        page.screenshot(path=str(artifacts_dir / "news-console-form.png"), full_page=True)
        page.click("#news-save")
        page.wait_for_selector("#news-table")
        row = page.locator("#news-table tbody tr").first
        assert (
            "小区停车位重新划线通知" in row.inner_text()
            and row.get_attribute("data-status") == "published"
        )
        page.screenshot(path=str(artifacts_dir / "news-console-list.png"), full_page=True)
    finally:
        context.close()
