"""The worker finishes what they are given, in the app at 360 px: a task done after an empty-note
tap (validation clears as they type) with a photo; a 社事 dispatched to their grid accepted,
progressed offline and resolved online; the Today screen's counts and grouping; every time shown
equal to the server's value in Asia/Shanghai."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from gridapp.db import utcnow
from tests.pwa.conftest import open_app_as

pytestmark = pytest.mark.browser
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shown(value: dt.datetime, with_time: bool = True) -> str:
    """A naive UTC value as the app must show it."""
    local = value.replace(tzinfo=dt.UTC).astimezone(SHANGHAI)
    return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def eventually(check, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


SMALL_TARGETS = """() => [...document.querySelectorAll(
    'main a, main button, main summary, main label.button, .tabbar a')]
  .filter((e) => e.offsetParent !== null)
  .map((e) => [e.textContent.trim().slice(0, 20), e.getBoundingClientRect()])
  .filter(([, r]) => r.height < 44 || (r.width < 44 && r.width > 0))
  .map(([text, r]) => `${text}: ${Math.round(r.width)}x${Math.round(r.height)}`)"""


def small_targets(page) -> list[str]:
    """Every visible tap target smaller than 44 px (none expected at 360 px)."""
    return page.evaluate(SMALL_TARGETS)


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (30, 140, 90)).save(out, "JPEG", quality=85)
    return out.getvalue()


def test_task_done_after_an_empty_note_tap_with_a_photo(
    live_server, profile, make_user, grid_data, artifacts_dir
):
    from gridapp.tasks.models import Task
    from gridapp.tasks.service import assign_task

    worker = make_user("grid_worker", username="w_task", display_name="周网格")
    sup = make_user("supervisor", username="s_task")
    due = (utcnow() + dt.timedelta(hours=30)).replace(second=0, microsecond=0)
    result = assign_task(
        sup,
        title="独居老人入户核查",
        description="入户核查并拍照留存",
        target="worker",
        worker_id=worker.id,
        due_at=due,
    )
    task = Task.get(Task.assignee == worker.id)
    assert result
    page = open_app_as(profile, live_server.url, worker.username)
    page.goto(f"{live_server.url}/app#/task/{task.id}")
    page.wait_for_selector("#task-accept")
    assert page.inner_text("#task-due") == shown(due)
    # Offered exactly what the server allows from "assigned": accept and return.
    assert page.locator("#task-form button[name=action]").evaluate_all(
        "bs => bs.map(b => b.value)"
    ) == ["accept", "return"]
    page.click("#task-accept")
    page.wait_for_selector("#task-start")
    eventually(lambda: Task.get_by_id(task.id).state == "accepted")
    page.click("#task-start")
    page.wait_for_selector("#task-done")
    eventually(lambda: Task.get_by_id(task.id).state == "in_progress")
    # The task asks for photos: the done action takes them.
    assert "拍照留存" in page.inner_text("#action-photos legend")
    page.tap("#task-done")
    page.wait_for_selector("#task-note-error")
    assert page.inner_text("#task-note-error") == "必填"
    page.fill("#task-note", "已入户，老人身体良好")
    assert page.locator("#task-note-error").count() == 0  # cleared as they type
    page.set_input_files(
        "#photo-input", [{"name": "visit.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
    )
    page.wait_for_selector("#thumbs img")
    page.screenshot(path=str(artifacts_dir / "pwa-task-360.png"), full_page=True)
    assert small_targets(page) == []
    page.tap("#task-done")
    eventually(lambda: Task.get_by_id(task.id).state == "done")
    done = Task.get_by_id(task.id)
    assert done.result_note == "已入户，老人身体良好"
    assert len(json.loads(done.photo_ids)) == 1
    page.wait_for_selector("#task-status:has-text('已完成')")
    page.wait_for_selector(".gallery img")
    eventually(lambda: page.get_attribute("#flash", "data-state") == "sent")
    assert page.inner_text("#flash") == "已保存并上传。"
    page.close()


REDRAW = """() => new Promise((resolve) => {
  const before = document.querySelector('#screen form');
  window.dispatchEvent(new CustomEvent('gridapp', {detail: {type: 'pulled'}}));
  setTimeout(() => resolve(document.querySelector('#screen form') !== before), 1500);
})"""


def test_a_sync_redraw_never_loses_what_the_worker_is_entering(
    live_server, profile, make_user, grid_data
):
    """A sync ends while the worker is in a form: the camera was open when the screen was redrawn
    (the picked photo must land in the form that is there now and go with the action), or they
    had just tapped into a field (the redraw must wait: it would drop their keyboard). Each of
    the screens with a photo picker: a task's actions, a new visit, a new matter."""
    from gridapp.photos.models import Photo
    from gridapp.tasks.models import Task
    from gridapp.tasks.service import assign_task, transition_task
    from gridapp.visits.models import Visit

    worker = make_user("grid_worker", username="w_redraw", display_name="周网格")
    sup = make_user("supervisor", username="s_redraw")
    assign_task(
        sup,
        title="核查",
        description="拍照",
        target="worker",
        worker_id=worker.id,
        due_at=utcnow() + dt.timedelta(days=2),
    )
    task = Task.get(Task.assignee == worker.id)
    for action in ("accept", "start"):
        task = transition_task(worker, task.id, action, version=task.version)
    page = open_app_as(profile, live_server.url, worker.username)
    h1 = grid_data["h1"].id
    for hash_, submit, field in (
        (f"#/task/{task.id}", "#task-done", "#task-note"),
        (f"#/visit/new?household={h1}", "#visit-submit", "#visit-notes"),
        (f"#/report?household={h1}", "#matter-submit", "#matter-title"),
    ):
        page.goto(f"{live_server.url}/app{hash_}")
        page.wait_for_selector(submit)
        # Untouched, the screen follows the sync (the redraw really happens)...
        assert page.evaluate(REDRAW) is True, hash_
        # ...the picker opened on this drawing returns after the next one.
        picker = page.query_selector("#photo-input")
        assert page.evaluate(REDRAW) is True, hash_
        picker.set_input_files([{"name": "p.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}])
        page.wait_for_selector("#thumbs img", state="attached")
        assert page.locator("#thumbs img").count() == 1, hash_
        # Picked, the form is being edited: no redraw takes it away.
        assert page.evaluate(REDRAW) is False, hash_
        assert page.locator("#thumbs img").count() == 1, hash_
        # A field tapped into, nothing typed yet: no redraw either.
        page.goto(f"{live_server.url}/app#/today")
        page.wait_for_selector("#screen[data-route='#/today']", state="attached")
        page.goto(f"{live_server.url}/app{hash_}")
        page.wait_for_selector(submit)
        assert page.locator("#thumbs img").count() == 0, hash_  # left the screen: dropped
        page.focus(field)
        assert page.evaluate(REDRAW) is False, hash_
        page.evaluate("document.activeElement.blur()")
    # The task's photo picked across a redraw goes with the action.
    page.goto(f"{live_server.url}/app#/task/{task.id}")
    page.wait_for_selector("#task-done")
    picker = page.query_selector("#photo-input")
    assert page.evaluate(REDRAW) is True
    picker.set_input_files([{"name": "p.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}])
    page.wait_for_selector("#thumbs img", state="attached")
    page.fill("#task-note", "已核查")
    page.click("#task-done")
    eventually(lambda: Task.get_by_id(task.id).state == "done")
    assert len(json.loads(Task.get_by_id(task.id).photo_ids)) == 1
    # And a visit's: saved with the photo that was picked across a redraw.
    page.goto(f"{live_server.url}/app#/visit/new?household={h1}")
    page.wait_for_selector("#visit-submit")
    picker = page.query_selector("#photo-input")
    assert page.evaluate(REDRAW) is True
    picker.set_input_files([{"name": "p.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}])
    page.wait_for_selector("#thumbs img", state="attached")
    page.click("#visit-submit")
    eventually(lambda: Visit.select().where(Visit.household == h1).count() == 1)
    visit = Visit.get(Visit.household == h1)
    eventually(
        lambda: (
            Photo.select().where(Photo.owner_type == "visit", Photo.owner_id == visit.id).count()
            == 1
        )
    )
    page.close()


def test_community_matter_handled_in_the_app_offline_then_online(
    live_server, profile, make_user, grid_data, artifacts_dir
):
    from gridapp.matters.models import Matter, MatterEvent
    from gridapp.matters.service import report_matter, transition_matter
    from gridapp.photos.service import store_photo

    worker = make_user("grid_worker", username="w_matter", display_name="周网格")
    sup = make_user("supervisor", username="s_matter", display_name="王主任")
    store_photo(sup, "11111111-2222-4333-8444-555555555555", jpeg())
    m = report_matter(
        sup,
        source="supervisor",
        grid_id=grid_data["h1"].grid_id,
        text="3号楼门口垃圾堆放",
        title="垃圾堆放",
        photo_ids=["11111111-2222-4333-8444-555555555555"],
    )
    m = transition_matter(sup, m.id, "triage", version=m.version, category="社事")
    m = transition_matter(sup, m.id, "dispatch", version=m.version)
    page = open_app_as(profile, live_server.url, worker.username)
    page.goto(f"{live_server.url}/app#/matter/{m.id}")
    page.wait_for_selector("#matter-accept")
    assert page.inner_text("#matter-deadline") == shown(Matter.get_by_id(m.id).deadline_at)
    events = list(MatterEvent.select().where(MatterEvent.matter == m.id).order_by(MatterEvent.id))
    assert page.locator("#matter-timeline time").all_inner_texts() == [shown(e.at) for e in events]
    # The matter's photo, viewable (its src is set once the outbox's blobs were checked).
    page.wait_for_function("() => document.querySelector('.gallery img')?.naturalWidth > 0")

    profile.set_offline(True)
    try:
        page.tap("#matter-accept")
        page.wait_for_selector("#matter-progress")
        assert page.inner_text("#flash") == "已保存，联网后自动上传。"
        page.click("#matter-progress")  # progress needs a note
        page.wait_for_selector("#matter-note-error")
        page.fill("#matter-note", "已联系物业清运")
        page.click("#matter-progress")
        page.wait_for_selector("#pending-count[data-count='2']")
        assert Matter.get_by_id(m.id).state == "dispatched"  # nothing reached the server
    finally:
        profile.set_offline(False)
    page.evaluate("window.gridapp.syncNow({force: true})")
    eventually(lambda: Matter.get_by_id(m.id).state == "in_progress")
    eventually(
        lambda: (
            MatterEvent.select()
            .where(MatterEvent.matter == m.id, MatterEvent.action == "progress")
            .count()
            == 1
        )
    )
    page.reload()
    page.wait_for_selector("#matter-resolve")
    page.fill("#matter-note", "已清运完毕")
    page.set_input_files(
        "#photo-input", [{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
    )
    page.wait_for_selector("#thumbs img")
    page.screenshot(path=str(artifacts_dir / "pwa-matter-360.png"), full_page=True)
    assert small_targets(page) == []
    page.click("#matter-resolve")
    eventually(lambda: Matter.get_by_id(m.id).state == "resolved")
    resolved = Matter.get_by_id(m.id)
    assert resolved.result == "已清运完毕"
    ev = MatterEvent.get(MatterEvent.matter == m.id, MatterEvent.action == "resolve")
    assert len(json.loads(ev.photo_ids)) == 1
    page.wait_for_selector("#matter-status:has-text('已办结')")
    assert page.locator("#matter-form").count() == 0  # nothing left for the worker
    page.close()


def test_today_says_where_to_start(live_server, profile, make_user, org, artifacts_dir):
    from gridapp.changes import record_change
    from gridapp.db import db
    from gridapp.matters.service import report_matter, transition_matter
    from gridapp.registry.models import CareTag, ResidentTag
    from gridapp.tasks.service import assign_task
    from tests.sync.conftest import Registry

    now = utcnow()
    end_of_day = (
        (dt.datetime.now(SHANGHAI).replace(hour=23, minute=59, second=0, microsecond=0))
        .astimezone(dt.UTC)
        .replace(tzinfo=None)
    )
    if end_of_day - now < dt.timedelta(minutes=10):
        pytest.skip("too close to midnight in Shanghai for a task due today")
    worker = make_user("grid_worker", username="w_today", display_name="周网格")
    sup = make_user("supervisor", username="s_today")
    reg = Registry()
    b3, b5 = reg.building(org.grid, "3号楼"), reg.building(org.grid, "5号楼")
    days = dt.timedelta(days=1)
    h_a = reg.household(b5, unit="1", room="101", next_visit_due=now - 20 * days)
    h_b = reg.household(b3, unit="2", room="202", next_visit_due=now - 3 * days)
    h_c = reg.household(b3, unit="1", room="102", next_visit_due=now - 9 * days)
    reg.household(b3, unit="1", room="301", next_visit_due=now + 60 * days)  # not due
    alone = CareTag.get(CareTag.name == "独居老人")
    zhang = reg.resident(h_a, name="张桂兰", relation="户主", birth_year=1938)
    reg.resident(h_b, name="李建国", relation="户主")
    reg.resident(h_c, name="王淑珍", relation="户主")
    with db.atomic():
        ResidentTag.create(resident=zhang, tag=alone)
        record_change("resident", zhang.id, grid_id=zhang.grid_id)
    due_today = min(now + dt.timedelta(hours=2), end_of_day).replace(second=0, microsecond=0)
    later = (now + 3 * days).replace(second=0, microsecond=0)
    assign_task(sup, title="三天后的任务", target="worker", worker_id=worker.id, due_at=later)
    assign_task(sup, title="今天的任务", target="worker", worker_id=worker.id, due_at=due_today)
    m = report_matter(sup, source="supervisor", grid_id=org.grid.id, text="帮老人代办高龄补贴")
    m = transition_matter(sup, m.id, "triage", version=m.version, category="个事")
    transition_matter(sup, m.id, "dispatch", version=m.version)

    page = open_app_as(profile, live_server.url, worker.username)
    page.goto(f"{live_server.url}/app#/today")
    page.wait_for_selector("#today-counts")
    counts = {k: page.inner_text(f"#count-{k} strong") for k in ("visits", "tasks", "matters")}
    assert counts == {"visits": "3", "tasks": "1", "matters": "1"}
    # Grouped by building, the building with the longest-overdue household first; inside it
    # the longest overdue first; each row names its residents and their care tags.
    groups = page.locator("#due-visits details.group")
    assert groups.evaluate_all(
        "gs => gs.map(g => g.querySelector('summary span').textContent)"
    ) == [
        "5号楼",
        "3号楼",
    ]
    rows = page.locator("#due-visits [data-household]")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.household)") == [
        str(h.id) for h in (h_a, h_c, h_b)
    ]
    first = rows.first.inner_text()
    assert "张桂兰" in first and "独居老人" in first and "1-101" in first
    assert shown(now - 20 * days, with_time=False) in first
    # Tasks by due time, shown in Shanghai time (today's as a clock time).
    assert page.locator("#task-list a").all_inner_texts()[0].startswith("今天的任务")
    assert page.locator("#task-list .due-at").all_inner_texts() == [
        f"截止 {shown(due_today)[11:]}",
        f"截止 {shown(later)}",
    ]
    page.screenshot(path=str(artifacts_dir / "pwa-today-360.png"), full_page=True)
    assert small_targets(page) == []
    # The household's date is labelled as the next visit, not "households due a visit".
    page.click(f"[data-household='{h_a.id}']")
    page.wait_for_selector("#next-visit")
    assert page.inner_text("#next-visit") == shown(now - 20 * days, with_time=False)
    assert "下次走访" in page.inner_text(".facts")
    assert small_targets(page) == []
    page.close()


def test_every_screen_has_thumb_sized_targets(
    live_server, profile, make_user, grid_data, artifacts_dir
):
    """At 360 px, every link, button and summary on every screen is at least 44 px each way."""
    worker = make_user("grid_worker", username="w_targets")
    h1, b1 = grid_data["h1"], grid_data["b1"]
    page = open_app_as(profile, live_server.url, worker.username)
    routes = [
        "today",
        "grid",
        "grid?q=zs",
        f"building/{b1.id}",
        f"household/{h1.id}",
        f"visit/new?household={h1.id}",
        "report",
        "matters",
        "inbox",
        "settings",
        "outbox",
    ]
    found = {}
    for route in routes:
        page.goto(f"{live_server.url}/app#/{route}")
        page.wait_for_function(
            "r => document.getElementById('screen').dataset.route === r",
            arg="#/" + route.split("?")[0],
        )
        page.wait_for_timeout(150)
        name = route.split("?")[0].split("/")[0]
        page.screenshot(path=str(artifacts_dir / f"pwa-{name}-360.png"), full_page=True)
        small = small_targets(page)
        if small:
            found[route] = small
    assert found == {}
    # The one time module: offsets honoured, a naive server value taken as UTC, dates unshifted.
    shown_js = """async () => {
        const T = await import('/static/pwa/time.js');
        return [T.fmtDate('2026-12-03T10:00:00Z', true), T.fmtDate('2026-12-03T10:00:00', true),
                T.fmtDate('2026-12-03T10:00:00+08:00', true), T.fmtDate('2026-12-03T20:30:00Z'),
                T.fmtDate('2026-12-03'), T.isPast('2000-01-01'), T.isPast('2999-01-01'),
                T.fmtDate('not a date', true)];
    }"""
    assert page.evaluate(shown_js) == [
        "2026-12-03 18:00",
        "2026-12-03 18:00",
        "2026-12-03 10:00",
        "2026-12-04",
        "2026-12-03",
        True,
        False,
        "",
    ]
    page.close()


def test_reporting_worker_rates_a_closed_matter_in_the_app(
    live_server, profile, make_user, grid_data, artifacts_dir
):
    """rate is one of the allowed_actions: the worker who reported it gets three buttons."""
    from gridapp.matters.models import Matter
    from gridapp.matters.service import report_matter, transition_matter

    worker = make_user("grid_worker", username="w_rate")
    sup = make_user("supervisor", username="s_rate")
    m = report_matter(worker, source="worker", grid_id=grid_data["h1"].grid_id, text="路灯坏了")
    moves = [("triage", {"category": "个事"}), ("dispatch", {}), ("resolve", {"result": "修好了"})]
    for a, kw in [*moves, ("verify", {}), ("close", {})]:
        m = transition_matter(worker if a == "resolve" else sup, m.id, a, version=m.version, **kw)
    page = open_app_as(profile, live_server.url, worker.username)
    page.goto(f"{live_server.url}/app#/matter/{m.id}")
    page.wait_for_selector("#matter-rate-0")
    page.screenshot(path=str(artifacts_dir / "pwa-rate-360.png"), full_page=True)
    page.click("#matter-rate-1")
    eventually(lambda: Matter.get_by_id(m.id).rating == "基本满意")
    page.close()
