"""Every kind of page (public, console, the worker's app) runs in Chromium under the real
Content-Security-Policy without a single violation: no inline script or handler is left."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


def _watch(page) -> list[str]:
    seen: list[str] = []
    page.add_init_script(WATCH)
    page.on(
        "console",
        lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return seen


def _visit(page, url: str, seen: list[str]) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__csp") == [], url
    assert seen == [], url
    csp = page.evaluate("fetch(location.href).then(r => r.headers.get('content-security-policy'))")
    assert "script-src 'self'" in csp


def _login(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_load_state("networkidle")


def test_no_csp_violation_on_any_kind_of_page(
    app, live_server, browser, org, make_user, artifacts_dir
):
    from gridapp.echowall.service import token_for

    base = live_server.url
    make_user("grid_worker", grids=[org.grid], username="wang")
    make_user("supervisor", community=org.community, username="zhang")
    make_user("admin", username="root")
    grid_token = token_for("grid", org.grid.id)
    wall_token = token_for("community", org.community.id)

    # Public pages, as a resident: report, track, the community wall.
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740})
    page = ctx.new_page()
    seen = _watch(page)
    _visit(page, base + "/login", seen)
    _visit(page, f"{base}/e/{grid_token}", seen)
    page.fill("textarea[name=text]", "3栋楼道灯坏了很久了")
    page.click("#submit")
    code = page.inner_text("#tracking-code").strip()
    _visit(page, f"{base}/t/{code}", seen)
    _visit(page, f"{base}/w/{wall_token}", seen)
    ctx.close()

    # The console, as a supervisor and as an admin (pages with their own scripts included).
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    seen = _watch(page)
    _login(page, base, "zhang")
    for path in ("/console/", "/console/triage", "/console/matters", "/console/tasks"):
        _visit(page, base + path, seen)
    page.context.clear_cookies()
    _login(page, base, "root")
    for path in (
        "/console/",
        "/console/admin",
        "/console/admin/users",
        "/console/admin/users/new",
        "/console/admin/audit",
        "/console/sessions",
    ):
        _visit(page, base + path, seen)
    page.screenshot(path=str(artifacts_dir / "console-sessions.png"), full_page=True)
    ctx.close()

    # The worker's app: log in inside the app (a device session), open settings.
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740})
    page = ctx.new_page()
    seen = _watch(page)
    _visit(page, base + "/app#/login", seen)
    page.fill("#app-username", "wang")
    page.fill("#app-password", PASSWORD)
    page.click("#app-login-submit")
    page.wait_for_url(re.compile(r".*#/today"))
    page.goto(base + "/app#/settings")
    page.wait_for_selector("#my-devices [data-session]")
    assert page.evaluate("window.__csp") == [] and seen == []
    assert "本设备" in page.inner_text("#my-devices")
    page.screenshot(path=str(artifacts_dir / "app-my-devices.png"), full_page=True)
    ctx.close()

    from gridapp.accounts.models import UserSession
    from gridapp.org.models import User

    kinds = {(s.user.username, s.kind) for s in UserSession.select(UserSession, User).join(User)}
    assert ("wang", "device") in kinds and ("zhang", "web") in kinds
