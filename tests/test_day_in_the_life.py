"""A working day at 东城水岸社区, in Chromium, every role on its own device (one shared browser):
phones at 360×740 with touch, the console at 1366×768, all in Asia/Shanghai.

The worker syncs in the morning, opens Today, makes a care visit offline with a photo, reports
a matter for a resident offline, comes back online (each uploaded once); the supervisor triages it
as 专事 and dispatches it to the water company with a deadline; the handler sees the photo and
the resident's phone, accepts and resolves; the supervisor verifies and closes; the resident
looks the code up on the public lookup page, reads the reply and rates; the worker sees the
closure. Every date and time on every screen is checked against the server's value in
Asia/Shanghai (``check_times``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.sync_api import Error as PlaywrightError

from gridapp.audit import AuditLog
from gridapp.db import db, utcnow
from gridapp.masking import mask_name, mask_phone
from gridapp.matters.models import Matter, MatterEvent
from gridapp.notifications.models import Notification
from gridapp.org.models import User
from gridapp.photos.models import Photo
from gridapp.registry.care import refresh_schedules
from gridapp.registry.models import CareTag, Household, ResidentTag
from gridapp.tasks.models import Task
from gridapp.tasks.service import assign_task
from gridapp.visits.models import Visit
from tests.conftest import PASSWORD
from tests.sync.conftest import Registry

pytestmark = pytest.mark.browser

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "has_touch": True,
    "is_mobile": True,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
    "service_workers": "allow",
}
DESKTOP = {
    "viewport": {"width": 1366, "height": 768},
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
}
RESIDENT_PHONE = "13912345678"
REPLY = "已更换破损水管，水压恢复正常。"

# ---- times on screens ---------------------------------------------------------------------

FULL = re.compile(r"(?<![\d-])\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?(?![\d:])")
SHORT = re.compile(r"(?<![\d-])\d{2}-\d{2} \d{2}:\d{2}(?![\d:])")
CLOCK = re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?![\d:])")
FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%m-%d %H:%M", "%H:%M")


def shown_in_shanghai(value: dt.datetime, fmt: str) -> str:
    return value.replace(tzinfo=dt.UTC).astimezone(SHANGHAI).strftime(fmt)


def check_times(text: str, server: Iterable[dt.datetime | None], where: str) -> list[str]:
    """Every date or time in ``text`` must be one of the server's values (naive UTC) written in
    Asia/Shanghai, to the precision shown. A time 8 hours off, or a UTC date after 16:00 UTC,
    is not among them. Returns what was found."""
    allowed = {shown_in_shanghai(v, f) for v in server if v is not None for f in FORMATS}
    found = []
    for pattern in (FULL, SHORT, CLOCK):
        found += pattern.findall(text)
        text = pattern.sub(" ", text)
    wrong = [s for s in found if s not in allowed]
    assert not wrong, f"{where}: {wrong} are not server times in Asia/Shanghai ({sorted(allowed)})"
    return found


def naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def around(value: dt.datetime | None) -> list[dt.datetime | None]:
    """A time the phone stamped itself, a few seconds from the server's: either minute."""
    if value is None:
        return [None]
    return [value - dt.timedelta(seconds=60), value, value + dt.timedelta(seconds=60)]


def matter_times(matter: Matter) -> list[dt.datetime | None]:
    """The times of a matter the server holds: its own, its events', and the deadlines a
    dispatch event records (the day set by hand and the rule's)."""
    matter = Matter.get_by_id(matter.id)
    out = [matter.created_at, matter.updated_at, matter.deadline_at, matter.closed_at]
    for e in MatterEvent.select().where(MatterEvent.matter == matter.id):
        out.append(e.at)
        data = json.loads(e.data or "{}")
        for key in ("deadline_at", "rule_deadline_at"):
            if data.get(key):
                out.append(naive_utc(dt.datetime.fromisoformat(data[key])))
    return out


# ---- helpers ------------------------------------------------------------------------------


