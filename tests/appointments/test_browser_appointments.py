"""In Chromium: a resident books on a 360 px phone from the echo-wall page, changes the time,
comes (staff at 1366 px mark arrived, call, handle), rates once; an at-home booking becomes the
grid worker's task, done in the app offline, which handles the booking. Screenshots go to
test-artifacts/ (appointments-*.png)."""

from __future__ import annotations

import time

import pytest

from gridapp.appointments.models import Booking
from tests.conftest import PASSWORD
from tests.pwa.conftest import open_app_as, profile  # noqa: F401  (the worker's phone)

pytestmark = pytest.mark.browser

SMALL_TARGETS = """() => [...document.querySelectorAll(
    'main a, main button, main summary, main .slots span')]
  .filter((e) => e.offsetParent !== null)
  .map((e) => [e.textContent.trim().slice(0, 20), e.getBoundingClientRect()])
  .filter(([, r]) => r.height < 44 || (r.width < 44 && r.width > 0))
  .map(([text, r]) => `${text}: ${Math.round(r.width)}x${Math.round(r.height)}`)"""


def eventually(check, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def _no_overflow(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360


def test_resident_books_changes_comes_and_rates(live_server, page, browser, appt, artifacts_dir):
    url = live_server.url
    # From the echo-wall page the poster's QR opens, to the community's services.
    page.goto(f"{url}/e/{appt.grid_token}")
    page.click("#booking-link")
    page.wait_for_selector(f"article[data-service='{appt.hall.id}']")
    assert "户口本" in page.inner_text("main")
    _no_overflow(page)
    page.screenshot(path=str(artifacts_dir / "appointments-catalogue-360.png"), full_page=True)
    page.click(f"article[data-service='{appt.hall.id}'] a.button")
    page.wait_for_selector("#book-form")
    page.click("#book-submit")  # nothing chosen: errors under the fields
    page.wait_for_selector("#slot-error")
    assert page.locator("#name-error").count() == 1
    page.locator("details.day[open] .slots label:has(input:not([disabled]))").first.click()
    page.fill("#name", "张三丰")
    page.fill("#phone", "13812345678")
    assert page.evaluate(SMALL_TARGETS) == []
    _no_overflow(page)
    page.screenshot(path=str(artifacts_dir / "appointments-book-360.png"), full_page=True)
    page.click("#book-submit")
    page.wait_for_selector("#booking-code")
    b = Booking.get()
    assert page.inner_text("#booking-code").replace("-", "") == b.code
    body = page.inner_text("main")
    assert "138****5678" in body and "13812345678" not in body and "张三丰" not in body
    _no_overflow(page)
    page.screenshot(path=str(artifacts_dir / "appointments-booked-360.png"), full_page=True)
    first = b.starts_at

    # Change to another time.
    page.click("#change-link")
    page.wait_for_selector("#change-form")
    # Any other open time, on whichever day it falls: late in the afternoon the booked day may
    # have no second time left (the test must not depend on the hour it runs at).
    page.eval_on_selector_all("details.day", "(els) => els.forEach((e) => { e.open = true; })")
    booked = first.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert page.locator(f".slots input[value='{booked}']").count() == 1
    page.locator(f".slots label:has(input:not([disabled]):not([value='{booked}']))").first.click()
    page.click("#change-submit")
    page.wait_for_selector("#message")
    assert page.inner_text("#message") == "预约已改期。"
    b = Booking.get_by_id(b.id)
    assert b.starts_at != first
    day = b.starts_at.replace(tzinfo=None)

    # Staff at the desk (1366 px): arrived, call next, handled with the result.
    staff = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    desk = staff.new_page()
    desk.goto(f"{url}/login?next=/console/")
    desk.fill("#username", appt.sup.username)
    desk.fill("#password", PASSWORD)
    desk.click("#login-submit")
    desk.wait_for_url("**/console/**")
    from gridapp.times import to_local

    local_day = to_local(day).date().isoformat()
    desk.goto(f"{url}/console/appointments?day={local_day}")
    row = f"tr[data-booking='{b.id}']"
    desk.click(f"{row} form[data-action='arrive'] button")
    desk.wait_for_selector(f"{row}[data-state='arrived']")
    desk.click("#call-next")
    desk.wait_for_selector(f"{row}[data-state='serving']")
    assert "1" in desk.inner_text("#queue")
    desk.fill(f"{row} form[data-action='handle'] input[name=result]", "证明已开具")
    desk.screenshot(path=str(artifacts_dir / "appointments-desk-1366.png"), full_page=True)
    desk.click(f"{row} form[data-action='handle'] button")
    desk.wait_for_selector(f"{row}[data-state='handled']")
    assert "138****5678" in desk.inner_text(row)
    # The resident must be called back: one number shown for a reason, as a tel: link.
    desk.click(f"{row} details.reveal summary")
    desk.select_option(f"{row} details.reveal select[name=reason]", "联系未到场的居民")
    desk.click(f"{row} details.reveal button[type=submit]")
    desk.wait_for_selector(f"{row} a.phone[href='tel:13812345678']")
    desk.screenshot(path=str(artifacts_dir / "appointments-phone-1366.png"), full_page=True)

    # The resident rates once.
    page.goto(f"{url}/b/m/{b.code}")
    page.wait_for_selector("#rate-form")
    assert page.inner_text("#booking-result") == "证明已开具"
    page.click("#rate-form button[value='满意']")
    page.wait_for_selector("#booking-rating")
    assert page.locator("#rate-form").count() == 0
    assert Booking.get_by_id(b.id).rating == "满意"
    page.screenshot(path=str(artifacts_dir / "appointments-rated-360.png"), full_page=True)

    desk.goto(f"{url}/console/appointments/stats")
    assert "100.0%" in desk.inner_text("#appt-stats")
    desk.screenshot(path=str(artifacts_dir / "appointments-stats-1366.png"), full_page=True)
    staff.close()


def test_at_home_service_done_in_the_workers_app_offline(
    live_server,
    profile,  # noqa: F811
    browser,
    make_user,
    appt,
    artifacts_dir,
):
    from gridapp.appointments import service
    from gridapp.tasks.models import Task
    from gridapp.times import to_local
    from tests.appointments.conftest import first_slot

    b = service.book(appt.community.id, appt.home.id, first_slot(appt.home), "李秀英",
                     "13698761234", grid_id=appt.grid.id, address="3号楼2单元101")  # fmt: skip
    # The desk (1366 px) sends it to a worker of the grid it chooses: two work there.
    other = make_user("grid_worker", grids=[appt.grid], username="appt_w2", display_name="李网格")
    staff = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    desk = staff.new_page()
    desk.goto(f"{live_server.url}/login?next=/console/")
    desk.fill("#username", appt.sup.username)
    desk.fill("#password", PASSWORD)
    desk.click("#login-submit")
    desk.wait_for_url("**/console/**")
    day = to_local(b.starts_at).date().isoformat()
    desk.goto(f"{live_server.url}/console/appointments?day={day}")
    row = f"tr[data-booking='{b.id}']"
    choices = desk.locator(f"{row} select[name=worker_id] option").all_inner_texts()
    assert choices == ["王网格 · 在办任务 0 件", "李网格 · 在办任务 0 件"]
    values = desk.locator(f"{row} select[name=worker_id] option").evaluate_all(
        "os => os.map(o => o.value)"
    )
    assert values == [str(appt.worker.id), str(other.id)]  # fewest open tasks first, then by id
    desk.select_option(f"{row} select[name=worker_id]", str(appt.worker.id))
    desk.screenshot(path=str(artifacts_dir / "appointments-send-1366.png"), full_page=True)
    desk.click(f"{row} form[data-action='send'] button")
    desk.wait_for_selector(f"{row} a[href*='/console/tasks/']")
    assert "无需操作" not in desk.inner_text(row)
    staff.close()
    b = Booking.get_by_id(b.id)
    task = Task.get_by_id(b.task_id)
    assert task.assignee_id == appt.worker.id
    page = open_app_as(profile, live_server.url, appt.worker.username)
    page.goto(f"{live_server.url}/app#/task/{task.id}")
    page.wait_for_selector("#task-accept")
    assert "3号楼2单元101" in page.inner_text("main")
    # To agree the hour, the worker reveals the resident's number (a reason, audited)
    assert page.inner_text("#task-contact #contact-phone") == "136****1234"
    page.tap("#reveal-phone")
    page.select_option("#reveal-form select[name=reason]", index=1)
    page.tap("#reveal-form button[type=submit]")
    page.wait_for_selector("#contact-tel")
    assert page.get_attribute("#contact-tel", "href") == "tel:13698761234"
    assert page.locator("#contact-tel").bounding_box()["height"] >= 44
    _no_overflow(page)
    page.screenshot(
        path=str(artifacts_dir / "appointments-home-task-phone-360.png"), full_page=True
    )
    # Away and straight back (both hash changes handled after the second): forgotten
    page.evaluate(f"() => {{ location.hash = '#/today'; location.hash = '#/task/{task.id}'; }}")
    page.wait_for_selector("#task-contact #contact-phone")
    assert page.query_selector("#contact-tel") is None
    profile.set_offline(True)
    try:
        page.tap("#task-accept")
        page.wait_for_selector("#task-start")
        page.tap("#task-start")
        page.wait_for_selector("#task-done")
        page.fill("#task-note", "已上门办理，老人签字确认")
        page.tap("#task-done")
        page.wait_for_selector("#pending-count[data-count='3']")
        page.screenshot(path=str(artifacts_dir / "appointments-home-task-360.png"), full_page=True)
        assert Booking.get_by_id(b.id).state == "booked"  # nothing reached the server
    finally:
        profile.set_offline(False)
    page.evaluate("window.gridapp.syncNow({force: true})")
    eventually(lambda: Booking.get_by_id(b.id).state == "handled")
    done = Booking.get_by_id(b.id)
    assert done.result == "已上门办理，老人签字确认" and done.handled_by_id == appt.worker.id
    assert Task.get_by_id(task.id).state == "done"
    # Done: the number is no longer the worker's to see (the server's row says so)
    page.goto(f"{live_server.url}/app#/today")
    page.goto(f"{live_server.url}/app#/task/{task.id}")
    page.wait_for_function(
        "() => document.querySelector('#task-status')?.textContent.includes('已完成')"
    )
    page.evaluate("window.gridapp.syncNow({force: true})")
    page.wait_for_selector("#task-contact #contact-phone")
    eventually(lambda: page.query_selector("#reveal-phone") is None)
    page.close()
