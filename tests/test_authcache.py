"""The session cache (gridapp/accounts/authcache.py): a cached session sends no statement, and
every change to what it read, made in another process, through any path, ends or changes it
before that change's request answers. Two app instances share the database and Redis, as two
gunicorn processes do; tests/test_deployment.py runs the same across real processes."""

from __future__ import annotations

import re
import uuid

import pytest

from gridapp.accounts import authcache
from tests.conftest import PASSWORD, REDIS_URL, api_login, app_config


@pytest.fixture
def app_overrides():
    return {
        "REDIS_URL": REDIS_URL,
        "AUTH_CACHE_PREFIX": f"gridapp-test:{uuid.uuid4().hex}:",
        "QUERY_COUNT_HEADER": True,
    }


@pytest.fixture
def other(app, tmp_path, database_url, app_overrides):
    """A second process: the same database, Redis, secret key (same instance folder)."""
    from gridapp import create_app

    return create_app(app_config(tmp_path, database_url, **app_overrides))


def moved(client, to_app):
    """The same browser talking to another process."""
    twin = to_app.test_client()
    twin.set_cookie("session", client.get_cookie("session").value)
    twin.environ_base.update(client.environ_base)
    return twin


def queries(resp) -> int:
    return int(resp.headers["X-Query-Count"])


# ---- which statements end cached sessions ------------------------------------------------


def _sql(query) -> str:
    from gridapp.db import db

    return db.get_sql_context().sql(query).query()[0]


def test_the_statements_that_end_cached_sessions(app, org):
    from gridapp.accounts.models import UserSession
    from gridapp.db import utcnow
    from gridapp.org.models import Grid, User, UserGrid

    now = utcnow()
    ends = {
        "revoke": UserSession.update(revoked_at=now).where(UserSession.id == 1),
        "rotate": UserSession.update(token_hash="x", prev_hash="y", last_seen_at=now).where(
            UserSession.id == 1
        ),
        "delete session": UserSession.delete().where(UserSession.id == 1),
        "disable": User.update(is_active=False, version=User.version + 1).where(User.id == 1),
        "role": User.update(role="supervisor").where(User.id == 1),
        "locale": User.update(locale="en").where(User.id == 1),
        "login rehash": User.update(last_login_at=now, password_hash="h").where(User.id == 1),
        "delete user": User.delete().where(User.id == 1),
        "grid given": UserGrid.insert(user=1, grid=1),
        "grid taken": UserGrid.delete().where(UserGrid.user == 1),
        "grid renamed": Grid.update(name="新").where(Grid.id == 1),
        "grid upsert": User.insert(id=1, username="u", password_hash="h", role="admin").on_conflict(
            conflict_target=[User.id], update={User.role: "admin"}
        ),
    }
    passes = {
        "touch": UserSession.update(last_seen_at=now, idle_expires_at=now).where(
            UserSession.id == 1, UserSession.last_seen_at == now
        ),
        "new session": UserSession.insert(
            token_hash="t", user=1, idle_expires_at=now, expires_at=now
        ),
        "new user": User.insert(username="u", password_hash="h", role="admin"),
        "login stamp": User.update(last_login_at=now).where(User.id == 1),
        "sync stamp": User.update(last_sync_at=now).where(User.id == 1),
        "a session read": UserSession.select().where(UserSession.revoked_at.is_null()),
        "another table": Grid.select().join(UserGrid).where(UserGrid.user == 1),
    }
    for name, query in ends.items():
        assert authcache.statement_invalidates(_sql(query)), name
    for name, query in passes.items():
        assert not authcache.statement_invalidates(_sql(query)), name
    # Written by hand, or by a driver-specific path: conservative.
    for sql in (
        'WITH x AS (SELECT 1) UPDATE "user" SET "last_sync_at" = now()',
        'INSERT OR REPLACE INTO "user_grid" ("user_id", "grid_id") VALUES (?, ?)',
        "update user_session set revoked_at = now()",
        'DELETE FROM "grid"',
        'UPDATE "user" SET role = %s, "last_sync_at" = %s WHERE id = 1',  # an unquoted column
        'UPDATE "user" SET "last_sync_at" = now(), "role" = %s',
        'UPDATE "user_session" SET "last_seen_at" = (SELECT 1) WHERE "id" = 1',
        'UPDATE ONLY "user_session" SET "revoked_at" = now()',
        'UPDATE public."user" SET "is_active" = false',
        'TRUNCATE "user_session"',
        'MERGE INTO "user_grid" USING x ON true WHEN MATCHED THEN DELETE',
    ):
        assert authcache.statement_invalidates(sql), sql
    assert not authcache.statement_invalidates('UPDATE "household" SET "phone" = ?')
    assert not authcache.statement_invalidates('SELECT 1 FROM "user" FOR UPDATE OF "user"')