def eventually(check, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not met in {timeout:.0f} s"
        time.sleep(0.1)


def jpeg(colour=(200, 120, 40)) -> dict:
    img = Image.new("RGB", (1200, 900), colour)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


def console_login(page, base: str, username: str, landing: str) -> None:
    page.goto(f"{base}/login?next={landing}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"**{landing}**")


def body_text(page, selector: str = "body") -> str:
    return page.inner_text(selector)


def no_sideways_scroll(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.fixture
def day(org, make_user):
    """The people of one grid and the morning's state of the server."""
    worker = make_user("grid_worker", username="w_zhou", display_name="周网格")
    sup = make_user("supervisor", username="sup_li", display_name="李网格长")
    handler = make_user("department", username="water_wang", display_name="水务王工")
    reg = Registry()
    b3, b5 = reg.building(org.grid, "3号楼"), reg.building(org.grid, "5号楼")
    h1 = reg.household(b3, unit="1", room="101", address="幸福路3号1单元101")
    h2 = reg.household(b5, unit="2", room="202", address="幸福路5号2单元202")
    r1 = reg.resident(h1, name="张秀兰", relation="户主", birth_year=1941)
    reg.resident(h2, name="王建国", relation="户主", birth_year=1970)
    alone = CareTag.get(CareTag.code == "elderly_alone")
    with db.atomic():
        ResidentTag.create(resident=r1, tag=alone)
        refresh_schedules([h1.id, h2.id])  # never visited: both due since registration
    due = utcnow() + dt.timedelta(days=1, hours=3)
    task_id = assign_task(
        sup,
        title="核查消防通道堆物",
        description="检查3号楼消防通道，拍照留存。",
        target="worker",
        worker_id=worker.id,
        due_at=due,
    ).task_ids[0]
    return {"worker": worker, "sup": sup, "handler": handler, "h1": h1, "r1": r1, "task": task_id}


@pytest.fixture
def phone(browser):
    ctx = browser.new_context(**PHONE)
    yield ctx
    ctx.close()


@pytest.fixture
def resident_phone(browser):
    ctx = browser.new_context(**{**PHONE, "service_workers": "block"})
    yield ctx
    ctx.close()


@pytest.fixture
def desktop(browser):
    ctx = browser.new_context(**DESKTOP)
    yield ctx
    ctx.close()


def open_app(context, base: str, username: str):
    page = context.new_page()
    page.goto(f"{base}/login?next=/app")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/app**")
    page.goto(f"{base}/app#/today")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=20000)
    page.wait_for_function("() => window.gridapp && window.gridapp.ready", timeout=20000)
    page.evaluate("window.gridapp.ready")
    page.evaluate("window.gridapp.syncNow()")
    return page


class Steps:
    """The day's checks. A check that fails is recorded and the day goes on where it can (by the
    plain route: the tracking page by its URL when the lookup page fails, say), so one run names
    every broken step; the test fails at the end listing them all. Moves that the rest of the
    day needs (an upload, a state change) are plain asserts."""

    def __init__(self, artifacts) -> None:
        self.failed: list[str] = []
        self.artifacts = artifacts

    @contextmanager
    def check(self, what: str) -> Iterator[None]:
        try:
            yield
        except (AssertionError, PlaywrightError) as exc:
            self.failed.append(f"{what}: {str(exc).splitlines()[0][:300]}")

    def done(self) -> None:
        assert not self.failed, "steps that failed:\n" + "\n".join(self.failed)


QUICK = 5000  # ms: an element that is there appears at once; a missing one fails fast


# ---- the day ------------------------------------------------------------------------------


def test_a_working_day(live_server, day, phone, resident_phone, desktop, artifacts_dir):
    base = live_server.url
    worker, sup, h1, r1 = day["worker"], day["sup"], day["h1"], day["r1"]
    shots = artifacts_dir
    steps = Steps(artifacts_dir)

    # 1. Morning: the worker opens the app; the first sync brings the grid, tasks and inbox.
    app = open_app(phone, base, worker.username)
    app.wait_for_selector("#due-visits")
    today = body_text(app, "main")
    assert "核查消防通道堆物" in today and "3号楼" in today
    with steps.check("Today names the resident and her care tag"):
        assert "独居老人" in today and (r1.name in today or mask_name(r1.name) in today), (
            today.replace("\n", " ")[:300]
        )
    synced = User.get_by_id(worker.id).last_sync_at
    server_times = [Task.get_by_id(day["task"]).due_at, *around(synced)]
    server_times += [h.next_visit_due for h in Household.select()]
    with steps.check("times on Today"):
        check_times(body_text(app), server_times, "Today")
    with steps.check("Today fits 360 px"):
        no_sideways_scroll(app, 360)
    app.screenshot(path=str(shots / "day-1-today.png"))

    # 2. A care visit, offline, with a photo: from Today's list to the household.
    phone.set_offline(True)
    try:
        app.click(f"#due-visits a[href$='/household/{h1.id}']")
        app.wait_for_selector("#new-visit")
        app.tap("#new-visit")
        app.wait_for_selector("#visit-form")
        app.check(f"input[name=resident][value='{r1.id}']")
        app.fill("#visit-notes", "老人身体不错，叮嘱天冷注意保暖。")
        app.set_input_files("#photo-input", [jpeg()])
        app.wait_for_selector("#thumbs img")
        app.tap("#visit-submit")
        app.wait_for_selector("#visit-history")
        assert "叮嘱天冷" in body_text(app, "#visit-history")

        # 3. A matter for the resident, offline: water pressure, with a photo and her phone.
        app.tap("#report-here")
        app.wait_for_selector("#matter-form")
        app.check("input[name=category][value=special]")
        app.fill("#matter-title", "3号楼水压低")
        app.fill("#matter-description", "3号楼1单元早晚用水高峰水压很低，热水器打不着火。")
        with steps.check("the app's report form takes the resident's phone (#matter-phone)"):
            app.fill("#matter-phone", RESIDENT_PHONE, timeout=QUICK)
        app.set_input_files("#photo-input", [jpeg((60, 110, 160))])
        app.wait_for_selector("#thumbs img")
        app.tap("#matter-submit")
        app.wait_for_selector("#matter-list")
        app.wait_for_selector("#pending-count[data-count='4']")  # 2 photos, a visit, a matter
        assert Visit.select().count() == 0 and Matter.select().count() == 0
        app.screenshot(path=str(shots / "day-2-offline.png"))
    finally:
        phone.set_offline(False)

    # 4. Back online: everything goes up once.
    app.evaluate("window.dispatchEvent(new Event('online'))")
    app.wait_for_selector("#pending-count[data-count='0']", timeout=30000)
    eventually(lambda: Visit.select().count() == 1 and Matter.select().count() == 1, what="upload")
    visit, matter = Visit.get(), Matter.get()
    with steps.check("the matter carries the resident's phone"):
        assert matter.contact_phone == RESIDENT_PHONE
    assert len(json.loads(matter.photo_ids)) == 1
    assert (
        Photo.select().where(Photo.owner_type == "visit", Photo.owner_id == visit.id).count() == 1
    )
    app.evaluate("window.gridapp.syncNow({force: true})")
    assert Visit.select().count() == 1 and Matter.select().count() == 1
    with steps.check("the app shows the tracking code to give the resident"):
        app.goto(f"{base}/app#/matter/{matter.id}")
        app.wait_for_selector("#matter-status")
        eventually(lambda: matter.code in body_text(app, "main"), timeout=QUICK / 1000)

    # 5. The supervisor, at the desk: triage as 专事, the water company, a deadline.
    console = desktop.new_page()
    console_login(console, base, sup.username, "/console/")
    console.goto(f"{base}/console/triage")
    item = console.locator(f".triage-item[data-code='{matter.code}']")
    with steps.check("the triage card shows the title"):
        assert "3号楼水压低" in item.inner_text()
    with steps.check("times on the triage card"):
        check_times(item.inner_text(), matter_times(matter), "triage card")
    with steps.check("the worker's suggestion (专事) preselects the triage form"):
        assert item.locator("select.category").input_value() == "专事"
    item.locator("select.category").select_option("专事")
    deadline_day = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=4)).date()
    item.locator("select.department").select_option(label="水务公司")
    item.locator("input.deadline").fill(deadline_day.isoformat())
    item.locator("button[type=submit]").click()
    console.wait_for_load_state("networkidle")
    matter = Matter.get_by_id(matter.id)
    assert matter.state == "dispatched" and matter.category == "专事"
    assert shown_in_shanghai(matter.deadline_at, "%Y-%m-%d") == deadline_day.isoformat()
    console.goto(f"{base}/console/matters/{matter.id}")
    page_text = body_text(console, "main")
    with steps.check("the console shows the deadline in Asia/Shanghai"):
        assert shown_in_shanghai(matter.deadline_at, "%Y-%m-%d %H:%M") in page_text
    with steps.check("times on the console's matter page"):
        check_times(page_text, matter_times(matter), "console matter")
    console.screenshot(path=str(shots / "day-3-dispatched.png"), full_page=True)

    # 6. The water company's handler: sees the photo and the resident's phone, accepts, resolves.
    handler_ctx = desktop.browser.new_context(**DESKTOP)
    handler_page = handler_ctx.new_page()
    console_login(handler_page, base, day["handler"].username, "/console/department")
    with steps.check("the handler's list shows the matter, with the server's times"):
        listing = body_text(handler_page, "main")
        assert "3号楼水压低" in listing
        check_times(listing, matter_times(matter), "handler's list")
    handler_page.goto(f"{base}/console/matters/{matter.id}")
    with steps.check("the handler sees the photo"):
        handler_page.locator(".photos img").first.wait_for(timeout=QUICK)
        handler_page.wait_for_function(
            "() => [...document.querySelectorAll('.photos img')]"
            ".every(i => i.complete && i.naturalWidth > 0)",
            timeout=QUICK,
        )
    with steps.check("the handler sees the resident's phone (masked, then revealed and logged)"):
        shown = handler_page.locator("#contact-phone")
        assert shown.inner_text(timeout=QUICK) == mask_phone(RESIDENT_PHONE)
        handler_page.locator("#reveal-contact select[name=reason]").select_option(index=1)
        handler_page.click("#reveal-contact button[type=submit]")
        handler_page.wait_for_selector("#contact-phone[data-revealed=true]", timeout=QUICK)
        assert handler_page.inner_text("#contact-phone") == RESIDENT_PHONE
        assert AuditLog.select().where(AuditLog.actor_id == day["handler"].id).exists()
    with steps.check("times on the handler's matter page"):
        check_times(body_text(handler_page, "main"), matter_times(matter), "handler's matter")
    handler_page.screenshot(path=str(shots / "day-4-handler.png"), full_page=True)
    handler_page.locator("form[data-action=accept] button").click()
    handler_page.wait_for_selector("form[data-action=resolve]")
    handler_page.fill("form[data-action=resolve] textarea[name=result]", REPLY)
    handler_page.locator("form[data-action=resolve] button").click()
    eventually(lambda: Matter.get_by_id(matter.id).state == "resolved", what="resolved")
    handler_ctx.close()

    # 7. The supervisor verifies and closes.
    console.goto(f"{base}/console/matters/{matter.id}")
    console.locator("form[data-action=verify] button").click()
    console.wait_for_selector("form[data-action=close]")
    console.locator("form[data-action=close] button").click()
    eventually(lambda: Matter.get_by_id(matter.id).state == "closed", what="closed")
    console.goto(f"{base}/console/matters/{matter.id}")
    with steps.check("times on the closed matter's console page"):
        check_times(body_text(console, "main"), matter_times(matter), "closed matter")

    # 8. The resident types the code the worker gave her into the public lookup page.
    res = resident_phone.new_page()
    with steps.check("the public lookup page finds the matter by its code"):
        res.goto(f"{base}/t/")
        res.fill("input[name=code]", matter.code.lower(), timeout=QUICK)
        res.click("#lookup-submit", timeout=QUICK)
        res.wait_for_selector("#reply", timeout=QUICK)
    if "/t/" + matter.code not in res.url:
        res.goto(f"{base}/t/{matter.code}")  # on by the tracking page's own address
    assert REPLY in res.inner_text("#reply")
    with steps.check("times on the tracking page"):
        check_times(body_text(res), matter_times(matter), "tracking page")
    with steps.check("no link from the public page to the staff login"):
        assert "/login" not in res.content()
    with steps.check("the tracking page fits 360 px"):
        no_sideways_scroll(res, 360)
    res.screenshot(path=str(shots / "day-5-tracking.png"), full_page=True)
    with steps.check("the resident rates (满意)"):
        res.locator("button[name=rating][value='满意']").click(timeout=QUICK)
        eventually(lambda: Matter.get_by_id(matter.id).rating == "满意", 10, "rating")

    # 9. The worker's phone shows the closure with the server's times.
    app.evaluate("window.gridapp.syncNow({force: true})")
    app.goto(f"{base}/app#/matter/{matter.id}")
    app.wait_for_selector("#matter-status")
    eventually(lambda: "已关闭" in app.inner_text("#matter-status"), what="closure on the phone")
    synced = User.get_by_id(worker.id).last_sync_at
    with steps.check("times on the app's matter screen"):
        check_times(body_text(app), matter_times(matter) + around(synced), "app matter")
    app.screenshot(path=str(shots / "day-6-closed.png"))
    app.goto(f"{base}/app#/inbox")
    app.wait_for_selector("#inbox-list")
    notes = Notification.select(Notification.created_at).where(Notification.recipient == worker.id)
    with steps.check("times in the app's inbox"):
        check_times(body_text(app), [n.created_at for n in notes] + around(synced), "inbox")
    steps.done()
