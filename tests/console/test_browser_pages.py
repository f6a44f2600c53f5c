"""Every console page in Chromium at 1366 px and 360 px: nothing wider than the phone, status
chips on one line, the hidden attribute always hides, and the recipient fields of the task and
announcement forms follow the chosen kind. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest

from tests.console.test_browser import login

pytestmark = pytest.mark.browser
msvc = pytest.importorskip("gridapp.matters.service")

CHECKS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('.badge')) {
    if (!el.offsetParent) continue;
    if (el.getClientRects().length > 1 ||
        el.offsetHeight > 2 * parseFloat(getComputedStyle(el).lineHeight || '20')) {
      bad.push('wrapped chip: ' + el.textContent.trim());
    }
  }
  for (const el of document.querySelectorAll('[hidden]')) {
    if (getComputedStyle(el).display !== 'none') bad.push('hidden but shown: ' + el.outerHTML.slice(0, 80));
  }
  return {bad, width: document.documentElement.scrollWidth};
}"""


def _pages(app, role: str, ids: dict[str, int]) -> list[str]:
    """Every console GET page this role may open (routes without arguments, plus one detail)."""
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or "GET" not in rule.methods:
            continue
        if rule.arguments or rule.rule.endswith((".xlsx", ".csv", ".svg", "/export")):
            continue
        if "/admin" in rule.rule and role != "admin":
            continue
        if rule.rule.startswith("/console/department") != (role == "department"):
            continue
        out.append(rule.rule)
    out.append(f"/console/matters/{ids['matter']}")
    if role != "department":
        out.append(f"/console/tasks/{ids['task']}")
    return sorted(set(out))


@pytest.mark.parametrize("width", [1366, 360])
def test_every_console_page_at_both_widths(
    app, live_server, browser, org, make_user, artifacts_dir, width
):
    from gridapp.tasks.service import assign_task  # noqa: F401
    from tests.console.seed import seed_activity

    worker = make_user("grid_worker", username="w_pages", display_name="周网格员")
    sup = make_user("supervisor", username="sup_pages", display_name="吴网格长")
    make_user("department", username="dept_pages", display_name="水务郑工")
    make_user("admin", username="admin_pages", display_name="管理员")
    seed_activity(org, worker, matters_per_grid=4, households_per_grid=4)
    with app.test_request_context():
        m = msvc.report_matter(
            worker,
            source="worker",
            grid_id=org.grid.id,
            text="井盖缺失，夜间危险",
            title="井盖缺失",
        )
        m = msvc.transition_matter(sup, m.id, "triage", version=m.version, category="专事")
        m = msvc.transition_matter(
            sup, m.id, "dispatch", version=m.version, department_ids=[org.department.id]
        )
        from gridapp.tasks.models import Task

        task = Task.select().first()
    ids = {"matter": m.id, "task": task.id if task else 0}
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 800})
    try:
        problems = []
        for role, username in (
            ("supervisor", "sup_pages"),
            ("department", "dept_pages"),
            ("admin", "admin_pages"),
        ):
            context.clear_cookies()
            page = context.new_page()
            login(page, live_server.url, username)
            for path in _pages(app, role, ids):
                if path.endswith("/tasks/0"):
                    continue
                resp = page.goto(live_server.url + path)
                if resp.status in (403, 404):
                    continue
                assert resp.status == 200, (role, path, resp.status)
                result = page.evaluate(CHECKS)
                problems += [f"{role} {path}: {b}" for b in result["bad"]]
                if width == 360 and result["width"] > 362:
                    problems.append(f"{role} {path}: {result['width']} px wide")
                name = path.strip("/").replace("/", "-") or "root"
                page.screenshot(
                    path=str(artifacts_dir / f"pages-{width}-{role}-{name}.png"), full_page=True
                )
            page.close()
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def test_recipient_fields_follow_the_chosen_kind(live_server, browser, org, make_user):
    make_user("grid_worker", username="w_rcp")
    make_user("supervisor", username="sup_rcp")
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 800})
    try:
        page = context.new_page()
        login(page, live_server.url, "sup_rcp")
        page.goto(live_server.url + "/console/tasks")
        page.check("input[name=target][value=worker]")
        assert page.locator("#task-worker").is_visible()
        assert not page.locator("select[name=community_id]").is_visible()
        page.check("input[name=target][value=community]")
        assert page.locator("select[name=community_id]").is_visible()
        assert not page.locator("#task-worker").is_visible()
        page.goto(live_server.url + "/console/announcements")
        assert page.locator("#announce-community").is_visible()
        assert not page.locator("#announce-grids").is_visible()
        page.check("input[name=to][value=grids]")
        assert page.locator("#announce-grids").is_visible()
        assert not page.locator("#announce-community").is_visible()
        labels = page.locator("#announce-grids label").all_inner_texts()
        assert labels and all("天峰" not in t for t in labels)  # only the supervisor's scope
        assert "接收对象" in page.locator("#announce-form legend").first.inner_text()
        assert "截止日期" not in page.content()
    finally:
        context.close()
