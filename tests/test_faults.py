"""Faults a deployment meets: PostgreSQL connections killed under a running app, Redis stopped and
started under the web and the jobs, a job consumer killed mid-job. (Push-service failures:
tests/notifications/test_delivery*.py — retries with backoff and Retry-After, recorded failures.)"""

from __future__ import annotations

import pytest

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