def test_the_watched_tables_are_the_ones_the_session_query_reads(app):
    """A new table joined into the session lookup must be watched, or its changes would not
    end cached sessions."""
    from gridapp.accounts.sessions import _session_query

    sql = _sql(_session_query("token_hash", "h"))
    read = set(re.findall(r'(?:FROM|JOIN)\s+"(\w+)"', sql))
    assert read == set(authcache.WATCHED)


# ---- two processes ---------------------------------------------------------------------


def _mutations():
    """Each: (what, do(actor, user, client_on_a), expect(response on B) -> bool)."""
    from gridapp.accounts.service import set_password
    from gridapp.accounts.sessions import revoke_user_sessions
    from gridapp.org.service import admin_set_active, save_grid, set_worker_grids

    def gone(resp, org):
        return resp.status_code == 401

    return [
        ("logout through A", lambda adm, u, c, o: c.post("/api/v1/auth/logout"), gone),
        (
            "revoked by a job (no request)",
            lambda adm, u, c, o: revoke_user_sessions(u.id, reason="test"),
            gone,
        ),
        (
            "password reset",
            lambda adm, u, c, o: set_password(u, "another-pass-2"),
            gone,
        ),
        ("disabled", lambda adm, u, c, o: admin_set_active(adm, u.id, False), gone),
        (
            "grids changed",
            lambda adm, u, c, o: set_worker_grids(adm, u.id, [o.grid2.id]),
            lambda r, o: [g["id"] for g in r.get_json()["grids"]] == [o.grid2.id],
        ),
        (
            "grid renamed",
            lambda adm, u, c, o: save_grid(
                adm, o.grid.id, community_id=o.community.id, name="滨河网格", code="c1-01"
            ),
            lambda r, o: r.get_json()["grids"][0]["name"] == "滨河网格",
        ),
        (
            "language chosen through A",
            lambda adm, u, c, o: c.put("/api/v1/me/locale", json={"locale": "en"}),
            lambda r, o: r.get_json()["locale"] == "en",
        ),
    ]


CASES = ["logout", "job-revoke", "password", "disabled", "grids", "grid-renamed", "locale"]


@pytest.mark.parametrize("case", range(len(CASES)), ids=CASES)
def test_a_cached_session_sees_every_change_made_in_another_process(
    case, app, other, org, make_user
):
    what, do, expect = _mutations()[case]
    admin = make_user("admin")
    worker = make_user("grid_worker", grids=[org.grid])
    on_a = api_login(app.test_client(), worker.username, PASSWORD)
    on_b = moved(on_a, other)

    first = on_b.get("/api/v1/me")
    assert first.status_code == 200
    again = on_b.get("/api/v1/me")
    assert again.status_code == 200 and queries(again) == 0, "B answers from its cache"

    do(admin, worker, on_a, org)

    after = on_b.get("/api/v1/me")
    assert expect(after, org), (what, after.status_code, after.get_json())


def test_a_warm_pull_from_cache_stamps_the_sync_once(app, org, make_user):
    worker = make_user("grid_worker", grids=[org.grid])
    client = api_login(app.test_client(), worker.username, PASSWORD)
    body = client.get("/api/v1/sync").get_json()
    while body["more"]:
        body = client.get("/api/v1/sync", query_string={"cursor": body["cursor"]}).get_json()
    counts = [
        queries(client.get("/api/v1/sync", query_string={"cursor": body["cursor"]}))
        for _ in range(3)
    ]
    assert counts[1:] == [1, 1], counts  # the pull itself; last_sync_at written once


