"""Browser fixtures for the PWA: a persistent Chromium profile per module (installability and
service workers need one: a normal context is incognito), a seeded grid, a logged-in app."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, PASSWORD, UnfinishedWatch
from tests.sync.conftest import Registry


@pytest.fixture(scope="module")
def profile(playwright_instance):
    """One persistent context for the module; each test gets fresh pages in it."""
    tmp = tempfile.mkdtemp(prefix="gridapp-pwa-")
    ctx = playwright_instance.chromium.launch_persistent_context(
        tmp,
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        locale="zh-CN",
        viewport={"width": 360, "height": 740},
        has_touch=True,
        service_workers="allow",
    )
    yield ctx
    ctx.close()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(autouse=True)
def _answers_read(request):
    """Every answer the app receives is read to the end (``tests.conftest.UnfinishedWatch``)."""
    if "profile" not in request.fixturenames:
        yield
        return
    watch = UnfinishedWatch(request.getfixturevalue("profile"))
    yield
    watch.check()


@pytest.fixture
def grid_data(org):
    reg = Registry()
    b1 = reg.building(org.grid, "3号楼")
    b2 = reg.building(org.grid, "5号楼")
    h1 = reg.household(b1, phone="13812345678", unit="1", room="101", address="幸福路3号")
    h2 = reg.household(b2, unit="2", room="202")
    r1 = reg.resident(h1, name="张三", relation="户主", birth_year=1946)
    reg.resident(h1, name="李秀英", relation="配偶", phone="13698761234")
    reg.resident(h2, name="王小明", relation="户主")
    other = reg.household(reg.building(org.grid2, "9号楼"))
    reg.resident(other, name="赵六")
    return {"h1": h1, "h2": h2, "r1": r1, "other": other, "b1": b1}


def login_in_page(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base_url + "/login?next=/app")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url("**/app**")


def open_app(page, base_url: str) -> None:
    """Open the app and wait until its service worker controls it and a sync finished."""
    page.goto(base_url + "/app#/today")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15000)
    page.wait_for_function("() => window.gridapp && window.gridapp.ready", timeout=15000)
    page.evaluate("window.gridapp.ready")
    page.evaluate("window.gridapp.syncNow()")


def open_app_as(context, base_url: str, username: str):
    """A new page in ``context`` (a phone's browser profile), logged in as ``username``, with
    the app open and synced."""
    page = context.new_page()
    login_in_page(page, base_url, username)
    open_app(page, base_url)
    return page
