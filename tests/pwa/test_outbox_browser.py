"""Offline visit with a photo and a matter report reach the server exactly once, even when the
outbox is sent twice; an outbox never goes out under another account on the same phone."""

from __future__ import annotations

import io
import json
import time

import pytest
from PIL import Image

from gridapp.registry.models import Household
from tests.pwa.conftest import login_in_page, open_app, open_app_as

pytestmark = pytest.mark.browser


def eventually(check, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def big_jpeg() -> bytes:
    img = Image.new("RGB", (3200, 2400), (200, 120, 40))
    for x in range(0, 3200, 200):
        img.paste((20, 40, 200), (x, 0, x + 50, 2400))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def pending(page) -> int:
    return int(page.get_attribute("#pending-count", "data-count") or 0)


def test_offline_visit_and_matter_arrive_exactly_once(
    live_server, profile, make_user, grid_data, artifacts_dir
):
    Visit = pytest.importorskip("gridapp.visits.models").Visit
    Matter = pytest.importorskip("gridapp.matters.models").Matter
    Photo = pytest.importorskip("gridapp.photos.models").Photo

    worker = make_user("grid_worker", username="w_outbox", display_name="周网格")
    h1, r1 = grid_data["h1"], grid_data["r1"]
    page = open_app_as(profile, live_server.url, worker.username)
    photo = {"name": "door.jpg", "mimeType": "image/jpeg", "buffer": big_jpeg()}

    profile.set_offline(True)
    try:
        page.reload()
        page.wait_for_selector(".tabbar")
        # A phone visit to 张三's household, with a photo and a service from the pack.
        page.goto(f"{live_server.url}/app#/visit/new?household={h1.id}")
        page.wait_for_selector("#visit-form")
        page.check("input[name=mode][value=phone]")
        page.check(f"input[name=resident][value='{r1.id}']")
        page.check("#service-list input >> nth=0")
        page.fill("#visit-notes", "电话回访，老人身体还好")
        page.set_input_files("#photo-input", [photo])
        page.wait_for_selector("#thumbs img")
        page.click("#visit-submit")
        page.wait_for_url(f"**/app#/household/{h1.id}")
        page.wait_for_selector("#visit-history")
        assert "电话回访" in page.inner_text("#visit-history")
        # A matter, from the same household.
        page.goto(f"{live_server.url}/app#/report?household={h1.id}")
        page.wait_for_selector("#matter-form")
        page.check("input[name=category][value=community]")
        page.fill("#matter-title", "楼道灯不亮")
        page.fill("#matter-description", "3号楼1单元楼道灯坏了一周")
        page.set_input_files("#photo-input", [photo])
        page.wait_for_selector("#thumbs img")
        page.click("#matter-submit")
        page.wait_for_url("**/app#/matters")
        page.wait_for_selector("#matter-list")
        assert "楼道灯不亮" in page.inner_text("#matter-list")
        assert pending(page) == 4  # two photos, one visit, one matter
        page.screenshot(path=str(artifacts_dir / "pwa-offline-matters.png"))
        sent = page.evaluate(
            "window.gridapp.idb.outbox().then(ops => ops.filter(o => o.type !== 'photo.upload'))"
        )
        assert Visit.select().count() == 0 and Matter.select().count() == 0
    finally:
        profile.set_offline(False)

    page.evaluate("window.dispatchEvent(new Event('online'))")
    eventually(lambda: Visit.select().count() == 1 and Matter.select().count() == 1)
    page.wait_for_selector("#pending-count[data-count='0']", timeout=20000)
    visit = Visit.get()
    assert visit.mode == "phone" and visit.resident_id_list == [r1.id]
    assert visit.notes == "电话回访，老人身体还好" and len(visit.service_list) == 1
    photos = list(Photo.select().where(Photo.owner_type == "visit", Photo.owner_id == visit.id))
    assert len(photos) == 1 and max(photos[0].width, photos[0].height) <= 1600
    matter = Matter.get()
    assert matter.title == "楼道灯不亮" and matter.suggested_category == "社事"
    assert len(json.loads(matter.photo_ids)) == 1
    assert Household.get_by_id(h1.id).last_visit_at is not None

    # The server's answer was lost: the phone sends the same operations again. Still one each.
    page.evaluate(
        """async (ops) => {
          await window.gridapp.idb.tx("outbox", "readwrite", (s) => {
            for (const op of ops) s.outbox.put({...op, status: "pending", next_try: 0});
          });
          await window.gridapp.syncNow({force: true});
        }""",
        sent,
    )
    page.wait_for_selector("#pending-count[data-count='0']", timeout=20000)
    assert Visit.select().count() == 1 and Matter.select().count() == 1
    assert Photo.select().count() == 2
    # The matter the phone made offline is now the server's row (with its timeline).
    page.goto(f"{live_server.url}/app#/matters")
    page.wait_for_selector("#matter-list")
    page.click("#matter-list a")
    page.wait_for_selector(".timeline li")
    assert "已上报" in page.inner_text("#matter-status")
    page.close()


def test_outbox_is_never_sent_under_another_account(live_server, profile, make_user, grid_data):
    first = make_user("grid_worker", username="w_first")
    second = make_user("grid_worker", username="w_second")
    h2 = grid_data["h2"]
    page = profile.new_page()
    page.on("dialog", lambda d: d.accept())  # "changes are pending; log out anyway?"
    login_in_page(page, live_server.url, first.username)
    open_app(page, live_server.url)
    profile.set_offline(True)
    page.goto(f"{live_server.url}/app#/household/{h2.id}")
    page.wait_for_selector("#household-form", state="attached")
    page.click("#edit-household summary")
    page.fill("#household-form textarea[name=notes]", "第一位网格员的修改")
    page.click("#household-form button[type=submit]")
    page.wait_for_selector("#pending-count[data-count='1']")
    # Logging out with a pending change warns, and keeps it on the phone.
    page.route("**/api/v1/sync", lambda route: route.abort())  # the change must not slip out
    profile.set_offline(False)
    page.goto(f"{live_server.url}/app#/settings")
    page.click("#logout-button")
    page.wait_for_url("**/app#/login")
    page.unroute("**/api/v1/sync")
    # Someone else logs in on this phone: the first worker's change is not sent as theirs.
    page.fill("#app-username", second.username)
    page.fill("#app-password", "secret-pass-1")
    # A sync ending while they type does not redraw the form and wipe what they typed.
    page.evaluate(
        """() => new Promise((resolve) => {
          window.dispatchEvent(new CustomEvent("gridapp", {detail: {type: "sync-end"}}));
          setTimeout(resolve, 500);
        })"""
    )
    assert page.input_value("#app-username") == second.username
    page.click("#app-login-submit")
    page.wait_for_url("**/app#/today")
    page.evaluate("window.gridapp.syncNow()")
    page.goto(f"{live_server.url}/app#/outbox")
    page.wait_for_selector("#sync-now")
    assert "其他账号" in page.content()
    assert Household.get_by_id(h2.id).notes == ""
    # The first worker comes back: now it goes, under their name.
    page.goto(f"{live_server.url}/app#/settings")
    page.click("#logout-button")
    page.wait_for_url("**/app#/login")
    page.fill("#app-username", first.username)
    page.fill("#app-password", "secret-pass-1")
    page.click("#app-login-submit")
    page.wait_for_url("**/app#/today")
    eventually(lambda: Household.get_by_id(h2.id).notes == "第一位网格员的修改")
    page.close()
