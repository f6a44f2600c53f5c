"""Faults a deployment meets: PostgreSQL connections killed under a running app, Redis stopped and
started under the web and the jobs, a job consumer killed mid-job. (Push-service failures:
tests/notifications/test_delivery*.py — retries with backoff and Retry-After, recorded failures.)"""

from __future__ import annotations

import pytest
from peewee import fn

from tests.conftest import BACKEND

pg_only = pytest.mark.skipif(BACKEND != "postgres", reason="PostgreSQL connections")


def _terminate_app_backends(database_url: str) -> int:
    """pg_terminate_backend on every connection to the test's database (the app's pool)."""
    from urllib.parse import urlparse

    from tests.conftest import _pg_admin

    name = urlparse(database_url).path.lstrip("/")
    with _pg_admin() as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


@pg_only
def test_pooled_connections_killed_between_requests_fail_no_request(
    app, database_url, make_user, login_as
):
    import threading

    from gridapp.db import db

    client = login_as(make_user("grid_worker"))
    db.close()  # the fixture's own connection goes back to the pool too
    # Fill the pool with several idle connections (one per thread), then kill them all.
    barrier = threading.Barrier(4)

    def hold() -> None:
        with app.app_context():
            db.connect(reuse_if_open=True)
            barrier.wait()
            db.execute_sql("SELECT 1")
            db.close()

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _terminate_app_backends(database_url) >= 4
    for _ in range(6):  # every request after the kill: no 500, the same answer
        assert client.get("/api/v1/me").status_code == 200
    _terminate_app_backends(database_url)
    r = client.put("/api/v1/me/locale", json={"locale": "en"})  # a write after the next kill
    assert r.status_code == 200, r.get_data(as_text=True)
    db.connect(reuse_if_open=True)


@pg_only
def test_a_connection_killed_inside_a_transaction_is_not_retried(app, database_url):
    """Only a connection's *first* statement is retried: after that, part of the work may have
    happened, so the failure surfaces (and the transaction rolls back)."""
    from peewee import InterfaceError, OperationalError

    from gridapp.db import db
    from gridapp.org.models import Street

    with pytest.raises((OperationalError, InterfaceError)), db.atomic():
        Street.create(name="一", code="s1")
        _terminate_app_backends(database_url)
        Street.create(name="二", code="s2")
    db.close()
    db.connect()
    assert Street.select().count() == 0


# ---- Redis stopped and started ---------------------------------------------------------------


class PrivateRedis:
    """A redis-server of our own on a loopback port, so stopping it disturbs no one else."""

    def __init__(self, workdir) -> None:
        import shutil

        from bench._recipe import free_port

        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.proc = None

    def start(self) -> None:
        import subprocess
        import time

        import redis

        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_timeout=1).ping()
                return
            except redis.exceptions.ConnectionError:
                assert time.monotonic() < deadline, "private redis-server did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis(tmp_path):
    import shutil

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_overrides(request):
    if "private_redis" not in request.fixturenames:
        return {}
    server = request.getfixturevalue("private_redis")
    return {
        "HUEY_IMMEDIATE": False,
        "REDIS_URL": server.url,
        "RATELIMIT_STORAGE_URI": server.url,
        "LOGIN_RATE_LIMIT": "3 per minute",
    }


def _consumer(app, database_url, redis_url, log=None):
    import os
    import subprocess
    import sys

    env = dict(
        os.environ,
        GRIDAPP_INSTANCE=app.instance_path,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "gridapp.cli", "worker", "--workers", "1"],
        env=env,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(predicate, seconds: float, what: str) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pg_only
def test_redis_stopped_and_started(private_redis, app, database_url, org, make_user, login_as):
    """The web keeps serving with Redis down; rate limits fall back to each process's memory and
    jobs queued meanwhile are dropped (logged), then both recover when Redis is back."""
    import redis

    from gridapp.db import db
    from gridapp.notifications.announcements import resume_pending_job
    from gridapp.notifications.models import Announcement

    make_user("grid_worker", grids=[org.grid], username="w1")
    sup = login_as(make_user("supervisor", community=org.community))
    consumer = _consumer(app, database_url, private_redis.url)
    try:

        def announce(title: str) -> int:
            r = sup.post("/api/v1/announcements", json={"title": title, "grid_ids": [org.grid.id]})
            assert r.status_code == 202, r.get_data(as_text=True)
            return r.get_json()["id"]

        def status(aid: int) -> str:
            db.close()  # see the consumer's commits
            db.connect()
            return Announcement.get_by_id(aid).status

        def wrong_login() -> int:
            r = sup.post("/api/v1/auth/login", json={"username": "w1", "password": "nope-nope"})
            return r.status_code

        up = announce("一")
        _wait(lambda: status(up) == "done", 60, "the consumer never ran the fan-out")

        private_redis.stop()
        assert sup.get("/api/v1/me").status_code == 200
        health = sup.get("/healthz")
        assert health.status_code == 503 and "error" in health.get_json()["checks"]["queue"]
        down = announce("二")  # committed; its job is dropped, not the request
        assert [wrong_login() for _ in range(4)] == [401, 401, 401, 429]  # in this process

        private_redis.start()
        again = announce("三")
        _wait(lambda: status(again) == "done", 60, "jobs did not recover with Redis")
        assert status(down) == "pending"
        # The periodic sweep (every 5 minutes) fans out what was lost.
        Announcement.update(
            created_at=Announcement.get_by_id(down).created_at.replace(year=2000)
        ).where(Announcement.id == down).execute()
        assert resume_pending_job.call_local() == 1 and status(down) == "done"

        # Rate limits go back to Redis (the limiter re-checks it with a backoff of seconds).
        limits = redis.Redis.from_url(private_redis.url)
        _wait(
            lambda: wrong_login() and any(limits.scan_iter("LIMITS*")),
            30,
            "rate limits never went back to Redis",
        )
    finally:
        consumer.terminate()
        consumer.wait(timeout=15)


