"""The README's "Running at scale" recipe, started as written (tests/../bench/_recipe.py reads it
from the README): a fresh PostgreSQL database, Redis, ``gridapp db upgrade``, two gunicorn
processes from gunicorn.conf.py without ``--preload``, one ``gridapp worker``. A flow crosses the
processes, so anything one process kept in its own memory would show.

Runs in the PostgreSQL pass (``GRIDAPP_TEST_DB=postgres``: the scale-out configuration), and fails
there when PostgreSQL or Redis cannot be reached.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from bench._recipe import Recipe, drop_pg_database, free_port, fresh_pg_database, reachable
from tests.conftest import BACKEND, PASSWORD, REDIS_URL

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(
        BACKEND != "postgres", reason="the scale-out recipe runs in the PostgreSQL pass"
    ),
]


def seed(database_url: str, tmp: Path) -> SimpleNamespace:
    """A street, a community, a grid with one household, and the people of the flow."""
    from gridapp import create_app
    from gridapp.accounts.service import NewUser, create_user
    from gridapp.changes import record_change
    from gridapp.db import close_pools, db
    from gridapp.org.models import Community, Grid, Street
    from gridapp.registry.models import Building, Household

    app = create_app(
        {
            "INSTANCE_PATH": tmp / "seed",
            "DATABASE_URL": database_url,
            "HUEY_IMMEDIATE": True,
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    ns = SimpleNamespace()
    with app.app_context(), db.connection_context():
        street = Street.create(name="高新区", code="gx")
        community = Community.create(street=street, name="东城水岸社区", code="dc")
        grid = Grid.create(community=community, name="第1网格", code="dc-01", sort=1)

        def user(name: str, role: str, **kw) -> int:
            return create_user(
                NewUser(username=name, password=PASSWORD, display_name=name, role=role, **kw)
            ).id

        ns.worker_id = user("w01", "grid_worker", grid_ids=(grid.id,))
        user("sup", "supervisor", community_id=community.id)
        user("admin", "admin")
        with db.atomic():
            b = Building.create(grid=grid, name="1栋")
            record_change("building", b.id, grid_id=grid.id)
            h = Household.create(grid=grid, building=b, room="101")
            record_change("household", h.id, grid_id=grid.id)
        ns.grid_id, ns.household_id = grid.id, h.id
    close_pools()
    return ns


def login(base: str, username: str, session: requests.Session | None = None) -> requests.Session:
    s = session or requests.Session()
    token = s.get(base + "/api/v1/auth/csrf", timeout=10).json()["csrf_token"]
    r = s.post(
        base + "/api/v1/auth/login",
        json={"username": username, "password": PASSWORD},
        headers={"X-CSRFToken": token},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    s.headers["X-CSRFToken"] = r.json()["csrf_token"]
    return s


def pull_all(s: requests.Session, base: str) -> dict:
    rows, cursor = {}, None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        r = s.get(base + "/api/v1/sync", params=params, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        rows.update({(x["entity"], x["id"]): x["data"] for x in body["rows"]})
        cursor = body["cursor"]
        if not body["more"]:
            return rows


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[SimpleNamespace]:
    why = reachable(pg=True, redis_url=REDIS_URL)
    if why:  # the PostgreSQL pass promises both engines: a missing one is a failure, not a skip
        pytest.fail(why)
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    name, url = fresh_pg_database()
    recipe = Recipe(
        {
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "GRIDAPP_SECRET_KEY": uuid.uuid4().hex,
            "GRIDAPP_INSTANCE": str(tmp_path / "instance"),
            "GRIDAPP_WEB_WORKERS": "2",
            "GRIDAPP_SECURE_COOKIES": "0",  # plain http on loopback
        },
        tmp_path / "logs",
    )
    try:
        recipe.upgrade()
        ns = seed(url, tmp_path)
        ns.a = recipe.start_web("web-a", free_port())
        ns.b = recipe.start_web("web-b", free_port())
        recipe.start_worker()
        recipe.wait_ready()
        ns.recipe = recipe
        yield ns
    finally:
        recipe.stop()
        drop_pg_database(name)
        redis.Redis.from_url(REDIS_URL).flushdb()


def test_readme_recipe_serves_one_city_across_processes(deployment):
    d = deployment
    a, b = d.a, d.b
    worker = login(a, "w01")

    # A visit pushed through A is pulled through B (the cookie signed by A is good on B).
    vid = str(uuid.uuid4())
    op = {
        "op_id": str(uuid.uuid4()),
        "type": "visit.create",
        "payload": {
            "id": vid,
            "household_id": d.household_id,
            "mode": "home",
            "notes": "量了血压",
            "visited_at": "2026-01-05T02:00:00Z",
        },
    }
    r = worker.post(a + "/api/v1/sync", json={"ops": [op]}, timeout=30)
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "applied", r.text
    assert pull_all(worker, b)[("visit", vid)]["notes"] == "量了血压"

    # A job queued through B (an announcement's fan-out) is run by the separate worker process.
    sup = login(b, "sup")
    r = sup.post(
        b + "/api/v1/announcements",
        json={"title": "明早停水", "grid_ids": [d.grid_id]},
        timeout=30,
    )
    assert r.status_code == 202 and r.json()["status"] == "pending", r.text
    aid = r.json()["id"]
    deadline = time.monotonic() + 30
    while True:
        mine = [
            x for x in sup.get(a + "/api/v1/announcements", timeout=10).json() if x["id"] == aid
        ]
        if mine and mine[0]["status"] == "done":
            break
        assert time.monotonic() < deadline, f"fan-out never ran: {d.recipe.log('worker')}"
        time.sleep(0.3)
    assert mine[0]["recipients"] == 1
    notes = [v for (e, _), v in pull_all(worker, a).items() if e == "notification"]
    assert [n["title"] for n in notes] == ["明早停水"]

    # A login throttled across both: failures counted in Redis by whichever process heard them.
    guesser = requests.Session()
    token = guesser.get(a + "/api/v1/auth/csrf", timeout=10).json()["csrf_token"]

    def attempt(base: str, password: str) -> requests.Response:
        return guesser.post(
            base + "/api/v1/auth/login",
            json={"username": "w01", "password": password},
            headers={"X-CSRFToken": token},
            timeout=30,
        )

    codes = []
    for i in range(40):  # 5 free failures, then a growing back-off (1, 2, 4 … s)
        r = attempt((a, b)[i % 2], f"guess-{i}")
        codes.append(r.status_code)
        if r.status_code == 429 and int(r.headers["Retry-After"]) >= 2:
            break
        if r.status_code == 429:
            time.sleep(float(r.headers["Retry-After"]) + 0.1)
    assert codes[:5] == [401] * 5, codes
    assert codes[-1] == 429, codes
    for base in (a, b):  # even the right password, on either process, waits
        assert attempt(base, PASSWORD).status_code == 429

    # A session ended on one process is dead on the other, the kept cookie included.
    sup2 = login(b, "sup")
    kept = dict(sup2.cookies)
    assert sup2.get(b + "/api/v1/me", timeout=10).status_code == 200
    assert sup2.post(a + "/api/v1/auth/logout", timeout=10).status_code == 200
    assert sup2.get(b + "/api/v1/me", timeout=10).status_code == 401
    replay = requests.Session()
    replay.cookies.update(kept)
    assert replay.get(b + "/api/v1/me", timeout=10).status_code == 401
    assert replay.get(a + "/api/v1/me", timeout=10).status_code == 401
    # … and an admin's password reset through B ends the worker's session everywhere.
    assert worker.get(a + "/api/v1/me", timeout=10).status_code == 200
    admin = login(b, "admin")
    r = admin.post(
        b + f"/console/admin/users/{d.worker_id}",
        data={"op": "password", "password": "a-new-password-1"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 302, r.text[:500]
    assert worker.get(a + "/api/v1/me", timeout=10).status_code == 401
    assert worker.get(b + "/api/v1/me", timeout=10).status_code == 401
