"""Shared fixtures: a fresh database per test (SQLite file copy or PostgreSQL template clone),
the app, logged-in API clients, factory fixtures for the organisation, and one shared Chromium.

``GRIDAPP_TEST_DB=postgres`` runs the suite on a fresh PostgreSQL database created for this run
(``GRIDAPP_TEST_PG`` is the server's URL); the default is SQLite.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridapp import create_app
from gridapp.db import close_pools, db, make_database
from gridapp.migrate import upgrade

BACKEND = os.environ.get("GRIDAPP_TEST_DB", "sqlite")
PG_URL = os.environ.get("GRIDAPP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("GRIDAPP_TEST_REDIS", "redis://127.0.0.1:6379/15")
PASSWORD = "secret-pass-1"


def _pg_admin():
    import psycopg

    return psycopg.connect(PG_URL, autocommit=True)


def _pg_url(name: str) -> str:
    parts = urlparse(PG_URL)
    return urlunparse(parts._replace(path="/" + name))


class DatabaseFactory:
    """Migrates one template per run, then hands each test its own copy."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.run_id = uuid.uuid4().hex[:8]
        self.counter = itertools.count()
        self.created: list[str] = []
        if BACKEND == "postgres":
            self.template = f"gridapp_tmpl_{self.run_id}"
            with _pg_admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.template}"')
            self.created.append(self.template)
            database = make_database(_pg_url(self.template))
        else:
            self.template_path = workdir / "template.db"
            database = make_database(f"sqlite:///{self.template_path}")
        upgrade(database)
        database.close()
        close_pools()  # pooled: the template must have no session left to be copied
        if BACKEND == "sqlite":
            # Fold the WAL into the main file so a plain copy is complete.
            import sqlite3

            con = sqlite3.connect(self.template_path)
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            con.execute("PRAGMA journal_mode=delete")
            con.close()

    def new_url(self, tmp_path: Path) -> str:
        if BACKEND == "postgres":
            name = f"gridapp_t_{self.run_id}_{next(self.counter)}"
            with _pg_admin() as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            self.created.append(name)
            return _pg_url(name)
        path = tmp_path / "gridapp.db"
        shutil.copyfile(self.template_path, path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        if BACKEND != "postgres":
            return
        name = urlparse(url).path.lstrip("/")
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.remove(name)

    def close(self) -> None:
        if BACKEND == "postgres":
            with _pg_admin() as conn:
                for name in list(self.created):
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"))
    yield factory
    factory.close()


@pytest.fixture
def database_url(database_factory: DatabaseFactory, tmp_path: Path) -> Iterator[str]:
    url = database_factory.new_url(tmp_path)
    yield url
    if not db.is_closed():
        db.close()
    if db.obj is not None:
        db.obj.close()
    database_factory.drop(url)


def app_config(tmp_path: Path, database_url: str, **extra: Any) -> dict[str, Any]:
    cfg = {
        "INSTANCE_PATH": tmp_path / "instance",
        "DATABASE_URL": database_url,
        "TESTING": True,
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "HUEY_IMMEDIATE": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        "REDIS_URL": None,
    }
    cfg.update(extra)
    return cfg


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """Override in a test module to change the app's config."""
    return {}


@pytest.fixture(autouse=True)
def _close_pools() -> Iterator[None]:
    """Every PostgreSQL pool a test made (its app's, a migration test's) is closed after it."""
    yield
    close_pools()


@pytest.fixture(autouse=True)
def _api_conformance() -> Iterator[None]:
    """Fail a test whose API answers do not match the OpenAPI document (``tests/conformance``):
    an undocumented status, an undeclared content type, a body off its schema."""
    from tests import conformance

    conformance.VIOLATIONS.clear()
    yield
    found = list(dict.fromkeys(conformance.VIOLATIONS))
    conformance.VIOLATIONS.clear()
    if found:
        pytest.fail(
            f"{len(found)} API answers off the OpenAPI document:\n" + "\n".join(found[:30]),
            pytrace=False,
        )


@pytest.fixture
def app(tmp_path: Path, database_url: str, app_overrides: dict[str, Any]) -> Iterator[Flask]:
    from tests import conformance

    application = create_app(app_config(tmp_path, database_url, **app_overrides))
    conformance.install(application)
    with application.app_context():
        db.connect(reuse_if_open=True)
        yield application
        if not db.is_closed():
            db.close()
    cache = application.extensions.get("gridapp.authcache")
    if cache is not None:
        cache.close()  # its connection for Redis's news of writes (gridapp/nearcache.py)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# ---- organisation factories -------------------------------------------------------------


class Org:
    """A small organisation: one street, two communities, three grids, one department."""

    def __init__(self) -> None:
        from gridapp.org.models import Community, Department, Grid, Street

        self.street = Street.create(name="测试街道", code="st")
        self.community = Community.create(street=self.street, name="东城水岸社区", code="c1")
        self.other_community = Community.create(street=self.street, name="天峰社区", code="c2")
        self.grid = Grid.create(community=self.community, name="第1网格", code="c1-01", sort=1)
        self.grid2 = Grid.create(community=self.community, name="第2网格", code="c1-02", sort=2)
        self.other_grid = Grid.create(
            community=self.other_community, name="第1网格", code="c2-01", sort=1
        )
        self.department = Department.create(name="水务公司", code="water", street=self.street)
        self.department2 = Department.create(name="供电公司", code="power", street=self.street)


@pytest.fixture
def org(app: Flask) -> Org:
    return Org()


_usernames = itertools.count(1)


@pytest.fixture
def make_user(app: Flask, org: Org) -> Callable[..., Any]:
    """``make_user("grid_worker", grids=[org.grid])`` → a saved user with password ``PASSWORD``."""
    from gridapp.accounts.service import NewUser, create_user

    def make(
        role: str = "grid_worker",
        *,
        grids=None,
        community=None,
        street=None,
        department=None,
        username: str | None = None,
        display_name: str = "",
        password: str = PASSWORD,
    ):
        if role == "grid_worker" and grids is None:
            grids = [org.grid]
        if role == "supervisor" and community is None and street is None:
            community = org.community
        if role == "department" and department is None:
            department = org.department
        name = username or f"{role}_{next(_usernames)}"
        return create_user(
            NewUser(
                username=name,
                password=password,
                display_name=display_name or name,
                role=role,
                grid_ids=tuple(g.id for g in grids or ()),
                community_id=community.id if community else None,
                street_id=street.id if street else None,
                department_id=department.id if department else None,
            )
        )

    return make


def csrf_token(client: FlaskClient) -> str:
    return client.get("/api/v1/auth/csrf").get_json()["csrf_token"]


def api_login(client: FlaskClient, username: str, password: str = PASSWORD) -> FlaskClient:
    """Log ``client`` in through the JSON API and make it send the CSRF header from then on."""
    token = csrf_token(client)
    resp = client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password},
        headers={"X-CSRFToken": token},
    )
    assert resp.status_code == 200, resp.get_json()
    client.environ_base["HTTP_X_CSRFTOKEN"] = resp.get_json()["csrf_token"]
    return client