# ---- a job consumer killed mid-job ---------------------------------------------------------------


def _hold_write_lock(database_url: str):
    """A connection that keeps the consumer from writing inbox rows until it is closed."""
    if BACKEND == "postgres":
        import psycopg

        conn = psycopg.connect(database_url)
        conn.execute("LOCK TABLE notification IN SHARE MODE")
        return conn
    import sqlite3
    from urllib.parse import unquote, urlparse

    conn = sqlite3.connect(unquote(urlparse(database_url).path), isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_consumer_killed_mid_fanout_runs_it_again_once(
    private_redis, app, database_url, org, make_user, login_as, tmp_path
):
    """SIGKILL the consumer in the middle of an announcement's fan-out (held at its first write):
    huey on Redis has already taken the job off the queue, so it is lost with the process; the
    periodic sweep runs it again, and every recipient ends with exactly one inbox row."""
    import signal
    import time

    from bench.morning import _bulk
    from gridapp.db import db, reserve_ids
    from gridapp.jobs import huey
    from gridapp.notifications.announcements import resume_pending_job
    from gridapp.notifications.models import Announcement, Notification
    from gridapp.org.models import User, UserGrid

    n = 600
    with db.atomic():
        ids = reserve_ids(User, n)
        _bulk(
            User,
            [
                {"id": u, "username": f"bulk{u}", "password_hash": "x", "display_name": "x"}
                | {"role": "grid_worker"}
                for u in ids
            ],
        )
        _bulk(UserGrid, [{"user": u, "grid": org.grid.id} for u in ids])
    sup = login_as(make_user("supervisor", community=org.community))

    def announce() -> int:
        r = sup.post("/api/v1/announcements", json={"title": "停水", "grid_ids": [org.grid.id]})
        return r.get_json()["id"]

    log = tmp_path / "consumer.log"
    out = log.open("wb")  # closed below, once the consumer is gone
    if BACKEND == "sqlite":  # the request itself needs SQLite's write lock: queue the job first
        aid = announce()
        db.close()
        lock = _hold_write_lock(database_url)
        consumer = _consumer(app, database_url, private_redis.url, out)
    else:  # the consumer's start-up reads the tables: lock once it is running
        consumer = _consumer(app, database_url, private_redis.url, out)
        _wait(lambda: b"consumer started" in log.read_bytes(), 60, "the consumer never started")
        db.close()
        lock = _hold_write_lock(database_url)
        db.connect()
        aid = announce()
        db.close()
    try:
        _wait(lambda: huey.pending_count() == 0, 60, "the consumer never took the job")
        time.sleep(1.0)  # into the job, waiting at its first write
        consumer.send_signal(signal.SIGKILL)
        consumer.wait(timeout=10)
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait(timeout=10)
        lock.close()
        out.close()
    db.connect()
    assert Notification.select().where(Notification.announcement == aid).count() == 0
    assert Announcement.get_by_id(aid).status == "pending" and huey.pending_count() == 0
    Announcement.update(created_at=Announcement.get_by_id(aid).created_at.replace(year=2000)).where(
        Announcement.id == aid
    ).execute()
    assert resume_pending_job.call_local() == 1
    assert resume_pending_job.call_local() == 0  # done: not again
    rows = Notification.select().where(Notification.announcement == aid)
    assert rows.count() == n
    twice = (
        Notification.select(Notification.recipient)
        .where(Notification.announcement == aid)
        .group_by(Notification.recipient)
        .having(fn.COUNT(Notification.id) > 1)
    )
    assert not twice.exists()
    assert Announcement.get_by_id(aid).status == "done"
