"""At 360 px: a grid worker co-handling a 社事 in their grid opens it in the app, sees the
resident's phone masked, reveals it with a reason and gets a tel: link; the full number is in
neither IndexedDB nor the service worker's caches afterwards, and offline the action only says
it needs the network. A 专事 (the department's) offers no reveal at all."""

from __future__ import annotations

import pytest

from gridapp.audit import AuditLog
from gridapp.matters.service import report_matter, transition_matter
from tests.pwa.conftest import open_app_as

pytestmark = pytest.mark.browser

PHONE = "13812341234"

# Everything the app keeps on the phone, as text: every IndexedDB store of every database, and
# every cached response body.
DUMP_STORAGE = """async () => {
  const out = [];
  for (const info of await indexedDB.databases()) {
    const db = await new Promise((ok, bad) => {
      const req = indexedDB.open(info.name);
      req.onsuccess = () => ok(req.result);
      req.onerror = () => bad(req.error);
    });
    for (const name of db.objectStoreNames) {
      const rows = await new Promise((ok, bad) => {
        const req = db.transaction(name).objectStore(name).getAll();
        req.onsuccess = () => ok(req.result);
        req.onerror = () => bad(req.error);
      });
      out.push(JSON.stringify(rows));
    }
    db.close();
  }
  for (const key of await caches.keys()) {
    const cache = await caches.open(key);
    for (const req of await cache.keys()) {
      const resp = await cache.match(req);
      const type = resp.headers.get("content-type") || "";
      if (!type.startsWith("image/")) out.push(req.url, await resp.text());
    }
  }
  return out.join("\\n");
}"""


def _matter(app, sup, grid, category, **extra):
    with app.test_request_context():
        m = report_matter(
            sup,
            source="supervisor",
            grid_id=grid.id,
            text=f"{category}：楼道积水",
            contact_phone=PHONE,
        )
        m = transition_matter(sup, m.id, "triage", version=m.version, category=category)
        m = transition_matter(sup, m.id, "dispatch", version=m.version, **extra)
    return m


def test_worker_reveals_the_resident_phone_for_one_view(
    app, org, live_server, profile, make_user, artifacts_dir
):
    sup = make_user("supervisor", community=org.community)
    worker = make_user("grid_worker", grids=[org.grid], username="w_reveal")
    social = _matter(app, sup, org.grid, "社事")
    special = _matter(app, sup, org.grid, "专事", department_ids=[org.department.id])
    app.config["PRIVACY_REVEAL_LIMIT"] = "1 per hour"  # the second reveal below is refused
    base = live_server.url
    page = open_app_as(profile, base, worker.username)

    page.goto(f"{base}/app#/matter/{special.id}")
    page.wait_for_selector("#contact-phone")
    assert page.inner_text("#contact-phone") == "138****1234"
    assert page.query_selector("#reveal-phone") is None  # the server says no: no action

    page.goto(f"{base}/app#/matter/{social.id}")
    page.wait_for_selector("#reveal-phone")
    assert page.inner_text("#contact-phone") == "138****1234"
    profile.set_offline(True)
    try:
        page.click("#reveal-phone")
        assert "联网" in page.inner_text("#reveal-status")
        assert page.is_hidden("#reveal-form")
        page.screenshot(path=str(artifacts_dir / "pwa-reveal-offline.png"), full_page=True)
    finally:
        profile.set_offline(False)
    page.click("#reveal-phone")
    page.wait_for_selector("#reveal-form:not([hidden])")
    page.click("#reveal-form button[type=submit]")  # no reason: asked for one, nothing sent
    assert "原因" in page.inner_text("#reveal-status")
    assert AuditLog.select().where(AuditLog.action == "reveal.matter_contact").count() == 0
    page.select_option("#reveal-form select[name=reason]", index=1)
    for sel in (
        "#reveal-phone",
        "#reveal-form select",
        "#reveal-form input",
        "#reveal-form button",
    ):
        box = page.locator(sel).bounding_box()
        assert box["height"] >= 44, (sel, box)
    page.screenshot(path=str(artifacts_dir / "pwa-reveal-form.png"), full_page=True)
    page.click("#reveal-form button[type=submit]")
    page.wait_for_selector("#contact-tel")
    assert page.get_attribute("#contact-tel", "href") == f"tel:{PHONE}"
    assert page.inner_text("#contact-tel") == PHONE
    assert page.locator("#contact-tel").bounding_box()["height"] >= 44
    audit = AuditLog.get(AuditLog.action == "reveal.matter_contact")
    assert audit.actor_id == worker.id and "回访居民" in audit.detail
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 360, f"sideways scroll: {width}px"
    page.screenshot(path=str(artifacts_dir / "pwa-reveal-tel.png"), full_page=True)

    # a sync redraws the screen and keeps the number shown; nothing on the phone holds it
    page.evaluate("window.gridapp.syncNow({force: true})")
    page.wait_for_selector("#contact-tel")
    stored = page.evaluate(DUMP_STORAGE)
    assert "138****1234" in stored and PHONE not in stored

    # leaving the screen forgets it; a throttled reveal shows the server's message
    page.goto(f"{base}/app#/matters")
    page.wait_for_selector("#matter-list")
    page.goto(f"{base}/app#/matter/{social.id}")
    page.wait_for_selector("#contact-phone")
    assert page.query_selector("#contact-tel") is None
    page.click("#reveal-phone")
    page.fill("#reveal-form input[name=reason_text]", "再次回访")
    page.click("#reveal-form button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('#reveal-status').textContent.includes('过多')"
    )
    assert page.query_selector("#contact-tel") is None
    page.close()