@pytest.fixture
def login_as(app: Flask) -> Callable[[Any], FlaskClient]:
    """``login_as(user)`` → a fresh test client logged in as ``user`` (CSRF header set)."""

    def login(user: Any, password: str = PASSWORD) -> FlaskClient:
        return api_login(app.test_client(), user.username, password)

    return login


# ---- live server and the shared browser -------------------------------------------------


class LiveServer:
    def __init__(self, app: Flask) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(app)
    yield server
    server.stop()


CHROMIUM = os.environ.get("GRIDAPP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def push_until_shown(page, cdp, origin: str, registration_id: str, data: str, shown_js: str):
    """Deliver a push through CDP until the worker shows it, and return what it shows.

    CDP's push delivery is best effort: on a loaded machine a worker that is still starting
    can drop it, so the push is delivered again (the notification's tag makes a repeat replace,
    not add). A worker that never shows anything still fails after 30 s.
    """
    deadline = time.monotonic() + 30.0
    while True:
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": origin, "registrationId": registration_id, "data": data},
        )
        retry_at = min(deadline, time.monotonic() + 5.0)
        while time.monotonic() < retry_at:
            shown = page.evaluate(shown_js)
            if shown:
                return shown
            page.wait_for_timeout(200)
        assert time.monotonic() < deadline, "the worker showed no notification in 30 s"


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance):
    """One Chromium for the whole run (Debian's, no browser download)."""
    b = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    yield b
    b.close()