def test_a_fill_that_raced_a_write_is_never_used(app):
    cache = authcache.cache()
    generation, _ = cache.lookup("h")
    entry = authcache.Entry("", {}, {"id": 1}, [])
    cache.changed()  # a write committed after our read of the generation, before our fill
    cache.put("h", generation, entry)
    assert cache.lookup("h")[1] is None
    current, _ = cache.lookup("h")
    cache.put("h", current, entry)
    assert cache.lookup("h")[1] == entry


def test_entries_decoded_once_per_bytes_and_each_request_gets_its_own_copy(app, monkeypatch):
    """The decode memo (``AuthCache._decode``): the same bytes are parsed once, yet what one
    request changes in its entry (the touch, ``note_stamp``) never reaches the next request's,
    and other bytes under the same key are read afresh."""
    cache = authcache.cache()
    generation, _ = cache.lookup("h")
    cache.put("h", generation, authcache.Entry("", {"last_seen_at": "t0"}, {"id": 1}, [[1]]))
    parsed = []
    real = authcache.Entry.decode
    monkeypatch.setattr(
        authcache.Entry, "decode", classmethod(lambda cls, raw: parsed.append(raw) or real(raw))
    )
    first = cache.lookup("h")[1]
    first.user["last_sync_at"] = "changed by request one"
    first.session["last_seen_at"] = "t1"
    first.derived["rows"] = "typed once"
    second = cache.lookup("h")[1]
    assert len(parsed) == 1
    assert second.user == {"id": 1} and second.session == {"last_seen_at": "t0"}
    assert second.derived == {"rows": "typed once"}  # derived from the same bytes: shared
    cache.put("h", generation, first)  # new bytes under the same key
    third = cache.lookup("h")[1]
    assert len(parsed) == 2
    assert third.user["last_sync_at"] == "changed by request one" and third.derived == {}


def test_the_password_hash_is_never_kept(app, org, make_user):
    worker = make_user("grid_worker", grids=[org.grid])
    client = api_login(app.test_client(), worker.username, PASSWORD)
    assert client.get("/api/v1/me").status_code == 200
    cache = authcache.cache()
    kept = [cache.r.get(k) for k in cache.r.scan_iter(cache.entry_prefix + "*")]
    assert kept and all(b"password_hash" not in raw for raw in kept)
    assert all(worker.username.encode() in raw for raw in kept)


def test_redis_unreachable_reads_the_session_every_time(
    app, tmp_path, database_url, org, make_user
):
    from bench._recipe import free_port
    from gridapp import create_app

    down = create_app(
        app_config(
            tmp_path,
            database_url,
            REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
            QUERY_COUNT_HEADER=True,
        )
    )
    worker = make_user("grid_worker", grids=[org.grid])
    client = api_login(down.test_client(), worker.username, PASSWORD)
    for _ in range(2):
        resp = client.get("/api/v1/me")
        assert resp.status_code == 200 and queries(resp) == 1
    with down.app_context():
        cache = authcache.cache()
        cache.changed()
        assert cache.owed, "a generation that could not be written is owed"
        assert cache.lookup("h") == (None, None)


def test_every_write_path_reaches_the_watchers(app, org, make_user):
    """Statements go through ``execute_sql`` (watched); the bulk path (``insert_rows``: COPY or
    executemany) tells the watchers itself. A new direct cursor elsewhere must be looked at."""
    from pathlib import Path

    from gridapp.db import insert_rows
    from gridapp.org.models import UserGrid

    root = Path(__file__).resolve().parent.parent / "gridapp"
    direct = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if "db.cursor()" in path.read_text(encoding="utf-8")
    )
    # db.py itself; the demo seeders' executemany on notifications and households (unwatched).
    assert direct == ["db.py", "demo_history.py", "demo_visits.py"], direct

    worker = make_user("grid_worker", grids=[org.grid])
    cache = authcache.cache()
    before, _ = cache.lookup("h")
    insert_rows(UserGrid, ["user_id", "grid_id"], [(worker.id, org.grid2.id)])
    after, _ = cache.lookup("h")
    assert after != before, "a bulk insert of user grids makes a new generation"