class UnfinishedWatch:
    """Answers a page fetched but never read to the end. Our JSON says ``no-store``, so the
    browser reads such a body only as the script does: one the script ignores stays open with
    its connection for the page's life (HTTP/1.1 allows six per host). ``static/pwa/http.js``
    ``drain`` is the fix; this watch, on every browser test's context, is what finds a missed one."""

    AGE = 2.0  # seconds after its headers: a test's bodies, read, finish within milliseconds

    def __init__(self, context) -> None:
        self.context = context
        self.open: dict[int, tuple[Any, float, Any]] = {}
        self.closed_at: dict[int, float] = {}
        self._handlers = [
            ("response", self._received),
            ("requestfinished", self._done),
            ("requestfailed", self._done),
            ("page", self._page),
        ]
        for event, handler in self._handlers:
            context.on(event, handler)
        for pg in context.pages:
            self._page(pg)
        # A test taking the network away cuts the requests then in flight: their bodies may
        # never finish, and that is the test's doing, not an answer left unread. So a cut forgets
        # what is open, and a request begun before the last cut is not watched.
        self._set_offline = context.set_offline
        self.last_cut = 0.0  # wall-clock seconds, as Playwright's request timing

        def set_offline(offline: bool) -> None:
            if offline:
                self.last_cut = time.time()
                self.open.clear()
            self._set_offline(offline)

        context.set_offline = set_offline

    def _page(self, pg) -> None:
        pg.once("close", lambda _: self.closed_at.setdefault(id(pg), time.monotonic()))

    def _received(self, response) -> None:
        # Only what a script fetched: a document's own loads are read by the browser. Of a
        # service worker's, only our API (its precache of static files may die with an install
        # a test cuts short). A closed page drops its requests without a word, hence its close
        # time in ``stuck``.
        request = response.request
        if request.resource_type not in ("fetch", "xhr"):
            return
        if request.timing.get("startTime", 0) / 1000 <= self.last_cut + 1.0:
            return
        if request.service_worker is None:
            self.open[id(request)] = (request, time.monotonic(), request.frame.page)
        elif urlparse(request.url).path.startswith("/api/"):
            self.open[id(request)] = (request, time.monotonic(), None)

    def _done(self, request) -> None:
        self.open.pop(id(request), None)

    def stuck(self) -> list[str]:
        now = time.monotonic()
        return sorted(
            f"{r.method} {urlparse(r.url).path}"
            for r, t, pg in self.open.values()
            if self.closed_at.get(id(pg), now) - t > self.AGE
        )

    def _waiting(self) -> bool:
        """Whether a body may still finish: its page is open (a closed page's never will)."""
        return any(pg is None or id(pg) not in self.closed_at for _, _, pg in self.open.values())

    def _pump(self, seconds: float) -> None:
        """Let Playwright deliver its events: the sync API dispatches them only inside its own
        calls, so a plain ``time.sleep`` would leave a body that finished unseen (CI's one
        error in stop 23 was exactly that)."""
        live = [pg for pg in self.context.pages if not pg.is_closed()]
        if live:
            live[0].wait_for_timeout(seconds * 1000)
        else:
            time.sleep(seconds)
            self.context.cookies()  # a round trip: the events that came meanwhile are dispatched

    def check(self) -> None:
        """Give a body that is merely late its time, then name every one still unread."""
        deadline = time.monotonic() + self.AGE + 1.0
        while time.monotonic() < deadline and not self.stuck() and self._waiting():
            self._pump(0.2)
        self._pump(0)  # a body that finished meanwhile: its event, not a sleep's silence
        for event, handler in self._handlers:
            self.context.remove_listener(event, handler)
        self.context.set_offline = self._set_offline
        stuck = self.stuck()
        assert not stuck, f"answers received but never read to the end: {stuck}"


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740})
    watch = UnfinishedWatch(context)
    pg = context.new_page()
    yield pg
    watch.check()
    context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