def test_redis_refusing_is_like_redis_unreachable(app, org, make_user):
    """Redis answering with an error (here WRONGTYPE: the generation's key holds a list; out of
    memory or a read-only replica answer the same way) must not fail the request."""
    worker = make_user("grid_worker", grids=[org.grid])
    client = api_login(app.test_client(), worker.username, PASSWORD)
    cache = authcache.cache()
    cache.r.delete(cache.gen_key)
    cache.r.rpush(cache.gen_key, "not a generation")
    try:
        for _ in range(2):
            resp = client.get("/api/v1/me")
            assert resp.status_code == 200 and queries(resp) == 1
        cache.changed()  # SET replaces the list: the cache works again
        client.get("/api/v1/me")
        assert queries(client.get("/api/v1/me")) == 0
    finally:
        cache.r.delete(cache.gen_key)


@pytest.mark.parametrize(
    "app_overrides",
    [
        {
            "REDIS_URL": REDIS_URL,
            "AUTH_CACHE_PREFIX": f"gridapp-test:{uuid.uuid4().hex}:",
            "QUERY_COUNT_HEADER": True,
            "AUTH_CACHE_LOCAL_SECONDS": 0,  # every lookup on the thread's connection
        }
    ],
)
def test_a_dropped_redis_connection_costs_one_database_read(app, org, make_user):
    """Each thread keeps its own Redis connection for the lookup. Closed under it by the server
    (Redis restarted, a proxy's idle timeout), one request reads its session from the database
    and the next is served from the cache again, on a new connection."""
    worker = make_user("grid_worker", grids=[org.grid])
    client = api_login(app.test_client(), worker.username, PASSWORD)
    client.get("/api/v1/me")
    assert queries(client.get("/api/v1/me")) == 0
    cache = authcache.cache()
    conn = cache._local.conn
    conn.send_command("CLIENT", "ID")
    assert cache.r.client_kill_filter(_id=conn.read_response()) == 1
    resp = client.get("/api/v1/me")
    assert resp.status_code == 200 and queries(resp) == 1
    resp = client.get("/api/v1/me")
    assert resp.status_code == 200 and queries(resp) == 0
    assert cache._local.conn is conn  # the same object, connected afresh


def test_a_session_read_from_the_database_with_its_touch_due_is_left_in_one_write(
    app, org, make_user, monkeypatch
):
    """The first request of a phone's burst often finds its entry expired and its touch due:
    the entry it leaves for the next request is written once, already touched."""
    import datetime as dt

    from gridapp.accounts.models import UserSession

    worker = make_user("grid_worker", grids=[org.grid])
    client = api_login(app.test_client(), worker.username, PASSWORD)
    assert client.get("/api/v1/me").status_code == 200
    cache = authcache.cache()
    (key,) = list(cache.r.scan_iter(cache.entry_prefix + "*"))
    cache.r.delete(key)  # expired
    row = UserSession.get()
    UserSession.update(last_seen_at=row.last_seen_at - dt.timedelta(minutes=2)).execute()
    puts = []
    real_put = authcache.AuthCache.put
    monkeypatch.setattr(
        authcache.AuthCache, "put", lambda self, *a: (puts.append(a), real_put(self, *a))[1]
    )
    resp = client.get("/api/v1/me")
    assert resp.status_code == 200 and queries(resp) == 2  # the session read, the touch
    assert len(puts) == 1
    seen = UserSession.get().last_seen_at
    assert authcache.Entry.decode(cache.r.get(key)).session["last_seen_at"] == seen.isoformat()
    resp = client.get("/api/v1/me")
    assert resp.status_code == 200 and queries(resp) == 0 and len(puts) == 1
